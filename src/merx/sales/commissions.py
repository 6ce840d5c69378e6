"""Commission plans and monthly statements (rules in commission_rules.py).

A statement is computed per plan member and month from the sales ledger: every line names the
order, its line number, SKU, portfolio class and margin band, so a rep can trace each figure to
an order. Drafts are recomputed at will; approval locks a statement (it never changes again) and
emits `commission_statement.approved` for payroll. A correction to a locked statement is an
adjustment paid in the rep's next open month."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, MoneyError
from merx.core.spreadsheet import safe_row
from pydantic_core import to_jsonable_python

from merx.core.uow import UnitOfWork
from merx.sales import commission_rules as rules
from merx.sales import targets
from merx.sales.events import CommissionAdjustmentRecorded, CommissionPlanCreated, CommissionStatementApproved
from merx.sales.models import (CommissionAdjustment, CommissionLine, CommissionPlan, CommissionStatement, LedgerLine,
                               LedgerReturn)
from merx.sales.scope import SALES_ROLES, is_manager

ClassesFn = Callable[[UnitOfWork, str, dt.datetime], dict[str, str]]


def _manager(uow: UnitOfWork, what: str) -> None:
    if not is_manager(uow):
        raise Forbidden(f"Only sales managers (staff) {what}")


def _minor_of(currency: str) -> Callable[[Any, str], int]:
    def convert(amount: Any, field: str) -> int:
        try:
            return Money.of(amount, currency).minor
        except MoneyError as e:
            raise ValidationProblem.for_field(field, str(e)) from None
    return convert


def plan_of(p: CommissionPlan) -> rules.Plan:
    return rules.parse_plan(p.rules_json, minor_of=_minor_of(p.currency), members=p.members or [])


def plan_out(p: CommissionPlan) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "currency": p.currency, "rules": p.rules_json, "members": p.members or [],
            "active": p.active, "created_at": p.created_at}


def create_plan(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    from merx.core import accounts

    _manager(uow, "create commission plans")
    rules_json = data.rules.model_dump(mode="json", by_alias=True)
    rules.parse_plan(rules_json, minor_of=_minor_of(data.currency), members=data.members)
    for i, member in enumerate(data.members):
        if accounts.user_role(uow, member) not in SALES_ROLES:
            raise ValidationProblem.for_field(f"members[{i}]", f"user {member} is not an active sales rep or staff member")
    if len(set(data.members)) != len(data.members):
        raise ValidationProblem.for_field("members", "a rep is listed twice")
    p = CommissionPlan(name=data.name, currency=data.currency, rules_json=rules_json, members=list(data.members))
    uow.session.add(p)
    uow.session.flush()
    uow.emit(CommissionPlanCreated(plan_id=p.id, name=p.name, currency=p.currency, members=list(p.members)))
    uow.audit("create", "sales_commission_plan", p.id, after=to_jsonable_python(plan_out(p)))
    uow.commit()
    return plan_out(p)


def _plan(uow: UnitOfWork, plan_id: int) -> CommissionPlan:
    p = uow.session.get(CommissionPlan, plan_id)
    if p is None or (not is_manager(uow) and uow.actor.user_id not in (p.members or [])):
        raise NotFound(f"Commission plan {plan_id} does not exist")
    return p


def get_plan(uow: UnitOfWork, plan_id: int) -> dict[str, Any]:
    return plan_out(_plan(uow, plan_id))


def list_plans(uow: UnitOfWork) -> list[dict[str, Any]]:
    plans = uow.session.scalars(sa.select(CommissionPlan).order_by(CommissionPlan.id)).all()
    return [plan_out(p) for p in plans if is_manager(uow) or uow.actor.user_id in (p.members or [])]


def portfolio_classes(uow: UnitOfWork, currency: str, end: dt.datetime) -> dict[str, str]:
    """Each SKU's class in analytics' portfolio report over the 12 months before `end`."""
    from merx.analytics import public as analytics

    report = analytics.portfolio_report(uow, analytics.SalesScope(date_from=end - dt.timedelta(days=365),
                                                                  date_to=end, currency=currency),
                                        data_dir=uow.settings.data_dir)
    return {row["sku"]: row["class"] for row in report["products"]}


# -- computing statements ----------------------------------------------------------------------------

def ledger_inputs(uow: UnitOfWork, plan: rules.Plan, currency: str, start: dt.datetime,
                  end: dt.datetime) -> tuple[list[rules.Line], list[rules.Return]]:
    """The members' ledger lines a month's statements need: placed in the month, placed within the
    clawback window before it, or returned in it; and those lines' returns."""
    ll, lr = LedgerLine.__table__.c, LedgerReturn.__table__.c
    s = uow.session
    window_start = start - dt.timedelta(days=plan.clawback_days or 0)
    cols = (ll.order_id, ll.order_number, ll.line_no, ll.rep_user_id, ll.sku, ll.quantity, ll.revenue_minor,
            ll.unit_cost_minor, ll.placed_at, ll.paid_at)
    base = [ll.cancelled.is_(False), ll.currency == currency, ll.rep_user_id.in_(plan.members)]
    rows = s.execute(sa.select(*cols).where(*base, ll.placed_at >= window_start, ll.placed_at < end)).all()
    returned_keys = sa.select(lr.order_id).where(lr.returned_at >= start, lr.returned_at < end)
    rows += s.execute(sa.select(*cols).where(*base, ll.placed_at < window_start, sa.or_(
        ll.order_id.in_(returned_keys),
        # paid late, possibly after a clawback: reinstated in the month of payment, or carried
        # from the locked months of the last year (`late_reinstatements`)
        sa.and_(ll.paid_at >= start - dt.timedelta(days=REINSTATE_LOOKBACK_DAYS), ll.paid_at < end)))).all()
    lines = [rules.Line(*r) for r in rows]
    order_ids = {ln.order_id for ln in lines}
    returns = []
    if order_ids:
        for chunk in _chunks(sorted(order_ids), 5000):
            returns += [rules.Return(*r) for r in s.execute(
                sa.select(lr.order_id, lr.line_no, lr.quantity, lr.value_minor, lr.returned_at)
                .where(lr.order_id.in_(chunk), lr.returned_at < end))]
    return lines, returns


REINSTATE_LOOKBACK_DAYS = 366


def late_reinstatements(uow: UnitOfWork, p: CommissionPlan, plan: rules.Plan, reps: list[int], month: dt.date,
                        lines: list[rules.Line], as_of: dt.datetime) -> set[tuple[int, int]]:
    """Lines clawed back as unpaid and paid in an earlier month whose statement was locked without
    their reinstatement: they are reinstated in `month` when it is the rep's first open month
    since the payment (every month from the payment's to the one before is approved, none carrying
    the line's reinstatement). A locked statement is never changed: the correction comes later."""
    if not plan.clawback_days:
        return set()
    start = targets.at(month)
    due = [ln for ln in lines if ln.rep_user_id in reps and ln.paid_at is not None and ln.paid_at < start
           and ln.placed_at + dt.timedelta(days=plan.clawback_days) < ln.paid_at <= as_of
           and ln.placed_at + dt.timedelta(days=plan.clawback_days) <= as_of]
    if not due:
        return set()
    s = uow.session
    approved: dict[int, set[dt.date]] = {}
    for rep, m in s.execute(sa.select(CommissionStatement.rep_user_id, CommissionStatement.month).where(
            CommissionStatement.plan_id == p.id, CommissionStatement.rep_user_id.in_(reps),
            CommissionStatement.status == "approved", CommissionStatement.month < month)):
        approved.setdefault(rep, set()).add(m)
    carried = set(s.execute(sa.select(CommissionLine.order_id, CommissionLine.line_no).join(
        CommissionStatement, CommissionStatement.id == CommissionLine.statement_id).where(
        CommissionStatement.plan_id == p.id, CommissionStatement.status == "approved",
        CommissionLine.kind == "reinstatement")).all())
    out = set()
    for ln in due:
        if (ln.order_id, ln.line_no) in carried:
            continue
        m = targets.month_start(ln.paid_at.date())  # type: ignore[union-attr]
        locked = approved.get(ln.rep_user_id, set())
        while m < month and m in locked:
            m = targets.next_month(m)
        if m == month:
            out.add((ln.order_id, ln.line_no))
    return out


def _chunks(items: list[int], n: int) -> Any:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def compute_statements(uow: UnitOfWork, plan_id: int, month: dt.date, *, as_of: dt.datetime | None = None,
                       classes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """(Re)compute the month's draft statements of every plan member; approved ones stay as
    they are (listed with `locked`). `classes` (SKU -> portfolio class) defaults to analytics'
    portfolio report of the 12 months before the month's end."""
    _manager(uow, "compute commission statements")
    p = _plan(uow, plan_id)
    plan = plan_of(p)
    month = targets.month_start(month)
    start, end = targets.at(month), targets.at(targets.next_month(month))
    as_of = as_of or utcnow()
    if classes is None:
        classes = portfolio_classes(uow, p.currency, end)
    lines, returns = ledger_inputs(uow, plan, p.currency, start, end)
    s = uow.session
    existing = {st.rep_user_id: st for st in s.scalars(sa.select(CommissionStatement).where(
        CommissionStatement.plan_id == p.id, CommissionStatement.month == month))}
    adjustments: dict[int, list[tuple[int, str]]] = {}
    for a in s.scalars(sa.select(CommissionAdjustment).where(CommissionAdjustment.plan_id == p.id,
                                                           CommissionAdjustment.month == month)
                       .order_by(CommissionAdjustment.id)):
        adjustments.setdefault(a.rep_user_id, []).append(
            (a.amount_minor, f"correction of statement {a.corrects_statement_id}: {a.reason}"))
    cost_unknown: dict[int, list[int]] = {}
    for ln in lines:
        if start <= ln.placed_at < end and ln.unit_cost_minor is None:
            cost_unknown.setdefault(ln.rep_user_id, []).append(ln.revenue_minor)
    open_reps = [rep for rep in plan.members if not (rep in existing and existing[rep].status == "approved")]
    attained = {rep: targets.revenue_attainment(uow, rep, month, p.currency) for rep in open_reps}
    computed_by_rep = rules.month_statements(plan, open_reps, start=start, end=end, as_of=as_of, lines=lines,
                                             returns=returns, classes=classes, attainment=attained,
                                             adjustments=adjustments,
                                             reinstate_late=late_reinstatements(uow, p, plan, open_reps, month,
                                                                                lines, as_of))
    out = []
    for rep in plan.members:
        st = existing.get(rep)
        if rep not in computed_by_rep:
            out.append(statement_summary(st) | {"locked": True})
            continue
        computed = computed_by_rep[rep]
        if st is None:
            st = CommissionStatement(plan_id=p.id, rep_user_id=rep, month=month, currency=p.currency, status="draft")
            s.add(st)
            s.flush()
        else:
            s.execute(sa.delete(CommissionLine).where(CommissionLine.statement_id == st.id))
            st.version += 1
        # Core executemany (not the ORM's bulk path): a month of a large team is 100,000 lines
        s.execute(sa.insert(CommissionLine.__table__), [
            {"statement_id": st.id, "kind": x.kind, "order_id": x.order_id, "order_number": x.order_number,
             "line_no": x.line_no, "sku": x.sku, "portfolio_class": x.portfolio_class, "margin_band": x.margin_band,
             "base_minor": x.base_minor, "rate": x.rate, "amount_minor": x.amount_minor, "note": x.note}
            for x in computed] if computed else [])
        by_kind: dict[str, int] = {}
        for x in computed:
            by_kind[x.kind] = by_kind.get(x.kind, 0) + x.amount_minor
        unknown = cost_unknown.get(rep, [])
        st.total_minor = sum(by_kind.values())
        st.computed_at = as_of
        st.summary = {"by_kind": {k: Money.from_minor(v, p.currency).as_dict()["amount"] for k, v in by_kind.items()},
                      "attainment": None if attained[rep] is None else str(round(attained[rep], 6)),
                      "cost_unknown": {"lines": len(unknown),
                                       "revenue": Money.from_minor(sum(unknown), p.currency).as_dict()["amount"]},
                      "lines": len(computed)}
        s.flush()
        out.append(statement_summary(st) | {"locked": False})
    uow.audit("compute", "sales_commission_statements", f"{p.id}:{month.isoformat()}",
              after={"reps": len(plan.members), "ledger_lines": len(lines)})
    uow.commit()
    return out


# -- reading, approval, adjustments, export ---------------------------------------------------------

def statement_summary(st: CommissionStatement) -> dict[str, Any]:
    return {"id": st.id, "plan_id": st.plan_id, "rep_user_id": st.rep_user_id, "month": st.month.strftime("%Y-%m"),
            "status": st.status, "total": Money.from_minor(st.total_minor, st.currency).as_dict(),
            "summary": st.summary or {}, "version": st.version, "approved_by": st.approved_by,
            "approved_at": st.approved_at, "computed_at": st.computed_at}


def line_out(x: CommissionLine, currency: str) -> dict[str, Any]:
    return {"kind": x.kind, "order_id": x.order_id, "order_number": x.order_number, "line": x.line_no, "sku": x.sku,
            "portfolio_class": x.portfolio_class, "margin_band": x.margin_band,
            "base": Money.from_minor(x.base_minor, currency).as_dict()["amount"], "rate": format(x.rate, "f"),
            "amount": Money.from_minor(x.amount_minor, currency).as_dict()["amount"], "note": x.note}


def _statement(uow: UnitOfWork, statement_id: int, *, for_update: bool = False) -> CommissionStatement:
    stmt = sa.select(CommissionStatement).where(CommissionStatement.id == statement_id)
    if for_update:
        stmt = stmt.with_for_update()
    st = uow.session.scalar(stmt)
    if st is None or (not is_manager(uow) and st.rep_user_id != uow.actor.user_id):
        raise NotFound(f"Commission statement {statement_id} does not exist")
    return st


def statement_lines(uow: UnitOfWork, st: CommissionStatement) -> list[CommissionLine]:
    return list(uow.session.scalars(sa.select(CommissionLine).where(CommissionLine.statement_id == st.id)
                                    .order_by(CommissionLine.id)))


def get_statement(uow: UnitOfWork, statement_id: int) -> dict[str, Any]:
    st = _statement(uow, statement_id)
    return statement_summary(st) | {"currency": st.currency,
                                    "lines": [line_out(x, st.currency) for x in statement_lines(uow, st)]}


def list_statements(uow: UnitOfWork, *, month: dt.date | None = None, plan_id: int | None = None,
                    rep_user_id: int | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(CommissionStatement).order_by(CommissionStatement.month.desc(), CommissionStatement.id)
    if not is_manager(uow):
        stmt = stmt.where(CommissionStatement.rep_user_id == uow.actor.user_id)
    elif rep_user_id is not None:
        stmt = stmt.where(CommissionStatement.rep_user_id == rep_user_id)
    if month is not None:
        stmt = stmt.where(CommissionStatement.month == targets.month_start(month))
    if plan_id is not None:
        stmt = stmt.where(CommissionStatement.plan_id == plan_id)
    return [statement_summary(st) for st in uow.session.scalars(stmt.limit(2000))]


def approve(uow: UnitOfWork, statement_id: int) -> dict[str, Any]:
    _manager(uow, "approve commission statements")
    st = _statement(uow, statement_id, for_update=True)
    if st.status == "approved":
        raise Conflict(f"Statement {statement_id} is already approved and locked", type_slug="statement-locked")
    st.status, st.approved_by, st.approved_at = "approved", uow.actor.user_id, utcnow()
    st.version += 1
    by_kind = dict((st.summary or {}).get("by_kind", {}))
    uow.emit(CommissionStatementApproved(
        statement_id=st.id, plan_id=st.plan_id, rep_user_id=st.rep_user_id, month=st.month.strftime("%Y-%m"),
        currency=st.currency, total=Money.from_minor(st.total_minor, st.currency).amount, approved_by=st.approved_by, by_kind=by_kind,
        lines=int((st.summary or {}).get("lines", 0))), version=st.version)
    uow.audit("approve", "sales_commission_statement", st.id, after=to_jsonable_python(statement_summary(st)))
    uow.commit()
    return statement_summary(st)


def adjust(uow: UnitOfWork, statement_id: int, amount: Any, reason: str) -> dict[str, Any]:
    """A correction of a locked statement, paid in the rep's first month after it that is not
    locked yet (a draft statement is recomputed instead)."""
    _manager(uow, "correct commission statements")
    st = _statement(uow, statement_id)
    if st.status != "approved":
        raise Conflict(f"Statement {statement_id} is a draft: recompute it instead of adjusting it",
                       type_slug="statement-draft")
    try:
        minor = Money.of(amount.amount, amount.currency, allow_negative=True).minor
    except MoneyError as e:
        raise ValidationProblem.for_field("amount", str(e)) from None
    if amount.currency != st.currency:
        raise ValidationProblem.for_field("amount.currency", f"must be the statement's currency {st.currency}")
    month = targets.next_month(st.month)
    locked = set(uow.session.scalars(sa.select(CommissionStatement.month).where(
        CommissionStatement.plan_id == st.plan_id, CommissionStatement.rep_user_id == st.rep_user_id,
        CommissionStatement.status == "approved")))
    while month in locked:
        month = targets.next_month(month)
    a = CommissionAdjustment(plan_id=st.plan_id, rep_user_id=st.rep_user_id, month=month,
                             corrects_statement_id=st.id, amount_minor=minor, reason=reason,
                             created_by=uow.actor.user_id)
    uow.session.add(a)
    uow.session.flush()
    uow.emit(CommissionAdjustmentRecorded(
        statement_id=st.id, plan_id=st.plan_id, rep_user_id=st.rep_user_id, month=st.month.strftime("%Y-%m"),
        currency=st.currency, total=Money.from_minor(st.total_minor, st.currency).amount,
        amount=Money.from_minor(minor, st.currency).amount,
        paid_in=month.strftime("%Y-%m"), reason=reason))
    uow.audit("adjust", "sales_commission_statement", st.id, after={"amount_minor": minor, "paid_in": month.isoformat()})
    uow.commit()
    return {"id": a.id, "corrects_statement_id": st.id, "paid_in": month.strftime("%Y-%m"),
            "amount": Money.from_minor(minor, st.currency).as_dict(), "reason": reason}


EXPORT_HEADER = ["statement", "rep_user_id", "month", "status", "kind", "order_number", "line", "sku",
                 "portfolio_class", "margin_band", "base", "rate", "amount", "note"]


def export_rows(uow: UnitOfWork, statement_id: int) -> list[list[Any]]:
    st = _statement(uow, statement_id)
    rows = [EXPORT_HEADER]
    for x in statement_lines(uow, st):
        o = line_out(x, st.currency)
        rows.append(safe_row([st.id, st.rep_user_id, st.month.strftime("%Y-%m"), st.status, o["kind"],
                              o["order_number"], o["line"], o["sku"], o["portfolio_class"], o["margin_band"],
                              o["base"], o["rate"], o["amount"], o["note"]]))
    return rows


def export(uow: UnitOfWork, statement_id: int, fmt: str) -> tuple[bytes, str]:
    rows = export_rows(uow, statement_id)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        return buf.getvalue().encode(), "text/csv; charset=utf-8"
    if fmt != "xlsx":
        raise ValidationProblem.for_field("format", "must be csv or xlsx")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("statement")
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def totals_by_rep(uow: UnitOfWork, month: dt.date) -> dict[int, Decimal]:
    """The month's commission per rep (every plan), for the KPI pages."""
    rows = uow.session.execute(sa.select(CommissionStatement.rep_user_id, CommissionStatement.currency,
                                         sa.func.sum(CommissionStatement.total_minor))
                               .where(CommissionStatement.month == targets.month_start(month))
                               .group_by(CommissionStatement.rep_user_id, CommissionStatement.currency)).all()
    return {r[0]: Money.from_minor(int(r[2]), r[1]).amount for r in rows}
