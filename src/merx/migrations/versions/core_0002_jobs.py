"""core_jobs: the scheduler's jobs and leases

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-12-03 13:45:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'core_0002'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_jobs',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('schedule', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_run_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_duration_ms', sa.Integer(), nullable=True),
    sa.Column('last_status', sa.String(length=16), nullable=True),
    sa.Column('last_result', sa.String(length=500), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_core_jobs'))
    )
    with op.batch_alter_table('core_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_jobs_next_run_at'), ['next_run_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('core_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_jobs_next_run_at'))
    op.drop_table('core_jobs')
