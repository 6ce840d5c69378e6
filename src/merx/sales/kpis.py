"""KPIs per rep for a month, the leaderboard, and the bottom-3 review of dealers and customers.

Definitions (all from sales' own ledger and records, one currency at a time):
- revenue: ledger revenue of orders placed in the month less returns received in it;
- margin: the same less landed costs, over the lines with a cost; lines without one are counted
  in `cost_unknown` (lines, revenue), never given an assumed cost;
- new accounts, visits: accounts created / visits logged by the rep in the month;
- quote-to-win: quotes accepted / quotes decided (accepted or rejected) in the month;
- average deal size: mean amount of the deals won (closed in a won stage) in the month;
- DSO: revenue-weighted days from placement to payment (to the month's end while unpaid) of
  the orders placed in the month;
- collection rate: the share of the revenue of orders placed in the month that was paid by
  the month's end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.sales import targets
from merx.sales.deals import stages
from merx.sales.models import Deal, LedgerLine, LedgerReturn, Quote
from merx.sales.scope import is_manager


def _reps(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> list[int]:
    if not is_manager(uow):
        return [uow.actor.user_id]  # type: ignore[list-item]
    from merx.core import accounts
    from merx.core.auth import Role

    ids = set(uow.session.scalars(sa.select(LedgerLine.rep_user_id).where(
        LedgerLine.placed_at >= start, LedgerLine.placed_at < end).distinct()))
    ids |= set(uow.session.scalars(sa.select(Deal.owner_user_id).distinct()))
    return sorted(i for i in ids if accounts.user_role(uow, i) in (Role.sales_rep, Role.staff, Role.admin))


def quote_to_win(uow: UnitOfWork, rep: int, start: dt.datetime, end: dt.datetime) -> float | None:
    """Quotes accepted / quotes decided (accepted or rejected) in [start, end); None with none decided."""
    decided = uow.session.execute(sa.select(Quote.status, sa.func.count()).where(
        Quote.owner_user_id == rep, Quote.status.in_(("accepted", "rejected")),
        sa.func.coalesce(Quote.accepted_at, Quote.sent_at) >= start,
        sa.func.coalesce(Quote.accepted_at, Quote.sent_at) < end).group_by(Quote.status)).all()
    counts = {k: int(v) for k, v in decided}
    n_decided = counts.get("accepted", 0) + counts.get("rejected", 0)
    return round(counts.get("accepted", 0) / n_decided, 4) if n_decided else None


def metric(uow: UnitOfWork, name: str, rep: int, start: dt.datetime, end: dt.datetime, currency: str) -> Any:
    """One KPI of a rep over [start, end), as the KPI report computes it: money in minor units,
    counts, or the quote-to-win rate (`win_rate`, None when no quote was decided)."""
    if name == "win_rate":
        return quote_to_win(uow, rep, start, end)
    money = name in ("revenue", "margin", "units")
    return targets.measure(uow, name, start, end, rep=rep, currency=currency if money else None)["actual"]


def rep_kpis(uow: UnitOfWork, rep: int, month: dt.date, currency: str) -> dict[str, Any]:
    start, end = targets.at(month), targets.at(targets.next_month(month))
    s = uow.session
    money = targets.measure(uow, "revenue", start, end, rep=rep, currency=currency)
    new_accounts = targets.measure(uow, "new_accounts", start, end, rep=rep)["actual"]
    visits = targets.measure(uow, "visits", start, end, rep=rep)["actual"]
    win_rate = quote_to_win(uow, rep, start, end)
    won_codes = [st.code for st in stages(uow) if st.kind == "won"]
    won = s.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Deal.amount_minor), 0)).where(
        Deal.owner_user_id == rep, Deal.stage.in_(won_codes), Deal.currency == currency,
        Deal.closed_at >= start, Deal.closed_at < end)).one()
    orders: dict[int, list[Any]] = {}
    for oid, placed_at, paid_at, rev in s.execute(sa.select(
            LedgerLine.order_id, LedgerLine.placed_at, LedgerLine.paid_at, LedgerLine.revenue_minor).where(
            LedgerLine.rep_user_id == rep, LedgerLine.currency == currency, LedgerLine.cancelled.is_(False),
            LedgerLine.placed_at >= start, LedgerLine.placed_at < end)):
        o = orders.setdefault(oid, [placed_at, paid_at, 0])
        o[2] += rev
    total = sum(o[2] for o in orders.values())
    paid = sum(o[2] for o in orders.values() if o[1] is not None and o[1] < end)
    weighted_days = sum(Decimal(o[2]) * Decimal(((o[1] if o[1] is not None and o[1] < end else end) - o[0])
                                                .total_seconds()) / 86400 for o in orders.values())
    return {
        "rep_user_id": rep, "month": month.strftime("%Y-%m"), "currency": currency,
        "revenue": Money.from_minor(money["revenue"], currency).as_dict()["amount"],
        "margin": Money.from_minor(money["margin"], currency).as_dict()["amount"],
        "cost_unknown": money["cost_unknown"], "units": money["units"],
        "new_accounts": new_accounts, "visits": visits,
        "quote_to_win": win_rate,
        "average_deal_size": Money.from_minor(int(won[1]) // int(won[0]), currency).as_dict()["amount"]
        if won[0] else None,
        "dso_days": round(float(weighted_days / total), 1) if total else None,
        "collection_rate": round(paid / total, 4) if total else None,
    }


def kpis(uow: UnitOfWork, month: dt.date, currency: str | None = None) -> dict[str, Any]:
    currency = currency or uow.settings.default_currency
    start, end = targets.at(month), targets.at(targets.next_month(month))
    reps = _reps(uow, start, end)
    rows = [rep_kpis(uow, r, month, currency) for r in reps]
    board = sorted(rows, key=lambda r: Decimal(r["revenue"]), reverse=True)
    team = targets.measure(uow, "revenue", start, end, rep=None, currency=currency) if is_manager(uow) else None
    return {"month": month.strftime("%Y-%m"), "currency": currency, "reps": rows,
            "leaderboard": [{"rank": i + 1, "rep_user_id": r["rep_user_id"], "revenue": r["revenue"]}
                            for i, r in enumerate(board)],
            "team": None if team is None else {
                "revenue": Money.from_minor(team["revenue"], currency).as_dict()["amount"],
                "margin": Money.from_minor(team["margin"], currency).as_dict()["amount"],
                "cost_unknown": team["cost_unknown"]}}


def profit_contributors(uow: UnitOfWork, year: int, currency: str, *, by: str) -> dict[str, Any]:
    """The bottom-3 review of a year for accounts (`by="customer"`) or dealers (`by="dealer"`):
    each one's revenue, known margin and unknown-cost revenue, the three lowest margins named."""
    from merx.sales.models import Account, Dealer

    start, end = targets.at(dt.date(year, 1, 1)), targets.at(dt.date(year + 1, 1, 1))
    ll, lr = LedgerLine, LedgerReturn
    known = ll.unit_cost_minor.is_not(None)
    rows = {r[0]: [int(r[1]), int(r[2]), int(r[3])] for r in uow.session.execute(sa.select(
        ll.account_id, sa.func.sum(ll.revenue_minor),
        sa.func.sum(sa.case((known, ll.revenue_minor - ll.unit_cost_minor * ll.quantity), else_=0)),
        sa.func.sum(sa.case((~known, ll.revenue_minor), else_=0))).where(
        ll.placed_at >= start, ll.placed_at < end, ll.currency == currency, ll.cancelled.is_(False))
        .group_by(ll.account_id))}
    for acc, value, margin in uow.session.execute(sa.select(
            ll.account_id, sa.func.sum(lr.value_minor),
            sa.func.sum(sa.case((known, lr.value_minor - ll.unit_cost_minor * lr.quantity), else_=0)))
            .join(ll, sa.and_(ll.order_id == lr.order_id, ll.line_no == lr.line_no)).where(
            lr.returned_at >= start, lr.returned_at < end, ll.currency == currency, ll.cancelled.is_(False))
            .group_by(ll.account_id)):
        r = rows.setdefault(acc, [0, 0, 0])
        r[0] -= int(value)
        r[1] -= int(margin)
    dealer_of = {d.account_id: d for d in uow.session.scalars(sa.select(Dealer))}
    if not is_manager(uow):
        rows = {a: v for a, v in rows.items() if uow.session.scalar(
            sa.select(Account.owner_user_id).where(Account.id == a)) == uow.actor.user_id}
    if by == "dealer":
        rows = {a: v for a, v in rows.items() if a in dealer_of}
    else:
        rows = {a: v for a, v in rows.items() if a not in dealer_of}
    names = dict(uow.session.execute(sa.select(Account.id, Account.name).where(Account.id.in_(list(rows) or [0]))).all())
    items = [{"account_id": a, "name": names.get(a), "dealer_id": dealer_of[a].id if a in dealer_of else None,
              "revenue": Money.from_minor(v[0], currency).as_dict()["amount"],
              "margin": Money.from_minor(v[1], currency).as_dict()["amount"],
              "cost_unknown_revenue": Money.from_minor(v[2], currency).as_dict()["amount"], "_m": v[1]}
             for a, v in rows.items()]
    items.sort(key=lambda x: (x["_m"], x["account_id"]))
    for i, x in enumerate(items):
        x["bottom_3"] = i < 3 and len(items) > 3
        x.pop("_m")
    return {"year": year, "currency": currency, "by": by, "items": items,
            "bottom_3": [x for x in items if x["bottom_3"]],
            "evidence": "margin = ledger revenue less returns less landed cost, over lines with a known cost; "
                        "cost_unknown_revenue is revenue whose lines had no cost (left out of margin)"}
