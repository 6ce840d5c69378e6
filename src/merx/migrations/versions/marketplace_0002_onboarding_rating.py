"""marketplace: seller onboarding (status, company and KYC data) and the computed rating's parts

Revision ID: marketplace_0002
Revises: marketplace_0001
Create Date: 2026-12-03 16:13:03.615906
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db
from sqlalchemy.dialects import postgresql

revision = 'marketplace_0002'
down_revision = 'marketplace_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('marketplace_sellers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('legal_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('registration_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tax_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('kyc_status', sa.String(length=16), server_default='not_submitted', nullable=False))
        batch_op.add_column(sa.Column('rating_parts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('rating_computed_at', merx.core.db.UTCDateTime(timezone=True), nullable=True))
    # a seller switched off before onboarding statuses existed is suspended
    op.execute("UPDATE marketplace_sellers SET status = 'suspended' WHERE active = false")


def downgrade() -> None:
    with op.batch_alter_table('marketplace_sellers', schema=None) as batch_op:
        batch_op.drop_column('rating_computed_at')
        batch_op.drop_column('rating_parts')
        batch_op.drop_column('kyc_status')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('tax_id')
        batch_op.drop_column('registration_number')
        batch_op.drop_column('legal_name')
        batch_op.drop_column('status')
