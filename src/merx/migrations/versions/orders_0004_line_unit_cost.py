"""orders: the unit cost landed on each order line at the time of sale

Revision ID: orders_0004
Revises: orders_0003
Create Date: 2026-12-03 19:50:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'orders_0004'
down_revision = 'orders_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_cost_minor', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('unit_cost_minor')
