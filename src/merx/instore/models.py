"""In-store tables. Orders, returns and stock stay in their contexts; these rows say which
store and which associate did what (for commissions and store reports) and keep the pickup
verification log. Cross-context references are plain id/code columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class AssociateStore(Base):
    """A store associate (a user with the `store_associate` role) works in this store."""

    __tablename__ = "instore_associate_stores"
    __table_args__ = (sa.UniqueConstraint("user_id", "location_id", name="uq_instore_associate_store"),)

    id: Mapped[IdPK]
    user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    location_id: Mapped[int] = mapped_column(sa.BigInteger)
    location_code: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssistedOrder(Base):
    """An order placed in a store: by an associate for the customer at the counter, or by a
    customer at the store's kiosk (no associate)."""

    __tablename__ = "instore_assisted_orders"

    order_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    order_number: Mapped[str] = mapped_column(sa.String(32))
    store_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    associate_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    source: Mapped[str] = mapped_column(sa.String(16))  # associate | kiosk
    kiosk_session_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    fulfilment: Mapped[str] = mapped_column(sa.String(16))  # ship | pickup
    pickup_store: Mapped[str | None] = mapped_column(sa.String(64))
    payment_mode: Mapped[str] = mapped_column(sa.String(16))  # counter | link
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # the payment link's validity runs from here: set when the link is (re)sent; NULL = with the order
    payment_link_issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PickupCheck(Base):
    """Every hand-over attempt at a counter: the verification asked, and whether it matched.
    A refused attempt is kept (who tried what, where); the code itself is never stored."""

    __tablename__ = "instore_pickup_checks"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(sa.String(32))
    store_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    method: Mapped[str] = mapped_column(sa.String(16))  # code | name
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    detail: Mapped[str | None] = mapped_column(sa.String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CounterReturn(Base):
    """A return of an online order taken at a store counter (the return itself is the
    orders context's; this row records the store, the associate, condition and refund method)."""

    __tablename__ = "instore_counter_returns"

    return_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(sa.String(32))
    store_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    associate_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    condition: Mapped[str] = mapped_column(sa.String(16))  # as_new | opened | damaged
    refund_method: Mapped[str] = mapped_column(sa.String(24))  # original_payment | cash | none
    units: Mapped[int] = mapped_column(sa.Integer)
    restocked_units: Mapped[int] = mapped_column(sa.Integer)
    refund_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class KioskSession(Base):
    """One shopper's turn at a kiosk: from the first touch to the order or the reset."""

    __tablename__ = "instore_kiosk_sessions"

    id: Mapped[IdPK]
    store_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(16))  # idle | ordered | reset
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)


class HeldCart(Base):
    """A cart an associate built at the counter and sent to the customer as a link: the lines
    at the prices quoted at the counter, the fulfilment chosen there, and (once the customer
    checks out through the link) the order it became. The link itself is a signed token naming
    this row; it is never stored."""

    __tablename__ = "instore_held_carts"

    id: Mapped[IdPK]
    store_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    associate_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    associate_name: Mapped[str | None] = mapped_column(sa.String(200))
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    lines: Mapped[Any] = mapped_column(JSONType)  # [{"sku", "name", "quantity", "unit_price_minor"}]
    fulfilment: Mapped[Any] = mapped_column(JSONType)  # {"type", "location"} | {"type", "address"}
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)  # as quoted at the counter
    channel: Mapped[str] = mapped_column(sa.String(16))  # email | sms: how the link was sent
    status: Mapped[str] = mapped_column(sa.String(16), default="sent")  # sent | ordered
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ordered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
