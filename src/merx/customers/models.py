"""The customer record (the CRM context extends it with identities, consent, loyalty...)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, UTCDateTime, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[IdPK]
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # E.164
    first_name: Mapped[str | None] = mapped_column(sa.String(120))
    last_name: Mapped[str | None] = mapped_column(sa.String(120))
    company: Mapped[str | None] = mapped_column(sa.String(200))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    # Id of the customer in a system it was imported from ("online-retail:12345", "erp:C-0042").
    external_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    # The sales rep who owns the account; reps see only their own customers.
    sales_rep_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    is_guest: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Set when this profile was merged into another (CRM); merged profiles are hidden from lists.
    merged_into_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
