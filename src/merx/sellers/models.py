"""Tables of the sellers context. Money is integer minor units of `currency`; seller ids,
product ids and order ids are plain columns (other contexts' records, no foreign keys)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class Offer(Base):
    """A seller's price, stock, lead time, condition and shipping terms for a catalog SKU."""

    __tablename__ = "sellers_offers"

    id: Mapped[IdPK]
    seller_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    sku: Mapped[str] = mapped_column(sa.String(100), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    quantity: Mapped[int] = mapped_column(sa.Integer, default=0)
    lead_time_days: Mapped[int] = mapped_column(sa.Integer, default=2)
    condition: Mapped[str] = mapped_column(sa.String(16), default="new")  # new | used | refurbished
    shipping_terms: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("seller_id", "sku", name="uq_sellers_offers_seller_sku"),
                      sa.CheckConstraint("quantity >= 0", name="offer_quantity_not_negative"),
                      sa.CheckConstraint("price_minor > 0", name="offer_price_positive"))


class SellerOrder(Base):
    """One seller's part of a customer order (seller_id null: the operator's own stock)."""

    __tablename__ = "sellers_orders"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(sa.String(32))
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    # awaiting_acceptance | accepted | shipped | refused | cancelled | operator
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    shipping_address: Mapped[Any] = mapped_column(JSONType, nullable=True)
    acceptance_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    ship_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    carrier: Mapped[str | None] = mapped_column(sa.String(64))
    tracking_number: Mapped[str | None] = mapped_column(sa.String(100))
    tracking_url: Mapped[str | None] = mapped_column(sa.String(500))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    shipped_late: Mapped[bool | None] = mapped_column(sa.Boolean)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SellerOrderLine(Base):
    __tablename__ = "sellers_order_lines"

    id: Mapped[IdPK]
    seller_order_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers_orders.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    offer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    sku: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(500))
    category: Mapped[str | None] = mapped_column(sa.String(100))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    commission_rate: Mapped[Decimal | None] = mapped_column(DecimalText)
    commission_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # awaiting_acceptance | accepted | refused | expired | cancelled | shipped | refunded | operator
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    # none | pending | refunded | not_captured | failed: the customer's money for a line not delivered
    refund_status: Mapped[str] = mapped_column(sa.String(16), default="none", index=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("order_id", "line_no", name="uq_sellers_order_lines_order_line"),)


class CommissionRule(Base):
    """Commission rate on accepted lines: per category (null: every category), optionally
    for one seller (null: every seller). The most specific rule wins (rules.commission_rate)."""

    __tablename__ = "sellers_commission_rules"

    id: Mapped[IdPK]
    category: Mapped[str | None] = mapped_column(sa.String(100))
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("category", "seller_id", name="uq_sellers_commission_rules_scope"),)


class LedgerEntry(Base):
    """A movement of a seller's money: sale (+), commission (-), refund (-), adjustment (+/-),
    payout (-, the amount paid out in a cycle)."""

    __tablename__ = "sellers_ledger"

    id: Mapped[IdPK]
    seller_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(32))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    seller_order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    line_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    payout_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A line's sale, commission and refund are recorded once each, whatever retries happen.
    # Few indexes on purpose: a payout cycle rewrites every open entry, and each index is
    # written again per entry; (seller_id, payout_id) serves a seller's ledger, its open
    # balance and a statement.
    __table_args__ = (sa.UniqueConstraint("seller_id", "kind", "line_id", name="uq_sellers_ledger_line_kind"),
                      sa.Index("ix_sellers_ledger_seller_payout", "seller_id", "payout_id"))


class PayoutCycle(Base):
    __tablename__ = "sellers_payout_cycles"

    id: Mapped[IdPK]
    period_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime, unique=True)  # one run per cycle
    status: Mapped[str] = mapped_column(sa.String(16), default="completed")
    sellers: Mapped[int] = mapped_column(sa.Integer, default=0)
    entries: Mapped[int] = mapped_column(sa.Integer, default=0)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payout(Base):
    """One seller's statement of a cycle: what the entries sum to and what was paid out. A
    negative balance is not paid: its entries stay open and carry to the next cycle."""

    __tablename__ = "sellers_payouts"

    id: Mapped[IdPK]
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers_payout_cycles.id", ondelete="CASCADE"), index=True)
    seller_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    sales_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    commission_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunds_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    adjustments_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(16))  # paid | carried
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("cycle_id", "seller_id", "currency", name="uq_sellers_payouts_cycle_seller"),)


class Violation(Base):
    """A breach of the marketplace's rules recorded by staff; counts against the seller's
    rating while it is within the rating window."""

    __tablename__ = "sellers_violations"

    id: Mapped[IdPK]
    seller_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    penalty: Mapped[Decimal] = mapped_column(DecimalText)  # rating points taken off
    created_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Incident(Base):
    """A customer's problem with a seller's shipment (not received, damaged): a ticket the
    seller answers; staff may resolve it with a refund of the line."""

    __tablename__ = "sellers_incidents"

    id: Mapped[IdPK]
    seller_order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    seller_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    line_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(16))  # not_received | damaged
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    seller_reply: Mapped[str | None] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | refunded | closed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ProductProposal(Base):
    """A seller's proposal of a new catalog product, moderated by staff: approved, it becomes
    an active catalog product (created through catalog.public) every seller may offer;
    rejected, it keeps the reason. Sellers do not create active products themselves."""

    __tablename__ = "sellers_product_proposals"

    id: Mapped[IdPK]
    seller_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    sku: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(100))
    brand: Mapped[str | None] = mapped_column(sa.String(100))
    ean: Mapped[str | None] = mapped_column(sa.String(14))
    attributes: Mapped[Any] = mapped_column(JSONType, default=dict)
    image_urls: Mapped[Any] = mapped_column(JSONType, default=list)
    currency: Mapped[str] = mapped_column(sa.String(3))
    price_minor: Mapped[int] = mapped_column(sa.BigInteger)  # the catalog's reference price it proposes
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # pending | approved | rejected
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # why it was rejected
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # the catalog product, once approved
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
