"""catalog: early access (a product's launch time and the CRM segment that may buy it before)

Revision ID: catalog_0004
Revises: catalog_0003
Create Date: 2026-12-04 00:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'catalog_0004'
down_revision = 'catalog_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalog_products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('launch_at', merx.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('early_access_segment_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_catalog_products_launch_at'), ['launch_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('catalog_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_products_launch_at'))
        batch_op.drop_column('early_access_segment_id')
        batch_op.drop_column('launch_at')
