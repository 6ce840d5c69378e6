"""Issuing invoices and credit notes, reading them, and the tax report.

Numbers are gapless per series and year: the counter row is incremented in the same
transaction that inserts the document (PostgreSQL locks the row, so concurrent issuers queue;
a rolled-back issue rolls its number back too), and (series, year, seq) is unique besides."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.auth import Role
from merx.core.errors import Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, minor_to_str
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.fiscal import public as fiscal
from merx.invoicing.models import Document, DocumentTaxLine, InvoiceCounter
from merx.invoicing.schemas import DocumentOut, DocumentTaxOut, TaxReportOut, TaxReportRow
from merx.invoicing.settings import get_invoicing_settings
from merx.orders import public as orders

READ_ALL = (Role.admin, Role.staff, Role.support_agent)
_counter = InvoiceCounter.__table__
_BUMP = (sa.update(_counter).where(_counter.c.series == sa.bindparam("s"), _counter.c.year == sa.bindparam("y"))
         .values(last_number=_counter.c.last_number + 1).returning(_counter.c.last_number))


def next_number(uow: UnitOfWork, series: str, year: int) -> int:
    """The next number of the series in that year, taken inside the caller's transaction."""
    conn = uow.session.connection()
    n = conn.execute(_BUMP, {"s": series, "y": year}).scalar()
    if n is not None:
        return int(n)
    try:
        with uow.savepoint():
            uow.session.connection().execute(sa.insert(_counter).values(series=series, year=year, last_number=1))
        return 1
    except IntegrityError:  # another transaction created the year's counter first: take the next one
        return int(uow.session.connection().execute(_BUMP, {"s": series, "y": year}).scalar_one())


def _seller() -> dict[str, str]:
    s = get_invoicing_settings()
    return {"name": s.seller_name, "address": s.seller_address, "vat_id": s.seller_vat_id}


def _m(v: int, cur: str) -> str:
    return minor_to_str(v, cur)


def _minor(amount: str, cur: str) -> int:
    return Money.of(amount, cur).minor


def issue_invoice(uow: UnitOfWork, order_id: int, *, source: str) -> Document | None:
    """The order's invoice (once per order; None when it already has one). No commit: the
    caller's transaction (the event subscriber's) commits it."""
    if uow.session.scalar(sa.select(Document.id).where(Document.kind == "invoice", Document.order_id == order_id)):
        return None
    o = orders.get_order(uow, order_id)
    cur = o["currency"]
    taxes = fiscal.order_tax_lines(uow, order_id)
    gross = _minor(o["totals"]["total"], cur)
    tax = sum(_minor(t.tax, cur) for t in taxes)
    lines = [{"description": f"{ln['name']} ({ln['sku']})", "quantity": ln["quantity"], "unit_price": ln["unit_price"],
              "discount": ln["discount"], "total": ln["total"]} for ln in o["lines"]]
    shipping = _minor(o["totals"]["shipping"], cur) - _minor(o["totals"]["shipping_discount"], cur)
    if shipping:
        lines.append({"description": "Shipping", "quantity": 1, "unit_price": _m(shipping, cur), "discount": "0.00",
                      "total": _m(shipping, cur)})
    address = (o["fulfilment"] or {}).get("address") or {}
    buyer = {"email": o["email"], "name": address.get("name"), "address": ", ".join(
        str(address[k]) for k in ("line1", "line2", "postal_code", "city", "country") if address.get(k))}
    return _insert(uow, kind="invoice", order=o, source=source, currency=cur, gross=gross, tax=tax, lines=lines,
                   buyer=buyer, taxes=[(t.country, t.tax_class, Decimal(t.rate), t.reverse_charge, _minor(t.net, cur),
                                        _minor(t.tax, cur)) for t in taxes], corrects=None, reason=None)


def issue_credit_note(uow: UnitOfWork, order_id: int, amount_minor: int, *, source: str,
                      reason: str) -> Document | None:
    """A credit note for money paid back on an invoiced order, its tax split over the
    invoice's rates in proportion to their gross amounts. None when the order has no invoice
    (nothing to correct) or this refund was already credited."""
    if uow.session.scalar(sa.select(Document.id).where(Document.source == source)):
        return None
    inv = uow.session.scalar(sa.select(Document).where(Document.kind == "invoice", Document.order_id == order_id))
    if inv is None:
        return None
    credited = int(uow.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Document.gross_minor), 0)).where(
        Document.kind == "credit_note", Document.corrects_id == inv.id)) or 0)
    amount = min(amount_minor, inv.gross_minor - credited)
    if amount <= 0:
        return None
    inv_taxes = list(uow.session.scalars(sa.select(DocumentTaxLine).where(DocumentTaxLine.document_id == inv.id)
                                         .order_by(DocumentTaxLine.id)))
    taxes = []
    if inv_taxes:
        parts = fiscal.allocate(amount, [t.net_minor + t.tax_minor for t in inv_taxes])
        for t, gross_part in zip(inv_taxes, parts):
            rate = Decimal(t.rate)
            tax = int((Decimal(gross_part) * rate / (100 + rate)).to_integral_value(ROUND_HALF_UP))
            taxes.append((t.country, t.tax_class, rate, t.reverse_charge, gross_part - tax, tax))
    o = {"id": inv.order_id, "number": inv.order_number, "customer_id": inv.customer_id}
    lines = [{"description": f"Refund on invoice {inv.number}: {reason}", "quantity": 1,
              "unit_price": _m(amount, inv.currency), "discount": "0.00", "total": _m(amount, inv.currency)}]
    return _insert(uow, kind="credit_note", order=o, source=source, currency=inv.currency, gross=amount,
                   tax=sum(t[5] for t in taxes), lines=lines, buyer=inv.buyer, taxes=taxes, corrects=inv.id,
                   reason=reason)


def _insert(uow: UnitOfWork, *, kind: str, order: dict[str, Any], source: str, currency: str, gross: int, tax: int,
            lines: list[dict], buyer: dict, taxes: list[tuple], corrects: int | None, reason: str | None) -> Document:
    s = get_invoicing_settings()
    series = s.series if kind == "invoice" else s.credit_series
    today = dt.datetime.now(dt.timezone.utc).date()
    seq = next_number(uow, series, today.year)
    doc = Document(kind=kind, series=series, year=today.year, seq=seq, number=f"{series}/{today.year}/{seq:06d}",
                   source=source, order_id=order["id"], order_number=order["number"],
                   customer_id=order.get("customer_id"), corrects_id=corrects, currency=currency,
                   net_minor=gross - tax, tax_minor=tax, gross_minor=gross, seller=_seller(), buyer=buyer, lines=lines,
                   reason=reason, issued_on=today, issued_at=dt.datetime.now(dt.timezone.utc))
    uow.session.add(doc)
    uow.session.flush()
    uow.session.add_all([DocumentTaxLine(document_id=doc.id, kind=kind, issued_on=today, country=c, tax_class=k,
                                         rate=r, reverse_charge=rc, currency=currency, net_minor=n, tax_minor=t)
                         for c, k, r, rc, n, t in taxes])
    uow.audit("issue", kind, doc.id, after={"number": doc.number, "order": order["number"],
                                            "gross": _m(gross, currency)})
    return doc


# -- reading ---------------------------------------------------------------------------------

def _visible(uow: UnitOfWork, doc: Document) -> bool:
    a = uow.actor
    if a.role in READ_ALL:
        return True
    return a.role == Role.customer and a.customer_id is not None and doc.customer_id == a.customer_id


def document_out(uow: UnitOfWork, doc: Document) -> DocumentOut:
    cur = doc.currency
    taxes = uow.session.scalars(sa.select(DocumentTaxLine).where(DocumentTaxLine.document_id == doc.id)
                                .order_by(DocumentTaxLine.id))
    corrects = uow.session.scalar(sa.select(Document.number).where(Document.id == doc.corrects_id)) \
        if doc.corrects_id else None
    return DocumentOut(
        id=doc.id, kind=doc.kind, number=doc.number, order_id=doc.order_id, order_number=doc.order_number,
        customer_id=doc.customer_id, corrects=corrects, currency=cur, net=_m(doc.net_minor, cur),
        tax=_m(doc.tax_minor, cur), gross=_m(doc.gross_minor, cur), seller=doc.seller, buyer=doc.buyer,
        lines=doc.lines, reason=doc.reason, issued_on=doc.issued_on, issued_at=doc.issued_at,
        pdf_url=f"/api/v1/invoices/{doc.id}/pdf",
        tax_lines=[DocumentTaxOut(country=t.country, tax_class=t.tax_class, rate=format(Decimal(t.rate).normalize(), "f"),
                                  reverse_charge=t.reverse_charge, net=_m(t.net_minor, cur), tax=_m(t.tax_minor, cur))
                   for t in taxes])


def _load(uow: UnitOfWork, doc_id: int) -> Document:
    doc = uow.session.get(Document, doc_id)
    if doc is None or not _visible(uow, doc):
        raise NotFound(f"Document {doc_id} does not exist")
    return doc


def get_document(uow: UnitOfWork, doc_id: int) -> DocumentOut:
    return document_out(uow, _load(uow, doc_id))


def list_documents(uow: UnitOfWork, *, order_id: int | None = None, kind: str | None = None,
                   limit: int = 50) -> list[DocumentOut]:
    """The newest `limit` documents the caller may see (the console's table)."""
    stmt = _documents(uow, order_id, kind).order_by(Document.id.desc()).limit(limit)
    return [document_out(uow, d) for d in uow.session.scalars(stmt)]


def document_page(uow: UnitOfWork, *, order_id: int | None = None, kind: str | None = None, limit: int,
                  cursor: str | None) -> tuple[list[DocumentOut], str | None]:
    """`GET /invoices`: newest first, a page at a time."""
    return paginate(uow.session, _documents(uow, order_id, kind), Document.id, limit=limit, cursor=cursor,
                    convert=lambda d: document_out(uow, d), descending=True)


def _documents(uow: UnitOfWork, order_id: int | None, kind: str | None) -> sa.Select[Any]:
    a = uow.actor
    stmt = sa.select(Document)
    if a.role not in READ_ALL:
        if a.role != Role.customer or a.customer_id is None:
            raise Forbidden("Only the back office and the buyer see invoices")
        stmt = stmt.where(Document.customer_id == a.customer_id)
    if order_id is not None:
        stmt = stmt.where(Document.order_id == order_id)
    if kind:
        stmt = stmt.where(Document.kind == kind)
    return stmt


def documents_for_order(uow: UnitOfWork, order_id: int) -> list[DocumentOut]:
    """Every document of an order, for a caller who proved they may see the order (the
    storefront's order link)."""
    return [document_out(uow, d) for d in uow.session.scalars(
        sa.select(Document).where(Document.order_id == order_id).order_by(Document.id))]


def pdf(uow: UnitOfWork, doc_id: int, *, checked: bool = False) -> tuple[str, bytes]:
    from merx.invoicing.pdf import render

    doc = uow.session.get(Document, doc_id) if checked else _load(uow, doc_id)
    if doc is None:
        raise NotFound(f"Document {doc_id} does not exist")
    return doc.number.replace("/", "-") + ".pdf", render(document_out(uow, doc))


def tax_report(uow: UnitOfWork, date_from: dt.date, date_to: dt.date) -> TaxReportOut:
    """Tax per country, class and rate for documents issued in the period: invoiced minus credited."""
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Only staff see the tax report")
    if date_to < date_from:
        raise ValidationProblem.for_field("to", "is before from")
    t = DocumentTaxLine
    rows = uow.session.execute(
        sa.select(t.country, t.tax_class, t.rate, t.reverse_charge, t.currency, t.kind,
                  sa.func.sum(t.net_minor), sa.func.sum(t.tax_minor), sa.func.count(sa.distinct(t.document_id)))
        .where(t.issued_on >= date_from, t.issued_on <= date_to)
        .group_by(t.country, t.tax_class, t.rate, t.reverse_charge, t.currency, t.kind)).all()
    acc: dict[tuple, dict[str, int]] = {}
    for country, k, rate, rc, cur, kind, net, tax, n in rows:
        key = (country, k, format(Decimal(str(rate)).normalize(), "f"), bool(rc), cur)
        a = acc.setdefault(key, {"in": 0, "it": 0, "cn": 0, "ct": 0, "docs": 0})
        if kind == "invoice":
            a["in"] += int(net)
            a["it"] += int(tax)
        else:
            a["cn"] += int(net)
            a["ct"] += int(tax)
        a["docs"] += int(n)
    return TaxReportOut(date_from=date_from, date_to=date_to, rows=[
        TaxReportRow(country=c, tax_class=k, rate=r, reverse_charge=rc, currency=cur,
                     invoiced_net=_m(a["in"], cur), invoiced_tax=_m(a["it"], cur), credited_net=_m(a["cn"], cur),
                     credited_tax=_m(a["ct"], cur), net=_m(a["in"] - a["cn"], cur), tax=_m(a["it"] - a["ct"], cur),
                     documents=a["docs"])
        for (c, k, r, rc, cur), a in sorted(acc.items())])
