"""Inventory tables: locations, stock levels per (SKU, location), the stock ledger and holds.

`stock_levels` carries CHECK constraints as the last line of defence against overselling:
even a buggy code path cannot commit a negative or over-reserved row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class Location(Base):
    __tablename__ = "inventory_locations"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))  # warehouse | store
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    address: Mapped[str | None] = mapped_column(sa.String(500))
    pickup: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    accepts_returns: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    ships: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # may fulfil shipped orders
    # Lower number = allocated first by the "priority" strategy.
    priority: Mapped[int] = mapped_column(sa.Integer, default=100)
    # Overrides the product threshold for every SKU stocked here (null: use the product's).
    low_stock_threshold: Mapped[int | None] = mapped_column(sa.Integer)
    # {"mon": [["09:00", "18:00"]], ...}; a missing day means closed.
    opening_hours: Mapped[Any] = mapped_column(JSONType, nullable=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StockLevel(Base):
    __tablename__ = "inventory_stock"

    id: Mapped[IdPK]
    sku: Mapped[str] = mapped_column(sa.String(100))
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("inventory_locations.id"), index=True)
    on_hand: Mapped[int] = mapped_column(sa.Integer, default=0)
    reserved: Mapped[int] = mapped_column(sa.Integer, default=0)
    incoming: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Overrides product and location thresholds for this SKU at this location.
    low_stock_threshold: Mapped[int | None] = mapped_column(sa.Integer)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("sku", "location_id", name="uq_inventory_stock_sku_location"),
        sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        sa.CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        sa.CheckConstraint("incoming >= 0", name="incoming_not_negative"),
    )


class StockThreshold(Base):
    """Low-stock threshold per SKU (the product's setting; locations may override)."""

    __tablename__ = "inventory_thresholds"

    sku: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    low_stock: Mapped[int] = mapped_column(sa.Integer)


class StockMovement(Base):
    """The ledger: every change of on_hand or reserved, with its reason and actor. Summing the
    deltas of a (SKU, location) gives its current quantities."""

    __tablename__ = "inventory_movements"

    id: Mapped[IdPK]
    sku: Mapped[str] = mapped_column(sa.String(100))
    location_id: Mapped[int] = mapped_column(sa.BigInteger)
    # receipt | sale | return | adjustment | transfer_out | transfer_in | count | reservation | release
    reason: Mapped[str] = mapped_column(sa.String(32))
    on_hand_delta: Mapped[int] = mapped_column(sa.Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(sa.Integer, default=0)
    incoming_delta: Mapped[int] = mapped_column(sa.Integer, default=0)
    reference: Mapped[str | None] = mapped_column(sa.String(100), index=True)  # "order:12", "transfer:3", ...
    note: Mapped[str | None] = mapped_column(sa.String(500))
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.Index("ix_inventory_movements_sku_location", "sku", "location_id", "id"),)


class Reservation(Base):
    """Units held for an owner ("order:12", "cart:7"). Active holds are what `reserved`
    counts; a hold with `expires_at` is released by the sweep (or by the next allocation
    of the same SKU) once that time has passed."""

    __tablename__ = "inventory_reservations"

    id: Mapped[IdPK]
    owner: Mapped[str] = mapped_column(sa.String(64), index=True)
    sku: Mapped[str] = mapped_column(sa.String(100))
    location_id: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(16), default="active")  # active | released | consumed | expired
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_inventory_reservations_active_sku", "state", "sku"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class Transfer(Base):
    __tablename__ = "inventory_transfers"

    id: Mapped[IdPK]
    sku: Mapped[str] = mapped_column(sa.String(100))
    from_location_id: Mapped[int] = mapped_column(sa.BigInteger)
    to_location_id: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    # in_transit: left the source (incoming at the destination) | received | completed (moved at once)
    status: Mapped[str] = mapped_column(sa.String(16))
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
