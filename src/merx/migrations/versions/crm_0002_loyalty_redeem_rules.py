"""crm: loyalty programmes' rules for spending points at checkout

Revision ID: crm_0002
Revises: crm_0001
Create Date: 2026-12-03 20:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'crm_0002'
down_revision = 'crm_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # additive: existing programmes keep their rows (no minimum, up to the whole goods total)
    with op.batch_alter_table('crm_loyalty_programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redeem_min_points', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('redeem_max_share', merx.core.db.DecimalText(), server_default='1',
                                      nullable=False))
    # an order's ledger entries are read when it is cancelled or refunded (points given back)
    with op.batch_alter_table('crm_loyalty_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_loyalty_ledger_order_ref'), ['order_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crm_loyalty_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_loyalty_ledger_order_ref'))
    with op.batch_alter_table('crm_loyalty_programs', schema=None) as batch_op:
        batch_op.drop_column('redeem_max_share')
        batch_op.drop_column('redeem_min_points')
