"""Pricing tables: price lists and their entries, promotions, coupon usage, shipping rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class PriceList(Base):
    """Prices that override the catalog price for a currency, optionally only in one channel
    and/or for one customer group. The most specific active list wins, then priority."""

    __tablename__ = "pricing_price_lists"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    customer_group: Mapped[str | None] = mapped_column(sa.String(64))
    priority: Mapped[int] = mapped_column(sa.Integer, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PriceListEntry(Base):
    __tablename__ = "pricing_price_list_entries"

    id: Mapped[IdPK]
    price_list_id: Mapped[int] = mapped_column(sa.ForeignKey("pricing_price_lists.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(sa.String(100), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.UniqueConstraint("price_list_id", "sku", name="uq_pricing_price_list_entries_list_sku"),
                      sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"))


class Promotion(Base):
    __tablename__ = "pricing_promotions"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    priority: Mapped[int] = mapped_column(sa.Integer, default=0)
    stacking: Mapped[str] = mapped_column(sa.String(16), default="stackable")
    percent: Mapped[Decimal | None] = mapped_column(DecimalText)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    min_subtotal_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    tiers: Mapped[Any] = mapped_column(JSONType, nullable=True)  # [{"threshold_minor", "percent"}]
    skus: Mapped[Any] = mapped_column(JSONType, nullable=True)
    categories: Mapped[Any] = mapped_column(JSONType, nullable=True)
    channels: Mapped[Any] = mapped_column(JSONType, nullable=True)
    customer_groups: Mapped[Any] = mapped_column(JSONType, nullable=True)
    buy_quantity: Mapped[int] = mapped_column(sa.Integer, default=0)
    get_quantity: Mapped[int] = mapped_column(sa.Integer, default=0)
    get_percent: Mapped[Decimal | None] = mapped_column(DecimalText)
    coupon_code: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    usage_limit_total: Mapped[int | None] = mapped_column(sa.Integer)
    usage_limit_per_customer: Mapped[int | None] = mapped_column(sa.Integer)
    times_used: Mapped[int] = mapped_column(sa.Integer, default=0)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("times_used >= 0", name="times_used_not_negative"),
        sa.CheckConstraint("usage_limit_total IS NULL OR times_used <= usage_limit_total", name="within_total_limit"),
    )


class CouponUsage(Base):
    """Redemptions of a coupon by one customer; the counter is raised with a guarded UPDATE so
    concurrent checkouts cannot redeem past the limit."""

    __tablename__ = "pricing_coupon_usage"

    promotion_id: Mapped[int] = mapped_column(sa.ForeignKey("pricing_promotions.id", ondelete="CASCADE"),
                                              primary_key=True)
    customer_key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # "customer:<id>"
    times_used: Mapped[int] = mapped_column(sa.Integer, default=0)

    __table_args__ = (sa.CheckConstraint("times_used >= 0", name="times_used_not_negative"),)


class Redemption(Base):
    """A promotion applied to an order, with its amount; `released` when the order was cancelled."""

    __tablename__ = "pricing_redemptions"

    id: Mapped[IdPK]
    promotion_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    customer_key: Mapped[str | None] = mapped_column(sa.String(100))
    coupon_code: Mapped[str | None] = mapped_column(sa.String(64))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    state: Mapped[str] = mapped_column(sa.String(16), default="active")  # active | released
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShippingRate(Base):
    __tablename__ = "pricing_shipping_rates"

    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
