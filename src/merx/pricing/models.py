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


# -- competitors and pricing strategies (pricing/competition.py, pricing/strategies.py) -------


class Competitor(Base):
    __tablename__ = "pricing_competitors"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CompetitorPrice(Base):
    """A price seen at a competitor for one of our SKUs, at a time, from a source. Kept in the
    shop's currency (`amount_minor`); a price seen in another currency keeps what was seen
    (`observed_amount`, `observed_currency`) and the rate it was converted at."""

    __tablename__ = "pricing_competitor_prices"

    id: Mapped[IdPK]
    competitor_id: Mapped[int] = mapped_column(sa.ForeignKey("pricing_competitors.id", ondelete="CASCADE"),
                                               index=True)
    sku: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))  # the shop's
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    observed_amount: Mapped[Decimal] = mapped_column(DecimalText)
    observed_currency: Mapped[str] = mapped_column(sa.String(3))
    rate: Mapped[Decimal | None] = mapped_column(DecimalText)  # shop currency per observed unit
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(sa.String(64))  # manual | csv | api | a feed's name
    url: Mapped[str | None] = mapped_column(sa.String(1000))
    in_stock: Mapped[bool | None] = mapped_column(sa.Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("amount_minor > 0", name="price_positive"),
                      sa.Index("ix_pricing_competitor_prices_sku_observed", "sku", "observed_at"))


class PricingRule(Base):
    """A pricing strategy over some SKUs (all, some categories, or listed SKUs). Running it
    proposes prices; approved proposals are written to `price_list_code`."""

    __tablename__ = "pricing_rules"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))  # cost_plus | match_lowest | target_margin
    currency: Mapped[str] = mapped_column(sa.String(3))
    price_list_code: Mapped[str] = mapped_column(sa.String(64))
    markup_percent: Mapped[Decimal | None] = mapped_column(DecimalText)
    target_margin_percent: Mapped[Decimal | None] = mapped_column(DecimalText)
    undercut: Mapped[Decimal | None] = mapped_column(DecimalText)
    floor_margin_percent: Mapped[Decimal | None] = mapped_column(DecimalText)
    rounding: Mapped[str] = mapped_column(sa.String(8), default="none")  # none | 0.99 | 0.95 | 0.00
    categories: Mapped[Any] = mapped_column(JSONType, nullable=True)
    skus: Mapped[Any] = mapped_column(JSONType, nullable=True)
    max_age_days: Mapped[int] = mapped_column(sa.Integer, default=30)  # competitor prices older are ignored
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PriceProposal(Base):
    """A price a rule proposes for a SKU, with the evidence, waiting for a person's decision."""

    __tablename__ = "pricing_price_proposals"

    id: Mapped[IdPK]
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("pricing_rules.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(sa.String(100), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    current_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    proposed_minor: Mapped[int] = mapped_column(sa.BigInteger)
    cost_minor: Mapped[int] = mapped_column(sa.BigInteger)
    floor_minor: Mapped[int] = mapped_column(sa.BigInteger)
    lowest_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    median_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending|approved|rejected|superseded
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (sa.CheckConstraint("proposed_minor >= floor_minor AND proposed_minor >= cost_minor",
                                         name="never_below_cost_or_floor"),)
