"""Sales budgets against actuals. A budget plans a month for a unit (a rep or the team): revenue,
cost of goods, people, promotion, trade fees and retailer (KA) fees. Actuals: revenue from the
ledger (orders placed less returns), cost of goods from the landed costs (lines without a cost
are listed, not guessed), the other lines from the recorded expenses. A line whose actual drifts
from plan by more than the budget's threshold (default 10%) is an alert."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python

from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, MoneyError
from merx.core.uow import UnitOfWork
from merx.sales import targets
from merx.sales.models import Budget, Expense, LedgerLine, LedgerReturn
from merx.sales.scope import is_manager

LINES = ("revenue", "cost_of_goods", "people", "promotion", "trade_fees", "ka_fees")


def _month(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[5:7]), 1)


def budget_out(b: Budget) -> dict[str, Any]:
    return {"id": b.id, "month": b.month.strftime("%Y-%m"), "owner_user_id": b.owner_user_id, "currency": b.currency,
            "lines": b.lines, "alert_threshold": format(b.alert_threshold, "f")}


def create_budget(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) set budgets")
    lines = {}
    for k, v in data.lines.items():
        try:
            lines[k] = format(Money.of(v, data.currency).amount, "f")
        except MoneyError as e:
            raise ValidationProblem.for_field(f"lines.{k}", str(e)) from None
    try:
        threshold = Decimal(str(data.alert_threshold))
    except InvalidOperation:
        raise ValidationProblem.for_field("alert_threshold", "must be a share such as 0.1") from None
    if not threshold.is_finite() or not 0 < threshold < 10:
        raise ValidationProblem.for_field("alert_threshold", "must be a share above 0 (0.1 = 10%)")
    month = _month(data.month)
    if uow.session.scalar(sa.select(Budget.id).where(Budget.month == month, Budget.currency == data.currency,
                                                     Budget.owner_user_id.is_(None) if data.owner_user_id is None
                                                     else Budget.owner_user_id == data.owner_user_id)):
        raise Conflict("This unit already has a budget for the month", type_slug="duplicate-budget",
                       errors=[FieldError("month", "already budgeted for this unit", "duplicate")])
    b = Budget(month=month, owner_user_id=data.owner_user_id, currency=data.currency, lines=lines,
               alert_threshold=threshold)
    uow.session.add(b)
    uow.session.flush()
    uow.audit("create", "sales_budget", b.id, after=to_jsonable_python(budget_out(b)))
    uow.commit()
    return budget_out(b)


def record_expense(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) record expenses")
    money = data.amount.to_money()
    e = Expense(month=_month(data.month), owner_user_id=data.owner_user_id, kind=data.kind, currency=money.currency,
                amount_minor=money.minor, note=data.note)
    uow.session.add(e)
    uow.session.flush()
    uow.audit("create", "sales_expense", e.id, after={"kind": e.kind, "amount_minor": e.amount_minor})
    uow.commit()
    return {"id": e.id, "month": data.month, "owner_user_id": e.owner_user_id, "kind": e.kind,
            "amount": money.as_dict(), "note": e.note}


def actuals(uow: UnitOfWork, month: dt.date, owner: int | None, currency: str) -> dict[str, Any]:
    start, end = targets.at(month), targets.at(targets.next_month(month))
    ll, lr = LedgerLine, LedgerReturn
    conds = [ll.placed_at >= start, ll.placed_at < end, ll.currency == currency, ll.cancelled.is_(False)]
    rconds = [lr.returned_at >= start, lr.returned_at < end, ll.currency == currency, ll.cancelled.is_(False)]
    if owner is not None:
        conds.append(ll.rep_user_id == owner)
        rconds.append(ll.rep_user_id == owner)
    known = ll.unit_cost_minor.is_not(None)
    rev, cogs, unknown_n, unknown_rev = uow.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(ll.revenue_minor), 0),
        sa.func.coalesce(sa.func.sum(sa.case((known, ll.unit_cost_minor * ll.quantity), else_=0)), 0),
        sa.func.count(sa.case((~known, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((~known, ll.revenue_minor), else_=0)), 0)).where(*conds)).one()
    ret, ret_cogs = uow.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(lr.value_minor), 0),
        sa.func.coalesce(sa.func.sum(sa.case((known, ll.unit_cost_minor * lr.quantity), else_=0)), 0))
        .join(ll, sa.and_(ll.order_id == lr.order_id, ll.line_no == lr.line_no)).where(*rconds)).one()
    out = {"revenue": int(rev) - int(ret), "cost_of_goods": int(cogs) - int(ret_cogs)}
    stmt = sa.select(Expense.kind, sa.func.sum(Expense.amount_minor)).where(
        Expense.month == month, Expense.currency == currency,
        Expense.owner_user_id.is_(None) if owner is None else Expense.owner_user_id == owner).group_by(Expense.kind)
    out.update({k: 0 for k in LINES if k not in out})
    out.update({k: int(v) for k, v in uow.session.execute(stmt)})
    return {"minor": out, "cost_unknown": {"lines": int(unknown_n), "revenue_minor": int(unknown_rev)}}


def variance(uow: UnitOfWork, budget_id: int) -> dict[str, Any]:
    b = uow.session.get(Budget, budget_id)
    if b is None or (not is_manager(uow) and b.owner_user_id != uow.actor.user_id):
        raise NotFound(f"Budget {budget_id} does not exist")
    act = actuals(uow, b.month, b.owner_user_id, b.currency)
    rows, alerts = [], []
    for line in LINES:
        if line not in b.lines:
            continue
        plan = Money.of(b.lines[line], b.currency)
        actual = Money.from_minor(act["minor"][line], b.currency)
        diff = actual.amount - plan.amount
        share = (diff / plan.amount) if plan.amount else None
        alert = share is not None and abs(share) > b.alert_threshold
        row = {"line": line, "plan": format(plan.amount, "f"), "actual": format(actual.amount, "f"),
               "variance": format(diff, "f"), "variance_share": None if share is None else str(round(share, 4)),
               "alert": alert}
        rows.append(row)
        if alert:
            alerts.append(f"{line.replace('_', ' ')} is {abs(share) * 100:.1f}% {'above' if diff > 0 else 'below'} "
                          f"plan ({row['actual']} against {row['plan']} {b.currency})")
    return budget_out(b) | {"rows": rows, "alerts": alerts, "cost_unknown": act["cost_unknown"]}


def list_budgets(uow: UnitOfWork, *, month: dt.date | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(Budget).order_by(Budget.month.desc(), Budget.id)
    if not is_manager(uow):
        stmt = stmt.where(Budget.owner_user_id == uow.actor.user_id)
    if month is not None:
        stmt = stmt.where(Budget.month == month)
    return [budget_out(b) for b in uow.session.scalars(stmt.limit(2000))]
