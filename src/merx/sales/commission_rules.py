"""Commission plans and monthly statements: pure rules, no database (unit-tested directly).

A plan (JSON rules, checked by `parse_plan`):
- `class_rates`: the share of a line's revenue paid for each portfolio class (gold, sunrise,
  sunset, rest: analytics' portfolio report classes the SKU; an SKU it has not classed pays the
  `rest` rate and its line says "unclassified");
- `margin_bands`: factors by the line's margin rate, bands given by increasing lower bounds
  (`from`); a margin below the first bound takes the first band. A line whose cost is unknown
  takes `unknown_cost_factor` (default 1) and is listed as "cost unknown": never an assumed cost;
- `team_share`: the part of every line's commission paid into the team pool, which is shared
  equally by the plan's members;
- `tiers`: multipliers by the rep's revenue target attainment, [from, to) ranges that must not
  overlap or leave gaps (accelerators above 100%); applied to the rep's own earnings of the month;
- `clawback_days`: an order not paid that many days after it was placed has its commission
  taken back in the month the window closes; returned units are taken back in the month they
  come back, at the rate the line earned;
  An order clawed back as unpaid and paid later is reinstated (+ the same figure, less what came
  back before the payment) in the month the payment arrives; when that month's statement is
  already locked, in the rep's next open month (the caller names those lines: `reinstate_late`).
  Units returned after such a payment are taken back again like any return;
- `cap`: the most a rep's positive earnings (own + tier + team) may reach in a month.

Rounding: each line's amount is rounded to the currency's minor unit (half to even); the tier,
team and cap lines are computed from those rounded figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable

from merx.core.errors import FieldError, ValidationProblem

CLASSES = ("gold", "sunrise", "sunset", "rest")
ONE = Decimal(1)


def _dec(value: Any, field_name: str, *, minimum: Decimal | None = Decimal(0), maximum: Decimal | None = None) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool) or value is None:
        raise ValidationProblem.for_field(field_name, "must be a decimal string such as \"0.05\"")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValidationProblem.for_field(field_name, f"{value!r} is not a decimal number") from None
    if not d.is_finite():
        raise ValidationProblem.for_field(field_name, "must be a finite number")
    if minimum is not None and d < minimum:
        raise ValidationProblem.for_field(field_name, f"must be at least {minimum}")
    if maximum is not None and d > maximum:
        raise ValidationProblem.for_field(field_name, f"must be at most {maximum}")
    return d


@dataclass(frozen=True)
class Tier:
    start: Decimal
    end: Decimal | None  # exclusive; None: open-ended
    multiplier: Decimal


@dataclass(frozen=True)
class Plan:
    class_rates: dict[str, Decimal]
    margin_bands: list[tuple[Decimal, Decimal]]  # (from, factor), increasing from
    unknown_cost_factor: Decimal
    team_share: Decimal
    tiers: list[Tier]
    clawback_days: int | None
    cap_minor: int | None
    members: list[int] = field(default_factory=list)


def parse_plan(rules: dict[str, Any], *, minor_of: Any, members: list[int]) -> Plan:
    """Check a plan's rules; every refusal names its field (`rules.tiers[1].from`, ...).
    `minor_of(amount, field)` turns a money amount of the plan's currency into minor units."""
    rates_in = rules.get("class_rates") or {}
    unknown = set(rates_in) - set(CLASSES)
    if unknown:
        raise ValidationProblem.for_field("rules.class_rates", f"unknown class {sorted(unknown)[0]!r}; classes are "
                                          + ", ".join(CLASSES))
    missing = [c for c in CLASSES if c not in rates_in]
    if missing:
        raise ValidationProblem.for_field("rules.class_rates", f"needs a rate for every class (missing {', '.join(missing)})")
    rates = {c: _dec(rates_in[c], f"rules.class_rates.{c}", maximum=ONE) for c in CLASSES}

    bands_in = rules.get("margin_bands") or [{"from": "0", "factor": "1"}]
    bands: list[tuple[Decimal, Decimal]] = []
    for i, b in enumerate(bands_in):
        start = _dec(b.get("from"), f"rules.margin_bands[{i}].from", minimum=Decimal(-1), maximum=ONE)
        factor = _dec(b.get("factor"), f"rules.margin_bands[{i}].factor", maximum=Decimal(10))
        if bands and start <= bands[-1][0]:
            raise ValidationProblem.for_field(f"rules.margin_bands[{i}].from",
                                              f"bands must rise: {start} is not above {bands[-1][0]}")
        bands.append((start, factor))

    tiers: list[Tier] = []
    for i, t in enumerate(rules.get("tiers") or [{"from": "0", "to": None, "multiplier": "1"}]):
        start = _dec(t.get("from"), f"rules.tiers[{i}].from")
        end = None if t.get("to") is None else _dec(t.get("to"), f"rules.tiers[{i}].to")
        mult = _dec(t.get("multiplier"), f"rules.tiers[{i}].multiplier", maximum=Decimal(10))
        if end is not None and end <= start:
            raise ValidationProblem.for_field(f"rules.tiers[{i}].to", f"must be above from ({start})")
        tiers.append(Tier(start, end, mult))
    tiers.sort(key=lambda t: t.start)
    if tiers[0].start != 0:
        raise ValidationProblem.for_field("rules.tiers", "the first tier must start at 0 attainment")
    errors = []
    for a, b in zip(tiers, tiers[1:]):
        if a.end is None or a.end > b.start:
            errors.append(FieldError("rules.tiers", f"tiers overlap: [{a.start}, {a.end or 'open'}) and "
                                     f"[{b.start}, {b.end or 'open'})", "overlap"))
        elif a.end < b.start:
            errors.append(FieldError("rules.tiers", f"gap between tiers: nothing covers [{a.end}, {b.start})", "gap"))
    if not errors and tiers[-1].end is not None:
        errors.append(FieldError("rules.tiers", "the last tier must be open-ended (to: null)", "open_end"))
    if errors:
        raise ValidationProblem(errors[0].message, errors=errors)

    days = rules.get("clawback_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3660):
        raise ValidationProblem.for_field("rules.clawback_days", "must be a whole number of days from 1 to 3660")
    cap = rules.get("cap")
    return Plan(class_rates=rates, margin_bands=bands,
                unknown_cost_factor=_dec(rules.get("unknown_cost_factor", "1"), "rules.unknown_cost_factor",
                                         maximum=Decimal(10)),
                team_share=_dec(rules.get("team_share", "0"), "rules.team_share", maximum=ONE),
                tiers=tiers, clawback_days=days, cap_minor=None if cap is None else minor_of(cap, "rules.cap"),
                members=list(members))


# -- statements --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """A ledger line as a statement sees it."""

    order_id: int
    order_number: str
    line_no: int
    rep_user_id: int
    sku: str
    quantity: int
    revenue_minor: int
    unit_cost_minor: int | None
    placed_at: dt.datetime
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class Return:
    order_id: int
    line_no: int
    quantity: int
    value_minor: int
    returned_at: dt.datetime


@dataclass
class StatementLine:
    kind: str
    amount_minor: int
    base_minor: int = 0
    rate: Decimal = Decimal(0)
    order_id: int | None = None
    order_number: str | None = None
    line_no: int | None = None
    sku: str | None = None
    portfolio_class: str | None = None
    margin_band: str | None = None
    note: str | None = None


def margin_rate(line: Line) -> Decimal | None:
    if line.unit_cost_minor is None or line.revenue_minor <= 0:
        return None
    return (Decimal(line.revenue_minor) - Decimal(line.unit_cost_minor) * line.quantity) / Decimal(line.revenue_minor)


def line_rate(plan: Plan, line: Line, classes: dict[str, str]) -> tuple[Decimal, str, str]:
    """(the rep's own rate on the line's revenue before the team share, class, band label)."""
    klass = classes.get(line.sku)
    rate = plan.class_rates[klass if klass in plan.class_rates else "rest"]
    m = margin_rate(line)
    if m is None:
        return rate * plan.unknown_cost_factor, klass or "unclassified", "cost unknown"
    start, factor = plan.margin_bands[0]
    for s, f in plan.margin_bands:
        if m >= s:
            start, factor = s, f
    return rate * factor, klass or "unclassified", f"margin >= {start}"


def tier_for(plan: Plan, attainment: Decimal | None) -> Tier | None:
    if attainment is None:
        return None
    for t in plan.tiers:
        if attainment >= t.start and (t.end is None or attainment < t.end):
            return t
    return None


def _round(x: Decimal) -> int:
    return int(x.quantize(ONE, ROUND_HALF_EVEN))


def statement(plan: Plan, rep: int, *, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
              lines: Iterable[Line], returns: Iterable[Return], classes: dict[str, str],
              attainment: Decimal | None, adjustments: Iterable[tuple[int, str]] = ()) -> list[StatementLine]:
    """The statement lines of `rep` for [start, end) (see `month_statements`)."""
    return month_statements(plan, [rep], start=start, end=end, as_of=as_of, lines=lines, returns=returns,
                            classes=classes, attainment={rep: attainment},
                            adjustments={rep: list(adjustments)})[rep]


def month_statements(plan: Plan, reps: Iterable[int], *, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
                     lines: Iterable[Line], returns: Iterable[Return], classes: dict[str, str],
                     attainment: dict[int, Decimal | None],
                     adjustments: dict[int, list[tuple[int, str]]] | None = None,
                     reinstate_late: set[tuple[int, int]] | None = None) -> dict[int, list[StatementLine]]:
    """The statement lines of each rep for [start, end). `lines` are the ledger lines of the
    plan's members (not cancelled) placed before `end`; `returns` those lines' returns. Each
    line's rate is worked out once, so the month of a whole team costs one pass over its lines."""
    own_share = ONE - plan.team_share
    wanted = set(reps)
    by_key: dict[tuple[int, int], Line] = {}
    rates: dict[tuple[int, int], tuple[Decimal, str, str]] = {}
    team_pool = Decimal(0)
    earnings: dict[int, list[StatementLine]] = {r: [] for r in wanted}
    for ln in lines:
        key = (ln.order_id, ln.line_no)
        by_key[key] = ln
        if not start <= ln.placed_at < end or ln.revenue_minor <= 0:
            continue
        if ln.rep_user_id not in wanted and not (plan.team_share and ln.rep_user_id in plan.members):
            continue
        rate, klass, band = rates[key] = line_rate(plan, ln, classes)
        if plan.team_share and ln.rep_user_id in plan.members:
            team_pool += Decimal(ln.revenue_minor) * rate * plan.team_share
        if ln.rep_user_id in wanted:
            earnings[ln.rep_user_id].append(StatementLine(
                "earning", _round(Decimal(ln.revenue_minor) * rate * own_share), ln.revenue_minor, rate * own_share,
                ln.order_id, ln.order_number, ln.line_no, ln.sku, klass, band))
    returns = sorted(returns, key=lambda r: (r.returned_at, r.order_id, r.line_no))
    returned_by_line: dict[tuple[int, int], list[Return]] = {}
    for r in returns:
        returned_by_line.setdefault((r.order_id, r.line_no), []).append(r)
    pool = _round(team_pool)

    def rate_of(ln: Line) -> tuple[Decimal, str, str]:
        key = (ln.order_id, ln.line_no)
        if key not in rates:
            rates[key] = line_rate(plan, ln, classes)
        return rates[key]

    def deadline_of(ln: Line) -> dt.datetime | None:
        return ln.placed_at + dt.timedelta(days=plan.clawback_days) if plan.clawback_days else None

    def clawed_unpaid(ln: Line, deadline: dt.datetime | None) -> bool:
        return deadline is not None and deadline <= as_of and (ln.paid_at is None or ln.paid_at > deadline)

    def paid_after_clawback(ln: Line, deadline: dt.datetime | None) -> bool:
        return clawed_unpaid(ln, deadline) and ln.paid_at is not None and ln.paid_at <= as_of

    result: dict[int, list[StatementLine]] = {}
    for rep in wanted:
        out = earnings[rep]
        earned = sum(x.amount_minor for x in out)
        attained = attainment.get(rep)
        tier = tier_for(plan, attained)
        if tier is not None and tier.multiplier != ONE and earned:
            out.append(StatementLine("tier", _round(Decimal(earned) * (tier.multiplier - ONE)), earned,
                                     tier.multiplier, note=f"attainment {attained:.4f}: tier from {tier.start}"))
        elif attained is None:
            out.append(StatementLine("tier", 0, earned, ONE, note="no revenue target for the month: multiplier 1"))
        if plan.team_share and rep in plan.members:
            out.append(StatementLine("team_pool", _round(Decimal(pool) / len(plan.members)), pool,
                                     ONE / len(plan.members), note=f"pool shared by {len(plan.members)} members"))
        positive = sum(x.amount_minor for x in out)
        if plan.cap_minor is not None and positive > plan.cap_minor:
            out.append(StatementLine("cap", plan.cap_minor - positive, positive, Decimal(0), note="monthly cap"))
        result[rep] = out
    for r in returns:
        if not start <= r.returned_at < end:
            continue
        ln = by_key.get((r.order_id, r.line_no))
        if ln is None or ln.rep_user_id not in wanted:
            continue
        deadline = deadline_of(ln)
        if clawed_unpaid(ln, deadline) and r.returned_at >= deadline and not (  # type: ignore[operator]
                paid_after_clawback(ln, deadline) and r.returned_at >= ln.paid_at):  # type: ignore[operator]
            continue  # the whole line was taken back as unpaid (and not reinstated before this return)
        rate, klass, band = rate_of(ln)
        result[ln.rep_user_id].append(StatementLine(
            "clawback_return", -_round(Decimal(r.value_minor) * rate * own_share), r.value_minor, rate * own_share,
            ln.order_id, ln.order_number, ln.line_no, ln.sku, klass, band,
            note=f"{r.quantity} returned {r.returned_at.date().isoformat()}"))
    if plan.clawback_days:
        for ln in by_key.values():
            if ln.rep_user_id not in wanted or ln.revenue_minor <= 0:
                continue
            deadline = deadline_of(ln)
            if not (start <= deadline < end) or not clawed_unpaid(ln, deadline):  # type: ignore[operator]
                continue
            base = ln.revenue_minor - sum(r.value_minor for r in returned_by_line.get((ln.order_id, ln.line_no), ())
                                          if r.returned_at < deadline)  # type: ignore[operator]
            if base <= 0:
                continue
            rate, klass, band = rate_of(ln)
            result[ln.rep_user_id].append(StatementLine(
                "clawback_unpaid", -_round(Decimal(base) * rate * own_share), base, rate * own_share, ln.order_id,
                ln.order_number, ln.line_no, ln.sku, klass, band,
                note=f"unpaid {plan.clawback_days} days after {ln.placed_at.date().isoformat()}"))
        for ln in by_key.values():
            if ln.rep_user_id not in wanted or ln.revenue_minor <= 0:
                continue
            deadline = deadline_of(ln)
            if not paid_after_clawback(ln, deadline):
                continue
            late = (ln.order_id, ln.line_no) in (reinstate_late or ())
            if not (start <= ln.paid_at < end or late):  # type: ignore[operator]
                continue
            base = ln.revenue_minor - sum(r.value_minor for r in returned_by_line.get((ln.order_id, ln.line_no), ())
                                          if r.returned_at < ln.paid_at)  # type: ignore[operator]
            if base <= 0:
                continue
            rate, klass, band = rate_of(ln)
            result[ln.rep_user_id].append(StatementLine(
                "reinstatement", _round(Decimal(base) * rate * own_share), base, rate * own_share, ln.order_id,
                ln.order_number, ln.line_no, ln.sku, klass, band,
                note=f"paid {ln.paid_at.date().isoformat()} after the clawback of "  # type: ignore[union-attr]
                     f"{deadline.date().isoformat()}" + (" (its month was locked)" if late else "")))  # type: ignore[union-attr]
    for rep in wanted:
        for amount, reason in (adjustments or {}).get(rep, ()):
            result[rep].append(StatementLine("adjustment", amount, note=reason))
    return result
