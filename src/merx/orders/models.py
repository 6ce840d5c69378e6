"""Order tables: orders, their lines, stock allocations, applied promotions, payment
transactions, returns, and carts. Money is integer minor units of the order's currency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[IdPK]
    number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    payment_status: Mapped[str] = mapped_column(sa.String(24))
    channel: Mapped[str] = mapped_column(sa.String(16))
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger)
    discount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_minor: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_discount_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fulfilment_type: Mapped[str] = mapped_column(sa.String(16))  # ship | pickup
    pickup_location_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    shipping_address: Mapped[Any] = mapped_column(JSONType, nullable=True)
    tracking: Mapped[Any] = mapped_column(JSONType, nullable=True)  # {"carrier", "number", "url"}
    payment_provider: Mapped[str] = mapped_column(sa.String(32))
    payment_reference: Mapped[str | None] = mapped_column(sa.String(100))
    coupon_code: Mapped[str | None] = mapped_column(sa.String(64))
    customer_group: Mapped[str | None] = mapped_column(sa.String(64))
    cart_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    placed_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    sales_rep_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # A guest's pay-later order holds its stock until then (orders/guest_holds.py); null once
    # staff accepted it, and for every other order.
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    hold_address: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # keyed hash of the client address
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("total_minor >= 0", name="total_not_negative"),
        sa.CheckConstraint("refunded_minor >= 0 AND refunded_minor <= total_minor", name="refund_within_total"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    sku: Mapped[str] = mapped_column(sa.String(100))
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    name: Mapped[str] = mapped_column(sa.String(500))
    category: Mapped[str | None] = mapped_column(sa.String(100))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger)
    discount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    returned_quantity: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The unit cost in force when the line was sold (catalog.costs_at, in the order's currency),
    # landed at checkout so margins stay what they were; null: the catalog had no cost then.
    unit_cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger)

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_within_quantity"),
    )


class OrderAllocation(Base):
    __tablename__ = "order_allocations"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    sku: Mapped[str] = mapped_column(sa.String(100))
    location_id: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)


class OrderPromotion(Base):
    __tablename__ = "order_promotions"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    promotion_id: Mapped[int] = mapped_column(sa.BigInteger)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    coupon_code: Mapped[str | None] = mapped_column(sa.String(64))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)


class PaymentTransaction(Base):
    __tablename__ = "order_payments"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(16))  # authorise | capture | refund | void
    status: Mapped[str] = mapped_column(sa.String(16))  # succeeded | declined | timeout | pending | failed
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    message: Mapped[str | None] = mapped_column(sa.String(500))
    return_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # a release (orders/collectable.py): the order line that will never be charged
    line_no: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReturnAuthorisation(Base):
    __tablename__ = "order_returns"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))  # authorised | received | refunded | rejected
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    started_channel: Mapped[str] = mapped_column(sa.String(16))  # online | store
    location_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # where the goods come back
    refund_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReturnLine(Base):
    __tablename__ = "order_return_lines"

    id: Mapped[IdPK]
    return_id: Mapped[int] = mapped_column(sa.ForeignKey("order_returns.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    sku: Mapped[str] = mapped_column(sa.String(100))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    restock: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[IdPK]
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # anonymous carts
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str] = mapped_column(sa.String(16))
    fulfilment: Mapped[Any] = mapped_column(JSONType, nullable=True)  # {"type", "location", "address"}
    coupon_code: Mapped[str | None] = mapped_column(sa.String(64))
    loyalty_points: Mapped[int | None] = mapped_column(sa.Integer)  # to spend at checkout (orders/loyalty_points.py)
    status: Mapped[str] = mapped_column(sa.String(16))  # open | checkout | ordered | abandoned
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CartLine(Base):
    __tablename__ = "cart_lines"

    id: Mapped[IdPK]
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(500))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)  # the price snapshot shown to the shopper

    __table_args__ = (sa.UniqueConstraint("cart_id", "sku", name="uq_cart_lines_cart_sku"),
                      sa.CheckConstraint("quantity > 0", name="quantity_positive"))


class OrderNote(Base):
    """A staff note on an order ("customer called: leave at the neighbour's"); internal,
    never shown to the shopper. Notes are added, not edited, like a ticket's history."""

    __tablename__ = "order_notes"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    author_name: Mapped[str | None] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
