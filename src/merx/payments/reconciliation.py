"""Bank transfer reconciliation from a statement file: CSV, or ISO 20022 camt.053 XML.

Each credit line is stored once (its bank entry reference is unique, so importing the same
statement twice changes nothing). A line whose remittance text names the reference of an
open bank-transfer payment AND carries exactly the amount due marks that payment captured,
which pays the order (outcomes.notify_order, same transaction). Anything else goes to the
reconciliation queue with the reason (wrong amount, unknown reference, already paid) for a
person to decide. XML is parsed with defusedxml: no entity expansion, no external fetches."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from defusedxml import ElementTree as SafeET
from sqlalchemy.exc import IntegrityError

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Forbidden, NotFound, ValidationProblem
from merx.core.money import CURRENCY_EXPONENTS, Money, MoneyError, minor_to_str, parse_amount
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.payments import outcomes, rules
from merx.payments.models import PaymentIntent, StatementLine
from merx.payments.schemas import StatementImportOut, StatementLineOut
from merx.payments.service import figures, set_figures, update_for

PROVIDER = "bank_transfer"
MAX_LINES = 20_000


@dataclass(frozen=True)
class BankLine:
    entry_ref: str
    booked_on: dt.date | None
    amount: Decimal
    currency: str
    remittance: str
    counterparty: str | None


def _problem(where: str, message: str) -> ValidationProblem:
    return ValidationProblem.for_field("file", f"{where}: {message}", "bad_statement")


def _amount(text: str, currency: str, where: str) -> Decimal:
    """A decimal amount (a leading minus for debits) with no more decimals than the currency has."""
    try:
        return parse_amount(text.strip(), currency, allow_negative=True)
    except MoneyError as e:
        raise _problem(where, f"amount {text.strip()[:30]!r}: {e}") from None


def parse_csv(text: str) -> list[BankLine]:
    """Columns (header row, any order): entry_ref (or id), booking_date (or date), amount,
    currency, reference (or remittance, description), counterparty (or name). Negative
    amounts (debits) are skipped."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise _problem("line 1", "the file has no header row")
    names = {n.strip().lower(): n for n in reader.fieldnames if n}

    def col(*options: str) -> str | None:
        return next((names[o] for o in options if o in names), None)

    c_ref, c_date, c_amount = col("entry_ref", "id"), col("booking_date", "date"), col("amount")
    c_cur, c_rem, c_party = col("currency"), col("reference", "remittance", "description"), col("counterparty", "name")
    missing = [n for n, c in (("entry_ref", c_ref), ("amount", c_amount), ("currency", c_cur), ("reference", c_rem))
               if c is None]
    if missing:
        raise _problem("line 1", f"missing column(s): {', '.join(missing)}")
    out = []
    for i, row in enumerate(reader, start=2):
        if i > MAX_LINES:
            raise _problem(f"line {i}", f"more than {MAX_LINES} lines")
        currency = (row[c_cur] or "").strip().upper()
        if currency not in CURRENCY_EXPONENTS:
            raise _problem(f"line {i}", f"currency {currency!r} is not ISO 4217")
        amount = _amount(row[c_amount] or "", currency, f"line {i}")
        booked = None
        if c_date and (row[c_date] or "").strip():
            try:
                booked = dt.date.fromisoformat(row[c_date].strip())
            except ValueError:
                raise _problem(f"line {i}", f"booking_date {row[c_date]!r} is not YYYY-MM-DD") from None
        if not (row[c_ref] or "").strip():
            raise _problem(f"line {i}", "entry_ref is empty")
        if amount <= 0:
            continue
        out.append(BankLine(row[c_ref].strip()[:200], booked, amount, currency, (row[c_rem] or "").strip()[:500],
                            ((row[c_party] or "").strip()[:200] or None) if c_party else None))
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el, *path: str):  # noqa: ANN001, ANN202 - ElementTree elements
    for step in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c.tag) == step), None)
    return el


def _text(el, *path: str) -> str | None:  # noqa: ANN001
    found = _find(el, *path)
    return found.text.strip() if found is not None and found.text else None


def parse_camt053(data: bytes) -> list[BankLine]:
    """Credit entries (CdtDbtInd CRDT) of every statement in a camt.053 document (any
    version: elements are matched by local name)."""
    try:
        root = SafeET.fromstring(data)
    except Exception as e:  # defusedxml raises its own errors for entities; ParseError otherwise
        raise _problem("xml", f"not a readable camt.053 document ({type(e).__name__}: {e})") from None
    stmt_parent = _find(root, "BkToCstmrStmt")
    if _local(root.tag) != "Document" or stmt_parent is None:
        raise _problem("xml", "not a camt.053 document (Document/BkToCstmrStmt expected)")
    out = []
    for stmt in (c for c in stmt_parent if _local(c.tag) == "Stmt"):
        stmt_id = _text(stmt, "Id") or "stmt"
        for n, entry in enumerate((c for c in stmt if _local(c.tag) == "Ntry"), start=1):
            if _text(entry, "CdtDbtInd") != "CRDT":
                continue
            amt = _find(entry, "Amt")
            if amt is None or not amt.text:
                raise _problem(f"{stmt_id} entry {n}", "Amt is missing")
            currency = (amt.get("Ccy") or "").upper()
            if currency not in CURRENCY_EXPONENTS:
                raise _problem(f"{stmt_id} entry {n}", f"Ccy {currency!r} is not ISO 4217")
            amount = _amount(amt.text, currency, f"{stmt_id} entry {n}")
            booked_text = _text(entry, "BookgDt", "Dt") or (_text(entry, "BookgDt", "DtTm") or "")[:10]
            try:
                booked = dt.date.fromisoformat(booked_text) if booked_text else None
            except ValueError:
                booked = None
            tx = _find(entry, "NtryDtls", "TxDtls")
            texts = [t for t in (_text(tx, "RmtInf", "Ustrd"), _text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
                                 _text(tx, "Refs", "EndToEndId")) if t and t != "NOTPROVIDED"]
            ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef") or f"{stmt_id}-{n}"
            party = _text(tx, "RltdPties", "Dbtr", "Nm") or _text(tx, "RltdPties", "Dbtr", "Pty", "Nm")
            out.append(BankLine(ref[:200], booked, amount, currency, " ".join(texts)[:500], party))
            if len(out) > MAX_LINES:
                raise _problem("xml", f"more than {MAX_LINES} entries")
    return out


def parse_statement(filename: str, data: bytes) -> tuple[str, list[BankLine]]:
    head = data.lstrip()[:200]
    if filename.lower().endswith(".xml") or head.startswith(b"<"):
        return "camt053", parse_camt053(data)
    try:
        return "csv", parse_csv(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _problem("file", "a CSV statement must be UTF-8") from None


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{3,40}")


def import_statement(uow: UnitOfWork, filename: str, data: bytes) -> StatementImportOut:
    """Store and reconcile every credit line of the statement, in one transaction."""
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Only staff import bank statements")
    source, lines = parse_statement(filename, data)

    def run() -> StatementImportOut:
        matched = queued = already = 0
        items = []
        for bl in lines:
            if uow.session.scalar(sa.select(StatementLine.id).where(StatementLine.entry_ref == bl.entry_ref)):
                already += 1
                continue
            row = StatementLine(source=source, entry_ref=bl.entry_ref, booked_on=bl.booked_on, currency=bl.currency,
                                amount_minor=Money(bl.amount, bl.currency).minor, remittance=bl.remittance or None,
                                counterparty=bl.counterparty, status="queued", imported_at=utcnow())
            _reconcile(uow, row, bl)
            uow.session.add(row)
            matched += row.status == "matched"
            queued += row.status == "queued"
            items.append(row)
        uow.session.flush()
        uow.audit("import", "bank_statement", filename[:100], after={"source": source, "lines": len(lines),
                                                                      "matched": matched, "queued": queued})
        uow.commit()
        return StatementImportOut(lines=len(lines), matched=matched, queued=queued, already_imported=already,
                                  items=[line_out(r) for r in items])

    try:
        return uow.run_in_transaction(run)
    except IntegrityError:
        raise ValidationProblem.for_field("file", "this statement is being imported by another request; retry",
                                          "concurrent_import") from None


def _reconcile(uow: UnitOfWork, row: StatementLine, bl: BankLine) -> None:
    tokens = {t.upper() for t in _TOKEN.findall(bl.remittance or "")}
    intent = None
    if tokens:
        intent = uow.session.scalar(sa.select(PaymentIntent).where(
            PaymentIntent.provider == PROVIDER, sa.func.upper(PaymentIntent.reference).in_(tokens))
            .order_by(PaymentIntent.id).limit(1).with_for_update())
    if intent is None:
        row.reason = "no bank-transfer order has this reference"
        return
    row.intent_id, row.order_number = intent.id, intent.order_number
    due = intent.amount_minor - intent.captured_minor
    if intent.status != "awaiting" or due <= 0:
        row.reason = f"order {intent.order_number} is not awaiting a transfer ({intent.status}): paid twice?"
        return
    if bl.currency != intent.currency or row.amount_minor != due:
        row.reason = (f"amount {minor_to_str(row.amount_minor, bl.currency)} {bl.currency} differs from the "
                      f"{minor_to_str(due, intent.currency)} {intent.currency} due on {intent.order_number}")
        return
    new, _ = rules.apply(figures(intent), "captured", intent.captured_minor + row.amount_minor)
    set_figures(intent, new)
    refused = outcomes.notify_order(uow, update_for(intent, "captured"))
    if refused:
        intent.note = refused
    row.status, row.reason = "matched", refused


def line_out(r: StatementLine) -> StatementLineOut:
    return StatementLineOut(id=r.id, source=r.source, entry_ref=r.entry_ref, booked_on=r.booked_on,
                            amount=minor_to_str(r.amount_minor, r.currency), currency=r.currency,
                            remittance=r.remittance, counterparty=r.counterparty, status=r.status, reason=r.reason,
                            order_number=r.order_number, imported_at=r.imported_at)


def list_lines(uow: UnitOfWork, *, status: str | None = None, limit: int = 50,
               cursor: str | None = None) -> tuple[list[StatementLineOut], str | None]:
    if uow.actor.role not in (Role.admin, Role.staff, Role.support_agent):
        raise Forbidden("Only the back office sees bank statements")
    stmt = sa.select(StatementLine)
    if status:
        stmt = stmt.where(StatementLine.status == status)
    return paginate(uow.session, stmt, StatementLine.id, limit=limit, cursor=cursor, convert=line_out, descending=True)


def resolve(uow: UnitOfWork, line_id: int, *, note: str) -> StatementLineOut:
    """A person dealt with a queued line (refunded the difference, contacted the payer ...)."""
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Only staff resolve reconciliation items")
    row = uow.session.get(StatementLine, line_id, with_for_update=True)
    if row is None:
        raise NotFound(f"Statement line {line_id} does not exist")
    if row.status != "queued":
        raise ValidationProblem.for_field("id", f"line {line_id} is {row.status}, not queued", "not_queued")
    row.status, row.resolved_by = "resolved", uow.actor.name
    row.reason = f"{row.reason or ''} | resolved: {note}"[:300]
    uow.audit("resolve", "bank_statement_line", row.id, after={"note": note})
    uow.commit()
    return line_out(row)
