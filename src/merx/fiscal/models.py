"""Tax rates, channel tax modes, shipping zones and methods, and orders' tax lines.
Money is integer minor units; rates are decimal percentages stored as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class TaxRate(Base):
    __tablename__ = "fiscal_tax_rates"

    id: Mapped[IdPK]
    country: Mapped[str] = mapped_column(sa.String(2))
    tax_class: Mapped[str] = mapped_column(sa.String(16))  # standard | reduced | zero
    rate: Mapped[Decimal] = mapped_column(DecimalText)  # percent, e.g. 23
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)  # inclusive; null = until further notice
    note: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (sa.UniqueConstraint("country", "tax_class", "valid_from", name="uq_fiscal_tax_rates_start"),
                      sa.Index("ix_fiscal_tax_rates_country", "country", "tax_class"))


class ChannelTaxMode(Base):
    __tablename__ = "fiscal_channel_tax_modes"

    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    prices_include_tax: Mapped[bool] = mapped_column(sa.Boolean)


class ShippingZone(Base):
    __tablename__ = "fiscal_shipping_zones"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    countries: Mapped[Any] = mapped_column(JSONType)  # ["PL", ...]
    postcode_prefixes: Mapped[Any] = mapped_column(JSONType)  # [] = the whole countries


class ShippingMethod(Base):
    __tablename__ = "fiscal_shipping_methods"

    id: Mapped[IdPK]
    zone_id: Mapped[int] = mapped_column(sa.ForeignKey("fiscal_shipping_zones.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    basis: Mapped[str] = mapped_column(sa.String(16))  # flat | weight | subtotal | items
    # [{"from": "0", "price": "9.90"}, {"from": "5", "price": "14.90"}]: the last bracket whose
    # "from" the order reaches (kg, money, or items)
    brackets: Mapped[Any] = mapped_column(JSONType)
    free_over_minor: Mapped[int | None] = mapped_column(sa.BigInteger)  # free from this subtotal on
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (sa.UniqueConstraint("zone_id", "code", "currency", name="uq_fiscal_shipping_methods_code"),)


class OrderTaxLine(Base):
    """The tax of an order per tax class and rate, written by checkout with the order."""

    __tablename__ = "fiscal_order_tax_lines"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    country: Mapped[str] = mapped_column(sa.String(2))
    tax_class: Mapped[str] = mapped_column(sa.String(16))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(sa.String(3))
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)
    prices_include_tax: Mapped[bool] = mapped_column(sa.Boolean)
    reverse_charge: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
