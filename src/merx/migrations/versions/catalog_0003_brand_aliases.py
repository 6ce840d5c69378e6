"""catalog: brand aliases (other names shoppers type for a brand; search indexes them)

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-12-03 20:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = 'catalog_0003'
down_revision = 'catalog_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('catalog_brands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('aliases', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('catalog_brands', schema=None) as batch_op:
        batch_op.drop_column('aliases')
