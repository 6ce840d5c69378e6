"""credit notes to an account, not on one order (a dealer's yearly rebate): order nullable, reference

Revision ID: invoicing_0002
Revises: invoicing_0001
Create Date: 2026-12-04 00:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'invoicing_0002'
down_revision = 'invoicing_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoicing_documents', schema=None) as batch_op:
        batch_op.alter_column('order_id', existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column('order_number', existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column('reference', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoicing_documents', schema=None) as batch_op:
        batch_op.drop_column('reference')
        batch_op.alter_column('order_number', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('order_id', existing_type=sa.BigInteger(), nullable=False)
