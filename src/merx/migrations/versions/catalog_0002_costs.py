"""catalog: product and variant costs per currency with effective dates

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-12-03 19:50:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'catalog_0002'
down_revision = 'catalog_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_costs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('effective_from', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('created_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_catalog_costs_cost_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['catalog_products.id'], name=op.f('fk_catalog_costs_product_id_catalog_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['catalog_variants.id'], name=op.f('fk_catalog_costs_variant_id_catalog_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_costs'))
    )
    with op.batch_alter_table('catalog_costs', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_costs_lookup', ['product_id', 'currency', 'effective_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_costs_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_costs_variant_id'), ['variant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('catalog_costs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_costs_variant_id'))
        batch_op.drop_index(batch_op.f('ix_catalog_costs_product_id'))
        batch_op.drop_index('ix_catalog_costs_lookup')
    op.drop_table('catalog_costs')
