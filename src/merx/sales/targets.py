"""SMART targets: a measure (revenue, margin, units, new accounts, visits) over a period for an
owner (a rep, or the whole team when no rep is named), optionally one product category.

An annual company target is decomposed into month x rep x category parts, either by last year's
seasonality (the shares the same month, rep and category had of last year's ledger) or by hand;
the parts must add up to the annual figure exactly (refused otherwise). Attainment is computed
live from the sales ledger (orders placed, less returns in the period), the accounts and the
visits; a run-rate forecast says whether the period will be met."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import FieldError, NotFound, ValidationProblem
from merx.core.money import Money, MoneyError, exponent
from pydantic_core import to_jsonable_python

from merx.core.uow import UnitOfWork
from merx.sales.events import TargetsSet
from merx.sales.models import Account, Activity, LedgerLine, LedgerReturn, Target
from merx.sales.scope import is_manager

MONEY_MEASURES = ("revenue", "margin")
MEASURES = ("revenue", "margin", "units", "new_accounts", "visits")


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def next_month(d: dt.date) -> dt.date:
    return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def at(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)


def _step(measure: str, currency: str | None) -> Decimal:
    """The smallest part a value splits into: a cent of the currency, or one unit/account/visit."""
    return Decimal(1).scaleb(-exponent(currency)) if measure in MONEY_MEASURES and currency else Decimal(1)


def allocate(total: Decimal, weights: list[Decimal], step: Decimal) -> list[Decimal]:
    """Split `total` by `weights` in multiples of `step` that add up exactly (largest remainder)."""
    units = int(total / step)
    wsum = sum(weights)
    raw = [Decimal(units) * w / wsum for w in weights]
    floors = [int(r.to_integral_value(ROUND_FLOOR)) for r in raw]
    left = units - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(f) * step for f in floors]


def _value(measure: str, currency: str | None, raw: Any, field: str) -> Decimal:
    if measure in MONEY_MEASURES:
        if not currency:
            raise ValidationProblem.for_field("currency", f"a {measure} target needs a currency", "required")
        try:
            return Money.of(raw, currency).amount
        except MoneyError as e:
            raise ValidationProblem.for_field(field, str(e)) from None
    try:
        v = Decimal(str(raw))
    except Exception:  # noqa: BLE001 - any unparsable value is the same 422
        raise ValidationProblem.for_field(field, f"{raw!r} is not a number") from None
    if v < 0 or v != v.to_integral_value():
        raise ValidationProblem.for_field(field, f"a {measure} target is a whole non-negative number")
    return v


def target_out(t: Target) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "measure": t.measure, "period_start": t.period_start,
            "period_end": t.period_end, "owner_user_id": t.owner_user_id, "team": t.team, "category": t.category,
            "currency": t.currency, "value": format(t.value, "f"), "parent_id": t.parent_id, "method": t.method}


def _require_manager(uow: UnitOfWork) -> None:
    if not is_manager(uow):
        from merx.core.errors import Forbidden
        raise Forbidden("Only sales managers (staff) set targets")


def create_target(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    _require_manager(uow)
    if data.period_end <= data.period_start:
        raise ValidationProblem.for_field("period_end", "must be after period_start")
    t = Target(name=data.name, measure=data.measure, period_start=data.period_start, period_end=data.period_end,
               owner_user_id=data.owner_user_id, team=data.team, category=data.category, currency=data.currency,
               value=_value(data.measure, data.currency, data.value, "value"), method="manual")
    uow.session.add(t)
    uow.session.flush()
    uow.emit(TargetsSet(target_id=t.id, name=t.name, measure=t.measure, year=t.period_start.year, parts=0,
                        method="manual"))
    uow.audit("create", "sales_target", t.id, after=to_jsonable_python(target_out(t)))
    uow.commit()
    return target_out(t)


def seasonality_weights(uow: UnitOfWork, year: int, measure: str, owners: list[int],
                        categories: list[str | None]) -> dict[tuple[int, int, str | None], Decimal]:
    """Last year's share per (month, rep, category): revenue for money and count measures,
    units for a units target."""
    ll = LedgerLine
    value = ll.quantity if measure == "units" else ll.revenue_minor
    stmt = (sa.select(ll.placed_at, ll.rep_user_id, ll.category, value)
            .where(ll.placed_at >= at(dt.date(year - 1, 1, 1)), ll.placed_at < at(dt.date(year, 1, 1)),
                   ll.cancelled.is_(False), ll.rep_user_id.in_(owners)))
    weights: dict[tuple[int, int, str | None], Decimal] = {}
    wanted = set(categories)
    for placed_at, rep, category, v in uow.session.execute(stmt):
        cat = category if category in wanted else (None if None in wanted else "__other__")
        if cat == "__other__":
            continue
        key = (placed_at.month, rep, cat)
        weights[key] = weights.get(key, Decimal(0)) + Decimal(v)
    return {k: w for k, w in weights.items() if w > 0}


def decompose(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    """An annual target and its month x rep x category parts (by seasonality or by hand)."""
    _require_manager(uow)
    total = _value(data.measure, data.currency, data.total, "total")
    step = _step(data.measure, data.currency)
    categories: list[str | None] = list(data.categories) if data.categories else [None]
    if data.method == "seasonality":
        if not data.owners:
            raise ValidationProblem.for_field("owners", "name the reps the target is split between", "required")
        weights = seasonality_weights(uow, data.year, data.measure, data.owners, categories)
        if not weights:
            raise ValidationProblem.for_field("method", f"no sales in {data.year - 1} for these reps and categories to "
                                              "take the seasonality from; give the parts by hand (method: manual)")
        keys = sorted(weights, key=lambda k: (k[0], k[1], k[2] or ""))
        values = allocate(total, [weights[k] for k in keys], step)
        parts = [(m, rep, cat, v) for (m, rep, cat), v in zip(keys, values)]
    else:
        if not data.parts:
            raise ValidationProblem.for_field("parts", "a manual decomposition lists its parts", "required")
        parts = []
        for i, p in enumerate(data.parts):
            parts.append((p.month, p.owner_user_id, p.category,
                          _value(data.measure, data.currency, p.value, f"parts[{i}].value")))
        added = sum(v for *_, v in parts)
        if added != total:
            raise ValidationProblem("The parts do not add up to the annual target", errors=[FieldError(
                "parts", f"parts add up to {added}, not the annual {total} (difference {total - added})", "sum")])
        seen = set()
        for i, (m, rep, cat, _v) in enumerate(parts):
            if (m, rep, cat) in seen:
                raise ValidationProblem.for_field(f"parts[{i}]", f"month {m}, owner {rep}, category {cat} appears twice")
            seen.add((m, rep, cat))
    parent = Target(name=data.name, measure=data.measure, period_start=dt.date(data.year, 1, 1),
                    period_end=dt.date(data.year + 1, 1, 1), owner_user_id=None, team="company", category=None,
                    currency=data.currency, value=total, method=data.method)
    uow.session.add(parent)
    uow.session.flush()
    for m, rep, cat, v in parts:
        start = dt.date(data.year, m, 1)
        uow.session.add(Target(name=f"{data.name} {data.year}-{m:02d}", measure=data.measure, period_start=start,
                               period_end=next_month(start), owner_user_id=rep, team=None, category=cat,
                               currency=data.currency, value=v, parent_id=parent.id, method=data.method))
    uow.session.flush()
    uow.emit(TargetsSet(target_id=parent.id, name=parent.name, measure=parent.measure, year=data.year,
                        parts=len(parts), method=data.method))
    uow.audit("create", "sales_target", parent.id, after=to_jsonable_python(target_out(parent)))
    uow.commit()
    return get_target(uow, parent.id)


def _visible(uow: UnitOfWork, t: Target | None, target_id: int) -> Target:
    if t is None or (not is_manager(uow) and t.owner_user_id != uow.actor.user_id):
        raise NotFound(f"Target {target_id} does not exist")
    return t


def get_target(uow: UnitOfWork, target_id: int) -> dict[str, Any]:
    t = _visible(uow, uow.session.get(Target, target_id), target_id)
    parts = list(uow.session.scalars(sa.select(Target).where(Target.parent_id == t.id).order_by(Target.id)))
    return target_out(t) | {"parts": [target_out(p) for p in parts],
                            "parts_total": format(sum((p.value for p in parts), Decimal(0)), "f") if parts else None}


def list_targets(uow: UnitOfWork, *, year: int | None = None, owner_user_id: int | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(Target).order_by(Target.period_start, Target.id)
    if not is_manager(uow):
        stmt = stmt.where(Target.owner_user_id == uow.actor.user_id)
    elif owner_user_id is not None:
        stmt = stmt.where(Target.owner_user_id == owner_user_id)
    if year is not None:
        stmt = stmt.where(Target.period_start >= dt.date(year, 1, 1), Target.period_start < dt.date(year + 1, 1, 1))
    return [target_out(t) for t in uow.session.scalars(stmt.limit(5000))]


# -- measuring -------------------------------------------------------------------------------------

def measure(uow: UnitOfWork, measure_name: str, start: dt.datetime, end: dt.datetime, *, rep: int | None,
            category: str | None = None, currency: str | None = None) -> dict[str, Any]:
    """The actual of a measure over [start, end) for a rep (None: everyone), from the ledger,
    the accounts and the activities. Money measures are minor units; margin also says how many
    lines (and how much revenue) had no cost and were left out of it."""
    s = uow.session
    if measure_name in ("revenue", "margin", "units"):
        ll, lr = LedgerLine, LedgerReturn
        conds = [ll.placed_at >= start, ll.placed_at < end, ll.cancelled.is_(False)]
        rconds = [lr.returned_at >= start, lr.returned_at < end, ll.cancelled.is_(False)]
        for c in ([ll.rep_user_id == rep] if rep is not None else []) + \
                 ([ll.category == category] if category is not None else []) + \
                 ([ll.currency == currency] if currency is not None else []):
            conds.append(c)
            rconds.append(c)
        known = ll.unit_cost_minor.is_not(None)
        row = s.execute(sa.select(
            sa.func.coalesce(sa.func.sum(ll.revenue_minor), 0), sa.func.coalesce(sa.func.sum(ll.quantity), 0),
            sa.func.coalesce(sa.func.sum(sa.case((known, ll.revenue_minor - ll.unit_cost_minor * ll.quantity),
                                                 else_=0)), 0),
            sa.func.count(sa.case((~known, 1))), sa.func.coalesce(sa.func.sum(sa.case((~known, ll.revenue_minor),
                                                                                      else_=0)), 0)).where(*conds)).one()
        ret = s.execute(sa.select(
            sa.func.coalesce(sa.func.sum(lr.value_minor), 0), sa.func.coalesce(sa.func.sum(lr.quantity), 0),
            sa.func.coalesce(sa.func.sum(sa.case((known, lr.value_minor - ll.unit_cost_minor * lr.quantity),
                                                 else_=0)), 0))
            .join(ll, sa.and_(ll.order_id == lr.order_id, ll.line_no == lr.line_no)).where(*rconds)).one()
        revenue, units, margin = int(row[0]) - int(ret[0]), int(row[1]) - int(ret[1]), int(row[2]) - int(ret[2])
        out: dict[str, Any] = {"revenue": revenue, "units": units, "margin": margin,
                               "cost_unknown": {"lines": int(row[3]), "revenue_minor": int(row[4])}}
        out["actual"] = out[measure_name]
        return out
    if measure_name == "new_accounts":
        stmt = sa.select(sa.func.count()).select_from(Account).where(Account.created_at >= start, Account.created_at < end)
        if rep is not None:
            stmt = stmt.where(Account.owner_user_id == rep)
        return {"actual": int(s.scalar(stmt) or 0)}
    stmt = sa.select(sa.func.count()).select_from(Activity).where(
        Activity.kind == "visit", Activity.created_at >= start, Activity.created_at < end)
    if rep is not None:
        stmt = stmt.where(Activity.owner_user_id == rep)
    return {"actual": int(s.scalar(stmt) or 0)}


def run_rate(actual: Decimal, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Decimal:
    """The period's figure if it goes on as it has so far (the actual itself once it is over)."""
    if now >= end or now <= start:
        return actual
    elapsed = Decimal((now - start).total_seconds()) / Decimal((end - start).total_seconds())
    return actual / elapsed if elapsed > 0 else actual


def attainment_of(uow: UnitOfWork, t: Target, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    start, end = at(t.period_start), at(t.period_end)
    got = measure(uow, t.measure, start, end, rep=t.owner_user_id, category=t.category, currency=t.currency)
    money = t.measure in MONEY_MEASURES
    actual = Money.from_minor(got["actual"], t.currency).amount if money and t.currency else Decimal(got["actual"])
    forecast = run_rate(actual, start, end, now)
    q = Decimal(1).scaleb(-exponent(t.currency)) if money and t.currency else Decimal("0.01")
    return {"target": target_out(t), "actual": format(actual, "f"),
            "attainment": round(float(actual / t.value), 6) if t.value else None,
            "forecast": format(forecast.quantize(q), "f"), "will_meet": forecast >= t.value,
            "cost_unknown": got.get("cost_unknown") if t.measure == "margin" else None,
            "as_of": now}


def attainment(uow: UnitOfWork, target_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    t = _visible(uow, uow.session.get(Target, target_id), target_id)
    return attainment_of(uow, t, now)


def revenue_attainment(uow: UnitOfWork, rep: int, month: dt.date, currency: str) -> Decimal | None:
    """A rep's revenue attainment of a month (the sum of their revenue targets of that month,
    all categories); None when they have none."""
    targets = list(uow.session.scalars(sa.select(Target).where(
        Target.owner_user_id == rep, Target.measure == "revenue", Target.period_start == month,
        Target.period_end == next_month(month), Target.currency == currency)))
    goal = sum((t.value for t in targets), Decimal(0))
    if not goal:
        return None
    got = measure(uow, "revenue", at(month), at(next_month(month)), rep=rep, currency=currency)
    return Money.from_minor(got["actual"], currency).amount / goal


def month_attainments(uow: UnitOfWork, month: dt.date) -> list[dict[str, Any]]:
    """Every target of the month the caller may see, with its attainment (the console page)."""
    stmt = sa.select(Target).where(Target.period_start == month, Target.period_end == next_month(month))
    if not is_manager(uow):
        stmt = stmt.where(Target.owner_user_id == uow.actor.user_id)
    return [attainment_of(uow, t) for t in uow.session.scalars(stmt.order_by(Target.owner_user_id, Target.id).limit(500))]
