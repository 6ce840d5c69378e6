"""The seller money ledger, commission rules, adjustments and payout cycles.

A payout cycle closes every open ledger entry created before its `period_end`: per seller
and currency it sums them (rules.payout_figures); a positive net is paid (a `payout` entry
of minus that amount closes the balance, a payout.issued event tells the finance system);
a zero or negative net is not paid, its entries stay open and carry into the next cycle
(refunds after a payout become a negative balance that way).

Idempotent: one cycle per `period_end` (a unique column). A second run for the same cycle,
or for a period ending before the last cycle's, is refused (409) and moves nothing; the
scheduler's job skips a cycle that exists."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, page_list, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.spreadsheet import safe_row
from merx.core.uow import UnitOfWork
from merx.sellers import rules
from merx.sellers.access import check_visible, own_seller_id, require_staff, seller_for_write
from merx.sellers.events import PayoutIssued
from merx.sellers.models import CommissionRule, LedgerEntry, Payout, PayoutCycle
from merx.sellers.schemas import (AdjustmentIn, CommissionRuleIn, CommissionRuleOut, LedgerEntryOut, PayoutCycleOut,
                                  PayoutOut)

# kinds folded into each statement column (commission_refund: commission given back)
STATEMENT_KIND = {"sale": "sale", "commission": "commission", "commission_refund": "commission", "refund": "refund",
                  "adjustment": "adjustment"}


def _m(minor: int, currency: str) -> MoneyOut:
    return MoneyOut.of(Money.from_minor(minor, currency))


# -- commission rules ------------------------------------------------------------------------

def set_commission_rule(uow: UnitOfWork, data: CommissionRuleIn) -> CommissionRuleOut:
    """Create or replace the rate for (category, seller); staff only."""
    require_staff(uow)
    if data.seller_id is not None:
        seller_for_write(uow, data.seller_id)
    row = uow.session.scalar(sa.select(CommissionRule).where(
        CommissionRule.category.is_(None) if data.category is None else CommissionRule.category == data.category,
        CommissionRule.seller_id.is_(None) if data.seller_id is None else CommissionRule.seller_id == data.seller_id))
    before = str(row.rate) if row else None
    if row is None:
        row = CommissionRule(category=data.category, seller_id=data.seller_id, rate=data.rate, created_at=utcnow())
        uow.session.add(row)
    row.rate = data.rate
    uow.session.flush()
    uow.audit("set", "commission_rule", row.id, before={"rate": before}, after={"rate": str(data.rate),
                                                                                  "category": data.category,
                                                                                  "seller_id": data.seller_id})
    uow.commit()
    return CommissionRuleOut.model_validate(row, from_attributes=True)


def list_commission_rules(uow: UnitOfWork) -> list[CommissionRuleOut]:
    """Staff see every rule; a seller sees the rules that apply to it (general and its own)."""
    own = own_seller_id(uow)
    stmt = sa.select(CommissionRule).order_by(CommissionRule.id)
    if own is not None:
        stmt = stmt.where(sa.or_(CommissionRule.seller_id.is_(None), CommissionRule.seller_id == own))
    return [CommissionRuleOut.model_validate(r, from_attributes=True) for r in uow.session.scalars(stmt)]


# -- ledger ----------------------------------------------------------------------------------

def entry_out(e: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(id=e.id, seller_id=e.seller_id, kind=e.kind, amount=_m(e.amount_minor, e.currency),
                          seller_order_id=e.seller_order_id, line_id=e.line_id, payout_id=e.payout_id,
                          description=e.description, created_at=e.created_at)


def ledger_stmt(seller_id: int | None) -> sa.Select:
    stmt = sa.select(LedgerEntry)
    return stmt.where(LedgerEntry.seller_id == seller_id) if seller_id is not None else stmt


def list_ledger(uow: UnitOfWork, *, seller_id: int | None = None, limit: int | None = None,
                cursor: str | None = None) -> Page[LedgerEntryOut]:
    own = own_seller_id(uow)
    items, nxt = paginate(uow.session, ledger_stmt(own if own is not None else seller_id), LedgerEntry.id,
                          limit=check_limit(limit, 100, 1000), cursor=cursor, convert=entry_out, descending=True)
    return Page[LedgerEntryOut](items=items, next_cursor=nxt)


def balances(uow: UnitOfWork, seller_id: int | None) -> dict[str, MoneyOut]:
    """Open balance (not yet paid out) per currency."""
    stmt = (sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount_minor))
            .where(LedgerEntry.payout_id.is_(None)).group_by(LedgerEntry.currency))
    if seller_id is not None:
        stmt = stmt.where(LedgerEntry.seller_id == seller_id)
    return {c: _m(int(total or 0), c) for c, total in uow.session.execute(stmt)}


def add_adjustment(uow: UnitOfWork, data: AdjustmentIn) -> LedgerEntryOut:
    require_staff(uow)
    seller_for_write(uow, data.seller_id)
    money = data.amount.to_money()
    if money.minor == 0:
        raise ValidationProblem.for_field("amount.amount", "must not be zero", "zero")
    e = LedgerEntry(seller_id=data.seller_id, kind="adjustment",
                    amount_minor=money.minor if data.direction == "credit" else -money.minor, currency=money.currency,
                    description=data.description, created_at=utcnow())
    uow.session.add(e)
    uow.session.flush()
    uow.audit("adjust", "seller_ledger", e.id, after={"seller_id": e.seller_id, "amount": e.amount_minor,
                                                      "description": e.description})
    uow.commit()
    return entry_out(e)


# -- payout cycles ---------------------------------------------------------------------------

def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def run_payout_cycle(uow: UnitOfWork, period_end: dt.datetime, *, now: dt.datetime | None = None) -> PayoutCycleOut:
    """Close the cycle ending at `period_end` (see the module docstring)."""
    require_staff(uow)
    now = now or utcnow()
    period_end = _aware(period_end)
    if period_end > now:
        raise ValidationProblem.for_field("period_end", "a cycle can only close a period that has ended",
                                          "in_future")
    if uow.session.scalar(sa.select(PayoutCycle.id).where(PayoutCycle.period_end == period_end)) is not None:
        raise Conflict(f"The payout cycle ending {period_end.isoformat()} has already run; nothing was paid twice",
                       type_slug="payout-cycle-done")
    last = uow.session.scalar(sa.select(sa.func.max(PayoutCycle.period_end)))
    if last is not None and _aware(last) > period_end:
        raise Conflict(f"A later payout cycle (ending {_aware(last).isoformat()}) has already run",
                       type_slug="payout-cycle-done")
    cycle = PayoutCycle(period_start=last, period_end=period_end, status="completed", run_at=now)
    uow.session.add(cycle)
    try:
        with uow.savepoint():
            uow.session.flush()
    except IntegrityError:
        raise Conflict(f"The payout cycle ending {period_end.isoformat()} has already run; nothing was paid twice",
                       type_slug="payout-cycle-done") from None
    open_entry = sa.and_(LedgerEntry.payout_id.is_(None), LedgerEntry.created_at < period_end)
    sums: dict[tuple[int, str], list[tuple[str, int]]] = {}
    entries = 0
    for seller_id, currency, kind, total, count in uow.session.execute(
            sa.select(LedgerEntry.seller_id, LedgerEntry.currency, LedgerEntry.kind,
                      sa.func.sum(LedgerEntry.amount_minor), sa.func.count())
            .where(open_entry).group_by(LedgerEntry.seller_id, LedgerEntry.currency, LedgerEntry.kind)):
        sums.setdefault((seller_id, currency), []).append((STATEMENT_KIND[kind], int(total)))
        entries += int(count)
    payouts: list[Payout] = []
    for (seller_id, currency), parts in sorted(sums.items()):
        f = rules.payout_figures(parts)
        payouts.append(Payout(cycle_id=cycle.id, seller_id=seller_id, currency=currency,
                              sales_minor=f["sales_minor"], commission_minor=f["commission_minor"],
                              refunds_minor=f["refunds_minor"], adjustments_minor=f["adjustments_minor"],
                              amount_minor=max(f["amount_minor"], 0),
                              status="paid" if f["amount_minor"] > 0 else "carried", created_at=now))
    uow.session.add_all(payouts)
    uow.session.flush()
    paid = [p for p in payouts if p.status == "paid"]
    if paid:
        # one UPDATE ... FROM closes every paid seller's open entries, not one statement per
        # seller. PostgreSQL plans it from table statistics: the payouts just inserted are not
        # in them yet, and a plan for an "empty" table scans it once per ledger row (minutes
        # at 200,000 entries). ANALYZE of these few rows makes it a hash join.
        if uow.session.get_bind().dialect.name == "postgresql":
            uow.session.execute(sa.text("ANALYZE sellers_payouts"))
        uow.session.execute(sa.update(LedgerEntry)
                            .where(open_entry, Payout.cycle_id == cycle.id, Payout.status == "paid",
                                   Payout.seller_id == LedgerEntry.seller_id, Payout.currency == LedgerEntry.currency)
                            .values(payout_id=Payout.id).execution_options(synchronize_session=False))
    if paid:
        uow.session.execute(sa.insert(LedgerEntry), [
            {"seller_id": p.seller_id, "kind": "payout", "amount_minor": -p.amount_minor, "currency": p.currency,
             "payout_id": p.id, "description": f"payout of cycle {cycle.id}", "created_at": now} for p in paid])
    for p in paid:
        c = p.currency
        uow.emit(PayoutIssued(payout_id=p.id, cycle_id=cycle.id, seller_id=p.seller_id, period_end=period_end,
                              amount=Money.from_minor(p.amount_minor, c), sales=Money.from_minor(p.sales_minor, c),
                              commission=Money.from_minor(-p.commission_minor, c),
                              refunds=Money.from_minor(-p.refunds_minor, c),
                              adjustments=Money.from_minor(p.adjustments_minor, c).amount), version=1)
    cycle.sellers, cycle.entries = len(payouts), entries
    uow.audit("run", "payout_cycle", cycle.id, after={"period_end": period_end.isoformat(), "sellers": len(payouts),
                                                      "paid": len(paid), "entries": entries})
    uow.commit()
    return PayoutCycleOut.model_validate(cycle, from_attributes=True)


def cycle_end_before(now: dt.datetime) -> dt.datetime:
    """Weekly cycles end on Monday 00:00 UTC: the latest such moment not after `now`."""
    now = _aware(now).astimezone(dt.timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - dt.timedelta(days=midnight.weekday())


def run_due_cycle(uow: UnitOfWork, now: dt.datetime) -> str:
    """The scheduler's job: close last week's cycle unless it ran."""
    end = cycle_end_before(now)
    last = uow.session.scalar(sa.select(sa.func.max(PayoutCycle.period_end)))
    if last is not None and _aware(last) >= end:
        return f"cycle ending {end.date()} already ran"
    out = run_payout_cycle(uow, end, now=now)
    return f"cycle {out.id}: {out.sellers} sellers, {out.entries} entries"


def payout_out(p: Payout, cycle: PayoutCycle) -> PayoutOut:
    c = p.currency
    return PayoutOut(id=p.id, cycle_id=p.cycle_id, seller_id=p.seller_id, period_start=cycle.period_start,
                     period_end=cycle.period_end, sales=_m(p.sales_minor, c), commission=_m(p.commission_minor, c),
                     refunds=_m(p.refunds_minor, c), adjustments=_m(p.adjustments_minor, c),
                     amount=_m(p.amount_minor, c), status=p.status)


def list_payouts(uow: UnitOfWork, *, seller_id: int | None = None, limit: int | None = None,
                 cursor: str | None = None) -> Page[PayoutOut]:
    own = own_seller_id(uow)
    stmt = sa.select(Payout)
    sid = own if own is not None else seller_id
    if sid is not None:
        stmt = stmt.where(Payout.seller_id == sid)
    cycles: dict[int, PayoutCycle] = {}

    def convert(p: Payout) -> PayoutOut:
        if p.cycle_id not in cycles:
            cycles[p.cycle_id] = uow.session.get(PayoutCycle, p.cycle_id)
        return payout_out(p, cycles[p.cycle_id])

    items, nxt = paginate(uow.session, stmt, Payout.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=convert, descending=True)
    return Page[PayoutOut](items=items, next_cursor=nxt)


def _load_payout(uow: UnitOfWork, payout_id: int) -> Payout:
    p = uow.session.get(Payout, payout_id)
    if p is None:
        raise NotFound(f"Payout {payout_id} does not exist")
    check_visible(uow, p.seller_id, f"Payout {payout_id}")
    return p


def get_payout(uow: UnitOfWork, payout_id: int) -> PayoutOut:
    p = _load_payout(uow, payout_id)
    return payout_out(p, uow.session.get(PayoutCycle, p.cycle_id))


def list_cycles(uow: UnitOfWork) -> list[PayoutCycleOut]:
    require_staff(uow)
    return [PayoutCycleOut.model_validate(c, from_attributes=True)
            for c in uow.session.scalars(sa.select(PayoutCycle).order_by(PayoutCycle.period_end.desc()).limit(200))]


def cycle_page(uow: UnitOfWork, *, limit: int | None = None, cursor: str | None = None) -> Page[PayoutCycleOut]:
    """`GET /payouts/cycles`: the newest run first (cycles are run in period order)."""
    require_staff(uow)
    items, nxt = paginate(uow.session, sa.select(PayoutCycle), PayoutCycle.id, limit=check_limit(limit, 50, 500),
                          cursor=cursor, convert=lambda c: PayoutCycleOut.model_validate(c, from_attributes=True),
                          descending=True)
    return Page[PayoutCycleOut](items=items, next_cursor=nxt)


def commission_page(uow: UnitOfWork, *, limit: int | None = None, cursor: str | None = None) -> Page[CommissionRuleOut]:
    """`GET /seller-commissions`: a handful of rules, read whole and paged like every list."""
    items, nxt = page_list(list_commission_rules(uow), lambda r: r.id, limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[CommissionRuleOut](items=items, next_cursor=nxt)


STATEMENT_HEADER = ["date", "kind", "description", "seller_order_id", "line_id", "amount", "currency"]


def statement_rows(uow: UnitOfWork, payout_id: int) -> tuple[PayoutOut, list[list[Any]]]:
    p = _load_payout(uow, payout_id)
    out = payout_out(p, uow.session.get(PayoutCycle, p.cycle_id))
    rows = [[e.created_at.isoformat(), e.kind, e.description or "", e.seller_order_id or "", e.line_id or "",
             Money.from_minor(e.amount_minor, e.currency).as_dict()["amount"], e.currency]
            for e in uow.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.seller_id == p.seller_id,
                                                                      LedgerEntry.payout_id == p.id)
                                         .order_by(LedgerEntry.id))]
    return out, rows


def statement_csv(uow: UnitOfWork, payout_id: int) -> str:
    """The payout's statement: every entry it closed, then its totals (cells through safe_row)."""
    out, rows = statement_rows(uow, payout_id)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(STATEMENT_HEADER)
    for r in rows:
        w.writerow(safe_row(r))
    for label, money in (("total sales", out.sales), ("total commission", out.commission),
                         ("total refunds", out.refunds), ("total adjustments", out.adjustments),
                         ("paid out", out.amount)):
        w.writerow(safe_row(["", "summary", label, "", "", money.amount, money.currency]))
    return buf.getvalue()


def statement_pdf(uow: UnitOfWork, payout_id: int) -> bytes:
    """The same statement as a one-table PDF (fpdf2, built-in Helvetica: Latin-1 text only;
    other characters are replaced rather than failing the statement)."""
    from fpdf import FPDF

    out, rows = statement_rows(uow, payout_id)

    def latin(text: Any) -> str:
        return str(text).encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, latin(f"Payout statement {out.id}, seller {out.seller_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    start = out.period_start.date().isoformat() if out.period_start else "the start"
    pdf.cell(0, 6, latin(f"Period: {start} to {out.period_end.date().isoformat()} - status {out.status}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (42, 24, 140, 22, 18, 26)
    pdf.set_font("Helvetica", "B", 9)
    for w, h in zip(widths, ("Date", "Kind", "Description", "Order", "Line", "Amount")):
        pdf.cell(w, 6, h, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=8)
    for date, kind, description, so_id, line_id, amount, currency in rows:
        for w, v, align in zip(widths, (date[:19], kind, description[:90], so_id, line_id, f"{amount} {currency}"),
                               ("L", "L", "L", "R", "R", "R")):
            pdf.cell(w, 5, latin(v), border=1, align=align)
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 9)
    for label, money in (("Sales", out.sales), ("Commission", out.commission), ("Refunds", out.refunds),
                         ("Adjustments", out.adjustments), ("Paid out", out.amount)):
        pdf.cell(50, 6, label)
        pdf.cell(40, 6, f"{money.amount} {money.currency}", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
