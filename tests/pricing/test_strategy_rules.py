"""Pricing strategies (pure): cost-plus, match the lowest within a floor, target margin,
psychological rounding; a proposal is never below the cost nor the floor."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from merx.pricing.rules import PricePoint, Strategy, margin_floor, position, propose, psychological


@pytest.mark.parametrize("amount, ending, direction, expected", [
    ("19.42", "0.99", "up", "19.99"), ("19.42", "0.99", "down", "18.99"), ("19.99", "0.99", "up", "19.99"),
    ("19.99", "0.99", "down", "19.99"), ("20.00", "0.99", "down", "19.99"), ("20.00", "0.99", "up", "20.99"),
    ("19.96", "0.95", "up", "20.95"), ("19.96", "0.95", "down", "19.95"), ("19.01", "0.00", "up", "20.00"),
    ("19.01", "0.00", "down", "19.00"), ("19.00", "0.00", "up", "19.00"), ("0.40", "0.99", "down", "0.99"),
    ("12.345", "none", "up", "12.35"), ("12.345", "none", "down", "12.34"),
])
def test_psychological_rounding(amount, ending, direction, expected):
    assert psychological(D(amount), ending, "EUR", direction=direction) == D(expected)


def test_rounding_to_cents_in_a_currency_without_cents_is_refused():
    assert psychological(D("1234.5"), "0.00", "JPY", direction="up") == D("1235")
    with pytest.raises(ValueError):
        psychological(D("1234"), "0.99", "JPY", direction="up")


def test_cost_plus_and_target_margin():
    plus = Strategy("cost_plus", "EUR", markup_percent=D("50"), rounding="0.99")
    out = propose(plus, PricePoint("A", cost=D("10.00"), current=D("12.00")))
    assert out.price == D("15.99")  # 15.00 rounded up to .99: the markup is kept, never cut by rounding
    margin = Strategy("target_margin", "EUR", target_margin_percent=D("40"))
    out = propose(margin, PricePoint("A", cost=D("12.00"), current=D("15.00")))
    assert out.price == D("20.00")  # 12 / (1 - 0.40)
    assert (out.price - D("12.00")) / out.price == D("0.4")
    # a third decimal rounds up: the margin is never short by a cent's rounding
    assert propose(margin, PricePoint("A", cost=D("10.00"), current=None)).price == D("16.67")


def test_match_lowest_undercuts_and_rounds_down_but_holds_at_the_floor():
    s = Strategy("match_lowest", "EUR", undercut=D("0.01"), floor_margin_percent=D("10"), rounding="0.99")
    point = PricePoint("A", cost=D("9.00"), current=D("15.00"), competitors=(D("13.00"), D("12.40"), D("14.10")))
    out = propose(s, point)
    assert out.price == D("11.99") and out.floor == D("10.00")
    # the lowest competitor sells near our cost: the floor (cost grossed up to a 10% margin) wins
    low = propose(s, PricePoint("A", cost=D("9.00"), current=D("15.00"), competitors=(D("9.20"),)))
    assert low.floor == D("10.00") and low.price == D("10.99")  # the first .99 at or above the floor
    assert "floor" in low.reason
    # below cost even: still the floor
    assert propose(s, PricePoint("A", cost=D("9.00"), current=None, competitors=(D("5.00"),))).price == D("10.99")


def test_no_cost_no_competitor_or_no_change_proposes_nothing():
    s = Strategy("match_lowest", "EUR")
    assert propose(s, PricePoint("A", cost=None, current=D("5"), competitors=(D("4"),))).skipped == "no_cost"
    assert propose(s, PricePoint("A", cost=D("2"), current=D("5"))).skipped == "no_competitor_price"
    assert propose(s, PricePoint("A", cost=D("2"), current=D("4.00"), competitors=(D("4.00"),))).skipped == "unchanged"
    assert propose(Strategy("cost_plus", "EUR", markup_percent=D("20")),
                   PricePoint("A", cost=None, current=D("5"))).skipped == "no_cost"


def test_margin_floor_rounds_up_to_the_minor_unit():
    assert margin_floor(D("10.00"), D("0"), "EUR") == D("10.00")
    assert margin_floor(D("10.00"), D("30"), "EUR") == D("14.29")  # 14.2857... up
    assert (margin_floor(D("10.00"), D("30"), "EUR") - D("10.00")) / D("14.29") >= D("0.3")


def test_no_proposal_is_ever_below_cost_or_floor():
    """Random costs, competitor prices, strategies and roundings: every proposal is at or above
    the floor, which is at or above the cost."""
    rng = random.Random(15)
    kinds = ("cost_plus", "match_lowest", "target_margin")
    for _ in range(3000):
        cost = D(rng.randint(1, 50000)) / 100
        s = Strategy(rng.choice(kinds), "EUR", markup_percent=D(rng.randint(0, 200)),
                     target_margin_percent=D(rng.randint(0, 90)), undercut=D(rng.randint(0, 500)) / 100,
                     floor_margin_percent=D(rng.randint(0, 60)), rounding=rng.choice(("none", "0.99", "0.95", "0.00")))
        competitors = tuple(D(rng.randint(1, 80000)) / 100 for _ in range(rng.randint(0, 5)))
        out = propose(s, PricePoint("X", cost=cost, current=None, competitors=competitors))
        if out.price is None:
            assert out.skipped == "no_competitor_price" and not competitors
            continue
        assert out.floor >= cost
        assert out.price >= out.floor, (s, cost, competitors, out)
        if s.rounding != "none":
            assert str(out.price).endswith(s.rounding[1:]), out.price
        assert (out.price - cost) / out.price >= s.floor_margin_percent / 100


def test_position_rank_median_and_index():
    pos = position(D("12.99"), [D("12.40"), D("13.00"), D("14.00")])
    assert (pos["lowest"], pos["median"], pos["rank"], pos["of"]) == (D("12.40"), D("13.00"), 2, 4)
    assert pos["index"] == D("99.9")
    assert position(D("10"), [D("12"), D("10"), D("14"), D("16")])["rank"] == 1  # a tie shares the better rank
    assert position(D("10"), [D("12"), D("14"), D("16"), D("18")])["median"] == D("15")
    assert position(None, [D("5")])["rank"] is None
    assert position(D("5"), [])["lowest"] is None
