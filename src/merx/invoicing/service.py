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
# the buyer's own documents: a shopper's, and a dealer's staff's (its account's buying customer)
BUYER_BOUND = (Role.customer, Role.dealer)
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
    released = orders.released_lines(uow, order_id)
    buckets = [[t.country, t.tax_class, Decimal(t.rate), t.reverse_charge, _minor(t.net, cur), _minor(t.tax, cur)]
               for t in fiscal.order_tax_lines(uow, order_id)]
    gross = _minor(o["totals"]["total"], cur)
    if released:  # marketplace lines refused before capture were never charged: not on the invoice
        gross -= _leave_out(uow, o, released, buckets)
    tax = sum(b[5] for b in buckets)
    lines = [{"description": f"{ln['name']} ({ln['sku']})", "quantity": ln["quantity"], "unit_price": ln["unit_price"],
              "discount": ln["discount"], "total": ln["total"]} for ln in o["lines"]
             if released.get(ln["line"], 0) < _minor(ln["total"], cur)]
    shipping = _minor(o["totals"]["shipping"], cur) - _minor(o["totals"]["shipping_discount"], cur)
    if shipping:
        lines.append({"description": "Shipping", "quantity": 1, "unit_price": _m(shipping, cur), "discount": "0.00",
                      "total": _m(shipping, cur)})
    address = (o["fulfilment"] or {}).get("address") or {}
    buyer = {"email": o["email"], "name": address.get("name"), "address": ", ".join(
        str(address[k]) for k in ("line1", "line2", "postal_code", "city", "country") if address.get(k))}
    return _insert(uow, kind="invoice", order=o, source=source, currency=cur, gross=gross, tax=tax, lines=lines,
                   buyer=buyer, taxes=[tuple(b) for b in buckets if b[4] or b[5]], corrects=None, reason=None)


def _leave_out(uow: UnitOfWork, o: dict[str, Any], released: dict[int, int], buckets: list[list[Any]]) -> int:
    """Take the released lines out of the order's tax buckets (`buckets` changed in place: the
    line's tax class, at the bucket's rate, tax-inclusive or not as the order was priced).
    Returns the gross left out: what the capture did not take, plus the tax on it when prices
    excluded tax."""
    from merx.catalog import public as catalog

    cur = o["currency"]
    _, inclusive = fiscal.order_tax_minor(uow, o["id"])
    by_line = {ln["line"]: ln for ln in o["lines"]}
    infos = catalog.lookup_skus(uow, [by_line[n]["sku"] for n in released if n in by_line])
    left_out = 0
    for line_no, amount in sorted(released.items()):
        line = by_line.get(line_no)
        amount = min(amount, _minor(line["total"], cur)) if line else amount
        info = infos.get(line["sku"]) if line else None
        tax_class = ((info.attributes or {}).get("tax_class") if info else None) or "standard"
        bucket = next((b for b in buckets if b[1] == tax_class), None)
        tax = 0
        if bucket is not None and not bucket[3]:  # reverse charged: no tax to take out
            rate = bucket[2]
            tax = int((Decimal(amount) * rate / ((100 + rate) if inclusive else 100)).to_integral_value(ROUND_HALF_UP))
        net = amount - tax if inclusive else amount
        if bucket is not None:
            bucket[4] -= net
            bucket[5] -= tax
        left_out += net + tax
    return left_out


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


def issue_account_credit_note(uow: UnitOfWork, *, customer_id: int, currency: str, amount_minor: int, reference: str,
                              source: str, reason: str, basis_from: dt.date, basis_to: dt.date,
                              buyer: dict[str, Any] | None = None) -> DocumentOut | None:
    """A credit note to a customer (an account) that is not on one order, such as a dealer's
    yearly volume rebate: numbered in the credit note series, with its PDF like the others. Its
    tax is split over the rates of the customer's invoices issued in [basis_from, basis_to) in
    proportion to their gross amounts (less what was credited on them), since the rebate lowers
    the price of those sales; without such invoices it carries no tax line. Idempotent by `source`:
    a second call returns the note already issued. None for a zero amount. No commit: the caller's
    transaction issues it together with its own change."""
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Only staff issue credit notes")
    if amount_minor < 0:
        raise ValidationProblem.for_field("amount", "must not be negative")
    if not reference.strip():
        raise ValidationProblem.for_field("reference", "is required", "required")
    existing = uow.session.scalar(sa.select(Document).where(Document.source == source))
    if existing is not None:
        return document_out(uow, existing)
    if amount_minor == 0:
        return None
    t, d = DocumentTaxLine, Document
    basis = uow.session.execute(
        sa.select(t.country, t.tax_class, t.rate, t.reverse_charge, t.kind, sa.func.sum(t.net_minor + t.tax_minor))
        .join(d, d.id == t.document_id)
        .where(d.customer_id == customer_id, d.currency == currency, d.order_id.is_not(None),
               t.issued_on >= basis_from, t.issued_on < basis_to)
        .group_by(t.country, t.tax_class, t.rate, t.reverse_charge, t.kind)).all()
    weights: dict[tuple, int] = {}
    for country, klass, rate, rc, kind, gross in basis:
        key = (country, klass, format(Decimal(str(rate)).normalize(), "f"), bool(rc))
        weights[key] = weights.get(key, 0) + (int(gross) if kind == "invoice" else -int(gross))
    keys = sorted(k for k, w in weights.items() if w > 0)
    taxes = []
    if keys:
        for (country, klass, rate_s, rc), part in zip(keys, fiscal.allocate(amount_minor, [weights[k] for k in keys])):
            rate = Decimal(rate_s)
            tax = int((Decimal(part) * rate / (100 + rate)).to_integral_value(ROUND_HALF_UP))
            taxes.append((country, klass, rate, rc, part - tax, tax))
    lines = [{"description": f"{reason} ({reference})", "quantity": 1, "unit_price": _m(amount_minor, currency),
              "discount": "0.00", "total": _m(amount_minor, currency)}]
    doc = _insert(uow, kind="credit_note", order={"id": None, "number": None, "customer_id": customer_id},
                  source=source, currency=currency, gross=amount_minor, tax=sum(x[5] for x in taxes), lines=lines,
                  buyer=buyer or {}, taxes=taxes, corrects=None, reason=reason, reference=reference)
    return document_out(uow, doc)


def _insert(uow: UnitOfWork, *, kind: str, order: dict[str, Any], source: str, currency: str, gross: int, tax: int,
            lines: list[dict], buyer: dict, taxes: list[tuple], corrects: int | None, reason: str | None,
            reference: str | None = None) -> Document:
    s = get_invoicing_settings()
    series = s.series if kind == "invoice" else s.credit_series
    today = dt.datetime.now(dt.timezone.utc).date()
    seq = next_number(uow, series, today.year)
    doc = Document(kind=kind, series=series, year=today.year, seq=seq, number=f"{series}/{today.year}/{seq:06d}",
                   source=source, order_id=order["id"], order_number=order["number"],
                   customer_id=order.get("customer_id"), corrects_id=corrects, currency=currency,
                   net_minor=gross - tax, tax_minor=tax, gross_minor=gross, seller=_seller(), buyer=buyer, lines=lines,
                   reason=reason, reference=reference, issued_on=today, issued_at=dt.datetime.now(dt.timezone.utc))
    uow.session.add(doc)
    uow.session.flush()
    uow.session.add_all([DocumentTaxLine(document_id=doc.id, kind=kind, issued_on=today, country=c, tax_class=k,
                                         rate=r, reverse_charge=rc, currency=currency, net_minor=n, tax_minor=t)
                         for c, k, r, rc, n, t in taxes])
    uow.audit("issue", kind, doc.id, after={"number": doc.number, "order": order["number"], "reference": reference,
                                            "gross": _m(gross, currency)})
    return doc


# -- reading ---------------------------------------------------------------------------------

def _visible(uow: UnitOfWork, doc: Document) -> bool:
    a = uow.actor
    if a.role in READ_ALL:
        return True
    return a.role in BUYER_BOUND and a.customer_id is not None and doc.customer_id == a.customer_id


def document_out(uow: UnitOfWork, doc: Document) -> DocumentOut:
    cur = doc.currency
    taxes = uow.session.scalars(sa.select(DocumentTaxLine).where(DocumentTaxLine.document_id == doc.id)
                                .order_by(DocumentTaxLine.id))
    corrects = uow.session.scalar(sa.select(Document.number).where(Document.id == doc.corrects_id)) \
        if doc.corrects_id else None
    return DocumentOut(
        id=doc.id, kind=doc.kind, number=doc.number, order_id=doc.order_id, order_number=doc.order_number,
        reference=doc.reference,
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
        if a.role not in BUYER_BOUND or a.customer_id is None:
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
