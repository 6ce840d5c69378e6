"""Payment tables: one intent per order payment (what was asked, authorised, captured and
refunded), the operations we asked the provider for (keyed by idempotency key), every
provider notification received (keyed by the provider's event id: replays change nothing),
and bank statement lines with their reconciliation outcome. Money is integer minor units."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class PaymentIntent(Base):
    __tablename__ = "payment_intents"

    id: Mapped[IdPK]
    provider: Mapped[str] = mapped_column(sa.String(32))
    reference: Mapped[str] = mapped_column(sa.String(100))  # the provider's id of the payment
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(sa.String(32), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # what the order asked for
    authorized_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    captured_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # pending | action_required | awaiting (transfer, cash) | authorized | captured | declined | voided | refunded
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    action_url: Mapped[str | None] = mapped_column(sa.String(500))
    auto_capture: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # capture once authorised (checkout asked)
    # When the order no longer wanted the money a notification reported (cancelled meanwhile)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("provider", "reference", name="uq_payment_intents_provider_reference"),
        sa.CheckConstraint("captured_minor <= authorized_minor", name="captured_within_authorized"),
        sa.CheckConstraint("refunded_minor <= captured_minor", name="refunded_within_captured"),
    )


class PaymentOperation(Base):
    __tablename__ = "payment_operations"

    id: Mapped[IdPK]
    intent_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_intents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # authorize | capture | void | refund
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))  # requested | succeeded | failed | pending
    provider_reference: Mapped[str | None] = mapped_column(sa.String(200))
    message: Mapped[str | None] = mapped_column(sa.String(500))
    actor: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("intent_id", "idempotency_key", name="uq_payment_operations_key"),)


class PaymentNotification(Base):
    """A provider webhook whose signature verified (bad signatures are refused, not stored)."""

    __tablename__ = "payment_notifications"

    id: Mapped[IdPK]
    provider: Mapped[str] = mapped_column(sa.String(32))
    event_id: Mapped[str] = mapped_column(sa.String(200))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    reference: Mapped[str] = mapped_column(sa.String(100))
    intent_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # applied | stale
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    payload: Mapped[Any] = mapped_column(JSONType)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (sa.UniqueConstraint("provider", "event_id", name="uq_payment_notifications_event"),)


class StatementLine(Base):
    """One credit line of an imported bank statement and what reconciliation made of it."""

    __tablename__ = "payment_statement_lines"

    id: Mapped[IdPK]
    source: Mapped[str] = mapped_column(sa.String(16))  # csv | camt053
    entry_ref: Mapped[str] = mapped_column(sa.String(200), unique=True)  # the bank's id (re-import = no-op)
    booked_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    remittance: Mapped[str | None] = mapped_column(sa.String(500))
    counterparty: Mapped[str | None] = mapped_column(sa.String(200))
    # matched | queued (needs a person) | resolved (a person decided) | ignored
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    intent_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_number: Mapped[str | None] = mapped_column(sa.String(32))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200))
