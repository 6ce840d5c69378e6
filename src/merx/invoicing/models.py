"""Invoices and credit notes (one table, `kind`), their tax lines (what the tax report sums),
and the number counters per series and year. Money is integer minor units, positive on both
kinds (a credit note's amounts are what it takes back).

Issued documents are immutable: the ORM refuses any UPDATE or DELETE of them (see the
listeners below); a mistake is corrected by a credit note, as the law wants."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class InvoiceCounter(Base):
    __tablename__ = "invoicing_counters"

    series: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.Integer)


class Document(Base):
    __tablename__ = "invoicing_documents"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(16))  # invoice | credit_note
    series: Mapped[str] = mapped_column(sa.String(16))
    year: Mapped[int] = mapped_column(sa.Integer)
    seq: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    source: Mapped[str] = mapped_column(sa.String(64), unique=True)  # what issued it: "paid:<order>", "refund:<event>"
    # None on a credit note to an account rather than on one order (e.g. a dealer's yearly rebate)
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str | None] = mapped_column(sa.String(32))
    reference: Mapped[str | None] = mapped_column(sa.String(64))  # the issuer's own reference (e.g. REB-2026-00001)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    corrects_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # the invoice a credit note corrects
    currency: Mapped[str] = mapped_column(sa.String(3))
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)
    gross_minor: Mapped[int] = mapped_column(sa.BigInteger)
    seller: Mapped[Any] = mapped_column(JSONType)
    buyer: Mapped[Any] = mapped_column(JSONType)
    lines: Mapped[Any] = mapped_column(JSONType)  # [{"description", "quantity", "unit_price", "total"}]
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    issued_on: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("series", "year", "seq", name="uq_invoicing_documents_seq"),)


class DocumentTaxLine(Base):
    __tablename__ = "invoicing_tax_lines"

    id: Mapped[IdPK]
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("invoicing_documents.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    issued_on: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    country: Mapped[str] = mapped_column(sa.String(2))
    tax_class: Mapped[str] = mapped_column(sa.String(16))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    reverse_charge: Mapped[bool] = mapped_column(sa.Boolean)
    currency: Mapped[str] = mapped_column(sa.String(3))
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)


class ImmutableDocument(Exception):
    pass


def _refuse(mapper: Any, connection: Any, target: Any) -> None:
    raise ImmutableDocument(f"{type(target).__name__} {getattr(target, 'id', '')} was issued and cannot change; "
                            "issue a credit note")


for _cls in (Document, DocumentTaxLine):
    event.listen(_cls, "before_update", _refuse)
    event.listen(_cls, "before_delete", _refuse)
