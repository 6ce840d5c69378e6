"""API shapes of invoicing."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class DocumentTaxOut(BaseModel):
    country: str
    tax_class: str
    rate: str
    reverse_charge: bool
    net: str
    tax: str


class DocumentOut(BaseModel):
    id: int
    kind: str
    number: str
    order_id: int | None  # None: a credit note to an account, not on one order
    order_number: str | None
    reference: str | None = None
    customer_id: int | None
    corrects: str | None
    currency: str
    net: str
    tax: str
    gross: str
    seller: dict
    buyer: dict
    lines: list[dict]
    tax_lines: list[DocumentTaxOut]
    reason: str | None
    issued_on: dt.date
    issued_at: dt.datetime
    pdf_url: str


class TaxReportRow(BaseModel):
    country: str
    tax_class: str
    rate: str
    reverse_charge: bool
    currency: str
    invoiced_net: str
    invoiced_tax: str
    credited_net: str
    credited_tax: str
    net: str
    tax: str
    documents: int


class TaxReportOut(BaseModel):
    date_from: dt.date
    date_to: dt.date
    rows: list[TaxReportRow]
