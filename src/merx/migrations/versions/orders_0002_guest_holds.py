"""orders: hold expiry and client address key of guests' pay-later orders

Revision ID: orders_0002
Revises: orders_0001
Create Date: 2026-12-03 13:50:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'orders_0002'
down_revision = 'orders_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_expires_at', merx.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hold_address', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_hold_address'), ['hold_address'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_hold_expires_at'), ['hold_expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_hold_expires_at'))
        batch_op.drop_index(batch_op.f('ix_orders_hold_address'))
        batch_op.drop_column('hold_address')
        batch_op.drop_column('hold_expires_at')
