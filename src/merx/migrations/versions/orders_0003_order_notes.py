"""orders: staff notes on an order

Revision ID: orders_0003
Revises: orders_0002
Create Date: 2026-12-03 16:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'orders_0003'
down_revision = 'orders_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_user_id', sa.BigInteger(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_notes_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_notes'))
    )
    with op.batch_alter_table('order_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_notes_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_notes_order_id'))
    op.drop_table('order_notes')
