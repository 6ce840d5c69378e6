"""Pure rules of sales performance: commission plans refuse overlapping or gapped tiers, bands
that do not rise and unknown classes, naming the field; a line's rate follows its class and
margin band (or "cost unknown"); the tier applies to the month's own earnings; the cap trims the
positive total; target allocation adds up exactly; rebate steps must rise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from merx.core.errors import ValidationProblem
from merx.sales import commission_rules as rules
from merx.sales.targets import allocate

UTC = dt.timezone.utc
BASE = {"class_rates": {"gold": "0.05", "sunrise": "0.04", "sunset": "0.02", "rest": "0.01"}}


def _plan(**extra):
    return rules.parse_plan(BASE | extra, minor_of=lambda a, f: int(Decimal(str(a)) * 100), members=[1, 2])


def test_overlapping_tiers_are_refused_with_the_ranges_named():
    with pytest.raises(ValidationProblem) as e:
        _plan(tiers=[{"from": "0", "to": "1", "multiplier": "1"}, {"from": "0.9", "to": None, "multiplier": "1.5"}])
    assert e.value.errors[0].field == "rules.tiers" and "overlap" in e.value.errors[0].message
    with pytest.raises(ValidationProblem) as e:
        _plan(tiers=[{"from": "0", "to": "0.8", "multiplier": "1"}, {"from": "0.9", "to": None, "multiplier": "1.5"}])
    assert "gap" in e.value.errors[0].message
    with pytest.raises(ValidationProblem) as e:
        _plan(tiers=[{"from": "0", "to": None, "multiplier": "1"}, {"from": "1", "to": None, "multiplier": "1.5"}])
    assert "overlap" in e.value.errors[0].message
    with pytest.raises(ValidationProblem) as e:
        _plan(margin_bands=[{"from": "0.2", "factor": "1"}, {"from": "0.1", "factor": "2"}])
    assert e.value.errors[0].field == "rules.margin_bands[1].from"
    with pytest.raises(ValidationProblem) as e:
        rules.parse_plan({"class_rates": {"gold": "0.05"}}, minor_of=lambda a, f: 0, members=[])
    assert "missing sunrise" in e.value.errors[0].message
    with pytest.raises(ValidationProblem) as e:
        _plan(team_share=0.1)
    assert e.value.errors[0].field == "rules.team_share"


def _line(order, rep, revenue, cost, qty=1, sku="S", day=5):
    return rules.Line(order, f"N{order}", 1, rep, sku, qty, revenue, cost, dt.datetime(2026, 10, day, tzinfo=UTC),
                      dt.datetime(2026, 10, day + 1, tzinfo=UTC))


def test_rates_bands_tiers_team_pool_and_cap():
    plan = _plan(margin_bands=[{"from": "0", "factor": "0.5"}, {"from": "0.4", "factor": "1"}], team_share="0.2",
                 tiers=[{"from": "0", "to": "1", "multiplier": "1"}, {"from": "1", "to": None, "multiplier": "2"}],
                 cap="15.00")
    classes = {"G": "gold", "R": "rest"}
    lines = [_line(1, 1, 100_00, 50_00, sku="G"),   # margin 50%: gold 5% x 1 x 0.8 own = 4.00
             _line(2, 1, 100_00, 80_00, sku="G"),   # margin 20%: gold 5% x 0.5 x 0.8 = 2.00
             _line(3, 1, 100_00, None, sku="R"),    # cost unknown: rest 1% x 1 x 0.8 = 0.80
             _line(4, 2, 1000_00, 0, sku="G")]      # the other rep: 5% x 1 -> pool 10.00
    start, end = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)
    out = rules.statement(plan, 1, start=start, end=end, as_of=end, lines=lines, returns=[], classes=classes,
                          attainment=Decimal("1.2"))
    got = {(x.kind, x.order_id): (x.amount_minor, x.margin_band) for x in out}
    assert got[("earning", 1)] == (400, "margin >= 0.4")
    assert got[("earning", 2)] == (200, "margin >= 0")
    assert got[("earning", 3)] == (80, "cost unknown")
    assert got[("tier", None)][0] == 680  # x2 on 6.80 of own earnings
    pool = (100_00 * Decimal("0.05") + 100_00 * Decimal("0.025") + 100_00 * Decimal("0.01") + 1000_00 * Decimal("0.05")) \
        * Decimal("0.2")
    assert got[("team_pool", None)][0] == int((pool.quantize(Decimal(1)) / 2).quantize(Decimal(1)))
    total_positive = 400 + 200 + 80 + 680 + got[("team_pool", None)][0]
    assert got[("cap", None)][0] == 1500 - total_positive
    assert sum(x.amount_minor for x in out) == 1500


def test_allocation_adds_up_exactly():
    parts = allocate(Decimal("1000.00"), [Decimal(1), Decimal(1), Decimal(1)], Decimal("0.01"))
    assert sum(parts) == Decimal("1000.00") and sorted(parts) == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]
    assert sum(allocate(Decimal(7), [Decimal(3), Decimal(5)], Decimal(1))) == 7


def test_rebate_steps_must_rise():
    from merx.sales.dealers import _Step, parse_steps, rate_for

    steps = parse_steps([_Step({"from": "100.00", "rate": "0.02"}), _Step({"from": "250.00", "rate": "0.03"})], "EUR")
    assert rate_for(steps, 99_99) == 0 and rate_for(steps, 100_00) == Decimal("0.02") and rate_for(steps, 300_00) == Decimal("0.03")
    with pytest.raises(ValidationProblem) as e:
        parse_steps([_Step({"from": "100.00", "rate": "0.03"}), _Step({"from": "250.00", "rate": "0.03"})], "EUR")
    assert e.value.errors[0].field == "steps[1].rate"


def test_a_clawed_back_line_paid_later_is_reinstated_less_what_came_back_before_the_payment():
    """Line: 100.00 at 5% (gold, no bands), placed 1 Sep, window 10 days (closes 11 Sep), paid 5 Oct.
    20.00 came back on 2 Sep (before the window closed), 30.00 on 20 Sep (after the clawback,
    before the payment), 10.00 on 10 Oct (after the payment)."""
    plan = _plan(clawback_days=10)
    sep = dt.datetime(2026, 9, 1, tzinfo=UTC)
    paid = dt.datetime(2026, 10, 5, tzinfo=UTC)
    line = rules.Line(1, "N1", 1, 1, "G", 10, 100_00, None, sep + dt.timedelta(hours=10), paid)
    returns = [rules.Return(1, 1, 2, 20_00, dt.datetime(2026, 9, 2, tzinfo=UTC)),
               rules.Return(1, 1, 3, 30_00, dt.datetime(2026, 9, 20, tzinfo=UTC)),
               rules.Return(1, 1, 1, 10_00, dt.datetime(2026, 10, 10, tzinfo=UTC))]
    classes = {"G": "gold"}
    oct_, nov = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)

    def month(start, end):
        return [(x.kind, x.amount_minor) for x in rules.statement(
            plan, 1, start=start, end=end, as_of=nov, lines=[line], returns=returns, classes=classes, attainment=None)
            if x.kind not in ("tier", "team_pool")]

    september = month(sep, oct_)
    # earned 5.00; 1.00 back for the return before the deadline; 4.00 (on 80.00) clawed back; the 20 Sep return skipped
    assert sorted(september) == sorted([("earning", 500), ("clawback_return", -100), ("clawback_unpaid", -400)])
    october = month(oct_, nov)
    # reinstated on 100 - 20 - 30 = 50.00 -> 2.50; the 10 Oct return (after the payment) is taken back: 0.50
    assert sorted(october) == sorted([("reinstatement", 250), ("clawback_return", -50)])
    # in all: 5% of what was kept (100 - 20 - 30 - 10 = 40.00)
    assert sum(a for _k, a in september + october) == 200
    # a month's statement computed before the payment knows of no reinstatement
    assert "reinstatement" not in {x.kind for x in rules.statement(
        plan, 1, start=oct_, end=nov, as_of=paid - dt.timedelta(days=1), lines=[line], returns=returns,
        classes=classes, attainment=None)}
