"""pricing tables

Revision ID: pricing_0001
Revises: 
Create Date: 2026-11-21 17:16:28.659075
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db
from sqlalchemy.dialects import postgresql

revision = 'pricing_0001'
down_revision = None
branch_labels = ('pricing',)
depends_on = None


def upgrade() -> None:
    op.create_table('pricing_price_lists',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('customer_group', sa.String(length=64), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('starts_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ends_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricing_price_lists')),
    sa.UniqueConstraint('code', name=op.f('uq_pricing_price_lists_code'))
    )
    op.create_table('pricing_promotions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('stacking', sa.String(length=16), nullable=False),
    sa.Column('percent', merx.core.db.DecimalText(length=40), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('min_subtotal_minor', sa.BigInteger(), nullable=True),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('skus', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('customer_groups', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('buy_quantity', sa.Integer(), nullable=False),
    sa.Column('get_quantity', sa.Integer(), nullable=False),
    sa.Column('get_percent', merx.core.db.DecimalText(length=40), nullable=True),
    sa.Column('coupon_code', sa.String(length=64), nullable=True),
    sa.Column('usage_limit_total', sa.Integer(), nullable=True),
    sa.Column('usage_limit_per_customer', sa.Integer(), nullable=True),
    sa.Column('times_used', sa.Integer(), nullable=False),
    sa.Column('starts_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ends_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('times_used >= 0', name=op.f('ck_pricing_promotions_times_used_not_negative')),
    sa.CheckConstraint('usage_limit_total IS NULL OR times_used <= usage_limit_total', name=op.f('ck_pricing_promotions_within_total_limit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricing_promotions')),
    sa.UniqueConstraint('coupon_code', name=op.f('uq_pricing_promotions_coupon_code'))
    )
    op.create_table('pricing_redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('promotion_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_key', sa.String(length=100), nullable=True),
    sa.Column('coupon_code', sa.String(length=64), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricing_redemptions'))
    )
    with op.batch_alter_table('pricing_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pricing_redemptions_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pricing_redemptions_promotion_id'), ['promotion_id'], unique=False)
    op.create_table('pricing_shipping_rates',
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('currency', name=op.f('pk_pricing_shipping_rates'))
    )
    op.create_table('pricing_coupon_usage',
    sa.Column('promotion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_key', sa.String(length=100), nullable=False),
    sa.Column('times_used', sa.Integer(), nullable=False),
    sa.CheckConstraint('times_used >= 0', name=op.f('ck_pricing_coupon_usage_times_used_not_negative')),
    sa.ForeignKeyConstraint(['promotion_id'], ['pricing_promotions.id'], name=op.f('fk_pricing_coupon_usage_promotion_id_pricing_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('promotion_id', 'customer_key', name=op.f('pk_pricing_coupon_usage'))
    )
    op.create_table('pricing_price_list_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('price_list_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_pricing_price_list_entries_amount_not_negative')),
    sa.ForeignKeyConstraint(['price_list_id'], ['pricing_price_lists.id'], name=op.f('fk_pricing_price_list_entries_price_list_id_pricing_price_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricing_price_list_entries')),
    sa.UniqueConstraint('price_list_id', 'sku', name='uq_pricing_price_list_entries_list_sku')
    )
    with op.batch_alter_table('pricing_price_list_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pricing_price_list_entries_sku'), ['sku'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pricing_price_list_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pricing_price_list_entries_sku'))
    op.drop_table('pricing_price_list_entries')
    op.drop_table('pricing_coupon_usage')
    op.drop_table('pricing_shipping_rates')
    with op.batch_alter_table('pricing_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pricing_redemptions_promotion_id'))
        batch_op.drop_index(batch_op.f('ix_pricing_redemptions_order_id'))
    op.drop_table('pricing_redemptions')
    op.drop_table('pricing_promotions')
    op.drop_table('pricing_price_lists')
