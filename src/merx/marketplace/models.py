"""Marketplace sellers: third parties that own products in the catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from typing import Any

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


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
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # status == "active" (kept for its readers)
    # Onboarding: pending -> active <-> suspended. Company and KYC data the operator checks.
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    legal_name: Mapped[str | None] = mapped_column(sa.String(200))
    registration_number: Mapped[str | None] = mapped_column(sa.String(64))
    tax_id: Mapped[str | None] = mapped_column(sa.String(64))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    kyc_status: Mapped[str] = mapped_column(sa.String(16), default="not_submitted", server_default="not_submitted")
    # The computed rating's parts (sellers/rating.py) and when it was computed; `rating`
    # and `violations` above are what search reads.
    rating_parts: Mapped[Any] = mapped_column(JSONType, nullable=True)
    rating_computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
