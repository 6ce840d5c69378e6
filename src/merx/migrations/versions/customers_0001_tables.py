"""customers tables

Revision ID: customers_0001
Revises: 
Create Date: 2026-11-21 17:13:41.608988
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db


revision = 'customers_0001'
down_revision = None
branch_labels = ('customers',)
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('first_name', sa.String(length=120), nullable=True),
    sa.Column('last_name', sa.String(length=120), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('external_ref', sa.String(length=120), nullable=True),
    sa.Column('sales_rep_user_id', sa.BigInteger(), nullable=True),
    sa.Column('is_guest', sa.Boolean(), nullable=False),
    sa.Column('merged_into_id', sa.BigInteger(), nullable=True),
    sa.Column('erased_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_customers_email')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_customers_external_ref')),
    sa.UniqueConstraint('phone', name=op.f('uq_customers_phone'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_sales_rep_user_id'), ['sales_rep_user_id'], unique=False)


    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_sales_rep_user_id'))
        batch_op.drop_index(batch_op.f('ix_customers_merged_into_id'))

    op.drop_table('customers')

    # ### end Alembic commands ###
