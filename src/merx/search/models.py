"""Search tables: merchandising configuration (synonyms, boost rules, pins), the signals search
keeps from other contexts' events (stock, price history, popularity and sales counters),
the indexing queue, and the search log (queries shown, feedback)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, BigIntPK, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class Synonym(Base):
    __tablename__ = "search_synonyms"

    id: Mapped[IdPK]
    lang: Mapped[str] = mapped_column(sa.String(8), index=True)
    terms: Mapped[Any] = mapped_column(JSONType)  # list[str], as given
    one_way: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BoostRule(Base):
    __tablename__ = "search_boost_rules"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    factor: Mapped[Decimal] = mapped_column(DecimalText)
    params: Mapped[Any] = mapped_column(JSONType, default=dict)
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Pin(Base):
    __tablename__ = "search_pins"
    __table_args__ = (sa.UniqueConstraint("lang", "query_key", "product_id"),)

    id: Mapped[IdPK]
    lang: Mapped[str] = mapped_column(sa.String(8))
    query_key: Mapped[str] = mapped_column(sa.String(500), index=True)  # analysed query
    query_text: Mapped[str] = mapped_column(sa.String(500))  # as the merchandiser typed it
    product_id: Mapped[int] = mapped_column(sa.BigInteger)
    position: Mapped[int | None] = mapped_column(sa.Integer)
    hidden: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductSignal(Base):
    """Time-decayed behaviour counters per product (decayed to `decayed_at`)."""

    __tablename__ = "search_product_signals"

    product_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    views: Mapped[float] = mapped_column(sa.Float, default=0.0)
    carts: Mapped[float] = mapped_column(sa.Float, default=0.0)
    favourites: Mapped[float] = mapped_column(sa.Float, default=0.0)
    purchases: Mapped[float] = mapped_column(sa.Float, default=0.0)
    sales_views: Mapped[float] = mapped_column(sa.Float, default=0.0)  # views on the sales clock (60 days)
    rating_avg: Mapped[float | None] = mapped_column(sa.Float)
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    decayed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PricePoint(Base):
    __tablename__ = "search_price_history"
    __table_args__ = (sa.Index("ix_search_price_history_product_at", "product_id", "at"),)

    id: Mapped[IdPK]
    product_id: Mapped[int] = mapped_column(sa.BigInteger)
    sku: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount: Mapped[Decimal | None] = mapped_column(DecimalText)  # None: the price was removed
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockPoint(Base):
    """Availability per SKU and location, kept from `inventory.stock_changed` events."""

    __tablename__ = "search_stock"

    sku: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    location: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    available: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndexQueue(Base):
    """Products whose index document is stale. Rows stay (with indexed_at) for a day so a
    rebuild can replay the changes made while it ran."""

    __tablename__ = "search_index_queue"

    id: Mapped[IdPK]
    product_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    indexed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)


class SearchLog(Base):
    __tablename__ = "search_queries"

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)  # ULID, returned as search_id
    query_text: Mapped[str] = mapped_column(sa.String(500))
    query_key: Mapped[str] = mapped_column(sa.String(500), index=True)
    lang: Mapped[str] = mapped_column(sa.String(8))
    mode: Mapped[str] = mapped_column(sa.String(8))
    total: Mapped[int] = mapped_column(sa.Integer)
    page: Mapped[int] = mapped_column(sa.Integer, default=1)
    shown: Mapped[Any] = mapped_column(JSONType)  # [product_id, ...] in display order
    features: Mapped[Any] = mapped_column(JSONType, nullable=True)  # {product_id: [feature values]} (training)
    filters: Mapped[Any] = mapped_column(JSONType, nullable=True)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    zero_results: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SearchFeedback(Base):
    __tablename__ = "search_feedback"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    search_id: Mapped[str] = mapped_column(sa.String(26), index=True)
    product_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    action: Mapped[str] = mapped_column(sa.String(16))  # click | cart | purchase
    position: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
