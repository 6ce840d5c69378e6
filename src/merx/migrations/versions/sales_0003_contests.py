"""contests; the credit note of a rebate settlement

Revision ID: sales_0003
Revises: sales_0002
Create Date: 2026-12-04 00:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db
from sqlalchemy.dialects import postgresql

revision = 'sales_0003'
down_revision = 'sales_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sales_contests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('metric', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('members', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('prizes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('standings', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('finalised_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_contests'))
    )
    with op.batch_alter_table('sales_contests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_contests_period_start'), ['period_start'], unique=False)
    with op.batch_alter_table('sales_rebate_agreements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_note_number', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sales_rebate_agreements', schema=None) as batch_op:
        batch_op.drop_column('credit_note_number')
    with op.batch_alter_table('sales_contests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_contests_period_start'))
    op.drop_table('sales_contests')
