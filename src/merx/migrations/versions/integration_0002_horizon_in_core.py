"""the outbox horizon moves to core (outbox_horizon, outbox_gaps): relay state keeps the partition count

Revision ID: integration_0002
Revises: integration_0001
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'integration_0002'
down_revision = 'integration_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the core's horizon (core_0002) starts at 0 and catches up on its first passes
    op.drop_table('integration_relay_gaps')
    with op.batch_alter_table('integration_relay_state', schema=None) as batch_op:
        batch_op.drop_column('safe_seq')


def downgrade() -> None:
    with op.batch_alter_table('integration_relay_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safe_seq', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_table('integration_relay_gaps',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('end_seq', sa.BigInteger(), nullable=False),
    sa.Column('first_seen_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_integration_relay_gaps'))
    )
