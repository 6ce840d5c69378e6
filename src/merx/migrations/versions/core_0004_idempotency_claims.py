"""idempotency claims: token, committed resource

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-03 13:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('resource_type', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resource_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_column('resource_id')
        batch_op.drop_column('resource_type')
        batch_op.drop_column('claim_token')
