"""sellers: moderated product proposals

Revision ID: sellers_0002
Revises: sellers_0001
Create Date: 2026-12-03 20:20:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db
from sqlalchemy.dialects import postgresql

revision = 'sellers_0002'
down_revision = 'sellers_0001'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('sellers_product_proposals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('brand', sa.String(length=100), nullable=True),
    sa.Column('ean', sa.String(length=14), nullable=True),
    sa.Column('attributes', _JSON, nullable=False),
    sa.Column('image_urls', _JSON, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by_user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sellers_product_proposals'))
    )
    with op.batch_alter_table('sellers_product_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sellers_product_proposals_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sellers_product_proposals_seller_id'), ['seller_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sellers_product_proposals_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sellers_product_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sellers_product_proposals_status'))
        batch_op.drop_index(batch_op.f('ix_sellers_product_proposals_seller_id'))
        batch_op.drop_index(batch_op.f('ix_sellers_product_proposals_created_at'))
    op.drop_table('sellers_product_proposals')
