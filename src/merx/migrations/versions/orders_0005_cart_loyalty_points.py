"""orders: loyalty points a cart will spend at checkout

Revision ID: orders_0005
Revises: orders_0004
Create Date: 2026-12-03 20:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'orders_0005'
down_revision = 'orders_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('loyalty_points', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_column('loyalty_points')
