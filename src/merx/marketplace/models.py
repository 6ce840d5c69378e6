"""Marketplace sellers: third parties that own products in the catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, UTCDateTime, utcnow


class Seller(Base):
    __tablename__ = "marketplace_sellers"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    region: Mapped[str | None] = mapped_column(sa.String(64))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    premium: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    rating: Mapped[Decimal | None] = mapped_column(DecimalText)
    violations: Mapped[int] = mapped_column(sa.Integer, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
