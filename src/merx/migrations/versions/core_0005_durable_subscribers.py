"""durable subscribers: outbox horizon and gaps (moved from integration), subscriber cursors, dead letters

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_horizon',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('safe_seq', sa.BigInteger(), nullable=False),
    sa.Column('origin_seq', sa.BigInteger(), nullable=False),
    sa.Column('worker_seen_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_horizon'))
    )
    op.create_table('outbox_gaps',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('end_seq', sa.BigInteger(), nullable=False),
    sa.Column('first_seen_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_gaps'))
    )
    op.create_table('subscriber_cursors',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('retry_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_subscriber_cursors'))
    )
    op.create_table('subscriber_dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subscriber', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.String(length=26), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_tried_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_dead_letters')),
    sa.UniqueConstraint('subscriber', 'event_id', name='uq_subscriber_dead_letters_subscriber_event')
    )
    with op.batch_alter_table('subscriber_dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriber_dead_letters_subscriber'), ['subscriber'], unique=False)
    # An existing shop's in-process handlers applied every event so far: its durable
    # subscribers start after them (origin_seq), a new shop's at 0.
    op.execute("INSERT INTO outbox_horizon (id, safe_seq, origin_seq, updated_at) "
               "SELECT 1, 0, COALESCE(MAX(seq), 0), CURRENT_TIMESTAMP FROM outbox_events")


def downgrade() -> None:
    with op.batch_alter_table('subscriber_dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriber_dead_letters_subscriber'))
    op.drop_table('subscriber_dead_letters')
    op.drop_table('subscriber_cursors')
    op.drop_table('outbox_gaps')
    op.drop_table('outbox_horizon')
