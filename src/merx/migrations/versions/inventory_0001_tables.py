"""inventory tables

Revision ID: inventory_0001
Revises: 
Create Date: 2026-11-21 17:16:28.659075
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # autogenerate writes Text() bare inside JSONB types
import merx.core.db
from sqlalchemy.dialects import postgresql

revision = 'inventory_0001'
down_revision = None
branch_labels = ('inventory',)
depends_on = None


def upgrade() -> None:
    op.create_table('inventory_locations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('pickup', sa.Boolean(), nullable=False),
    sa.Column('accepts_returns', sa.Boolean(), nullable=False),
    sa.Column('ships', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('low_stock_threshold', sa.Integer(), nullable=True),
    sa.Column('opening_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_locations')),
    sa.UniqueConstraint('code', name=op.f('uq_inventory_locations_code'))
    )
    op.create_table('inventory_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('location_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('on_hand_delta', sa.Integer(), nullable=False),
    sa.Column('reserved_delta', sa.Integer(), nullable=False),
    sa.Column('incoming_delta', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_movements'))
    )
    with op.batch_alter_table('inventory_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_movements_reference'), ['reference'], unique=False)
        batch_op.create_index('ix_inventory_movements_sku_location', ['sku', 'location_id', 'id'], unique=False)
    op.create_table('inventory_reservations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('location_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('expires_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_inventory_reservations_quantity_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_reservations'))
    )
    with op.batch_alter_table('inventory_reservations', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_reservations_active_sku', ['state', 'sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_reservations_owner'), ['owner'], unique=False)
    op.create_table('inventory_thresholds',
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('low_stock', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_inventory_thresholds'))
    )
    op.create_table('inventory_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('from_location_id', sa.BigInteger(), nullable=False),
    sa.Column('to_location_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', merx.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_transfers'))
    )
    op.create_table('inventory_stock',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('incoming', sa.Integer(), nullable=False),
    sa.Column('low_stock_threshold', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', merx.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('incoming >= 0', name=op.f('ck_inventory_stock_incoming_not_negative')),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_inventory_stock_on_hand_not_negative')),
    sa.CheckConstraint('reserved <= on_hand', name=op.f('ck_inventory_stock_reserved_within_on_hand')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_inventory_stock_reserved_not_negative')),
    sa.ForeignKeyConstraint(['location_id'], ['inventory_locations.id'], name=op.f('fk_inventory_stock_location_id_inventory_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_stock')),
    sa.UniqueConstraint('sku', 'location_id', name='uq_inventory_stock_sku_location')
    )
    with op.batch_alter_table('inventory_stock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_stock_location_id'), ['location_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inventory_stock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_stock_location_id'))
    op.drop_table('inventory_stock')
    op.drop_table('inventory_transfers')
    op.drop_table('inventory_thresholds')
    with op.batch_alter_table('inventory_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_reservations_owner'))
        batch_op.drop_index('ix_inventory_reservations_active_sku')
    op.drop_table('inventory_reservations')
    with op.batch_alter_table('inventory_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_movements_sku_location')
        batch_op.drop_index(batch_op.f('ix_inventory_movements_reference'))
    op.drop_table('inventory_movements')
    op.drop_table('inventory_locations')
