"""The customer record (the CRM context extends it with identities, consent, loyalty...), and
what a shopper keeps on it: the storefront account (password, verified email, sessions,
one-time mail tokens), address book and saved carts."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from typing import Any

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


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


class CustomerAccount(Base):
    """A shopper's storefront sign-in. Pending until the email is verified (no sign-in, no
    customer record attached); verifying attaches it to the customer record with that email
    (a guest's record and its orders included) or creates one. See customers/accounts.py."""

    __tablename__ = "customer_accounts"

    id: Mapped[IdPK]
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # normalised; the sign-in name
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)  # set on verification
    password_hash: Mapped[str] = mapped_column(sa.String(200))  # core.auth.hash_password (scrypt)
    status: Mapped[str] = mapped_column(sa.String(16))  # pending | active
    first_name: Mapped[str | None] = mapped_column(sa.String(120))
    last_name: Mapped[str | None] = mapped_column(sa.String(120))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerAccountToken(Base):
    """A one-time link sent by mail (verify the email, reset the password). Only the SHA-256
    of its random part is kept; used once (`used_at`), and only until `expires_at`."""

    __tablename__ = "customer_account_tokens"

    id: Mapped[IdPK]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(16))  # verify | reset
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerAccountSession(Base):
    """A shopper's sign-in (cookie on the storefront, bearer `mxs_...` on the API): only the
    SHA-256 of the token is kept; revoked on sign-out, password reset and erasure."""

    __tablename__ = "customer_account_sessions"

    id: Mapped[IdPK]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CustomerAddress(Base):
    """An address in a customer's address book; one may be the default for shipping and one
    for billing (checkout prefills from them)."""

    __tablename__ = "customer_addresses"

    id: Mapped[IdPK]
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    label: Mapped[str | None] = mapped_column(sa.String(60))
    name: Mapped[str] = mapped_column(sa.String(200))
    company: Mapped[str | None] = mapped_column(sa.String(200))
    line1: Mapped[str] = mapped_column(sa.String(200))
    line2: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(120))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    default_shipping: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    default_billing: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerSavedCart(Base):
    """A cart the shopper put aside for later: SKUs and quantities (prices are taken again
    when it is restored)."""

    __tablename__ = "customer_saved_carts"

    id: Mapped[IdPK]
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    lines: Mapped[Any] = mapped_column(JSONType)  # [{"sku": str, "quantity": int}]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
