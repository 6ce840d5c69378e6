"""marketing: a recipient's own time zone (mkt_recipients)

Revision ID: marketing_0002
Revises: marketing_0001
Create Date: 2026-12-03 20:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db


revision = 'marketing_0002'
down_revision = 'marketing_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mkt_recipients',
    sa.Column('customer_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_mkt_recipients'))
    )


def downgrade() -> None:
    op.drop_table('mkt_recipients')
