"""orders: the order line a released amount was for (invoicing leaves it out)

Revision ID: orders_0006
Revises: orders_0005
Create Date: 2026-12-04 00:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'orders_0006'
down_revision = 'orders_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_no', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.drop_column('line_no')
