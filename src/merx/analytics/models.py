"""Tables owned by analytics: the sales-lines fact store and the few settings and snapshots
the reports need. Other contexts' data reaches these tables only through their events
(`order.*`, `inventory.stock_changed`) or through the import hooks in `service.py`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, UTCDateTime, utcnow

# What a fact line records. Revenue is the net of every kind except `adjustment`
# (accounting entries such as Online Retail II's "Adjust bad debt", which are not sales).
LINE_KINDS = ("sale", "cancellation", "return", "adjustment")


class SalesLine(Base):
    # Reports run in DuckDB over a columnar snapshot, so the only indexes here serve writes:
    # the idempotency key and the order reference (cancellations and returns copy an order's lines).
    """One line of one sale (or of its cancellation/return), whatever its source: live Merx
    orders (`source="merx"`) or imported history (`source="online-retail"`, `"cdnow"`...)."""

    __tablename__ = "analytics_sales_lines"

    id: Mapped[IdPK]
    source: Mapped[str] = mapped_column(sa.String(32))
    # Unique within the source; makes every load idempotent (a second import inserts nothing).
    line_key: Mapped[str] = mapped_column(sa.String(160))
    order_ref: Mapped[str] = mapped_column(sa.String(80), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="sale")
    # What the line is (line_classes.py): product, discount, shipping, fee, adjustment, writeoff.
    line_class: Mapped[str] = mapped_column(sa.String(16), default="product", server_default="product")
    sku: Mapped[str | None] = mapped_column(sa.String(64))
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    product_name: Mapped[str | None] = mapped_column(sa.String(200))
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    customer_ref: Mapped[str | None] = mapped_column(sa.String(80))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_price: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(sa.String(3))
    # quantity x unit_price, rounded half-up to the currency's minor unit (what reports sum).
    line_total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    # Known cost of the line; null when the source has none (reports then apply the
    # documented cost ratio of the category and label the figure as assumed).
    line_cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    country: Mapped[str | None] = mapped_column(sa.String(64))
    region: Mapped[str | None] = mapped_column(sa.String(64))
    location: Mapped[str | None] = mapped_column(sa.String(64))
    sales_rep_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    category: Mapped[str | None] = mapped_column(sa.String(64))
    brand: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("source", "line_key", name="uq_analytics_sales_lines_source_line_key"),)


class CategorySetting(Base):
    """A category's role in the assortment and the cost ratio assumed for it when lines
    carry no cost."""

    __tablename__ = "analytics_category_settings"

    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    role: Mapped[str | None] = mapped_column(sa.String(16))  # destination|routine|occasional|convenience
    cost_ratio: Mapped[Decimal | None] = mapped_column(DecimalText)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StockLevel(Base):
    """The latest stock figures per SKU and location, kept from `inventory.stock_changed`."""

    __tablename__ = "analytics_stock_levels"

    sku: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    location: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(sa.Integer)
    reserved: Mapped[int] = mapped_column(sa.Integer, default=0)
    available: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AbandonedCart(Base):
    """A cart found with items and no order after the configured delay. Recorded once per
    cart (so `cart.abandoned` is emitted once) and credited with the revenue of the order the
    same person placed afterwards within the attribution window."""

    __tablename__ = "analytics_abandoned_carts"

    id: Mapped[IdPK]
    cart_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="cart")  # cart | browse
    person_key: Mapped[str] = mapped_column(sa.String(120), index=True)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    anonymous_id: Mapped[str | None] = mapped_column(sa.String(120))
    items: Mapped[int] = mapped_column(sa.Integer, default=0)
    value_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recovered_order_ref: Mapped[str | None] = mapped_column(sa.String(80))
    recovered_revenue_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    recovered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SnapshotState(Base):
    """Tells snapshot caches whether the fact table changed. `token` changes on every write;
    `base_token` only when rows were changed in place (or the table was emptied), which is
    when a cache must reload everything instead of just the rows with a higher id."""

    __tablename__ = "analytics_snapshot_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(26))
    base_token: Mapped[str] = mapped_column(sa.String(26))
