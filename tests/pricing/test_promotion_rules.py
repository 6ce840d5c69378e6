"""The promotion engine (pure): thresholds, tiers, stacking, buy X get Y, rounding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from merx.pricing.rules import (CartContext, CartLine, Promotion, allocate_proportionally, price_cart)

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
TIERS = Promotion(id=1, name="5% from 100, 10% from 300", kind="tiered_percent", currency="EUR",
                  tiers=((D("100.00"), D("5")), (D("300.00"), D("10"))))


def cart(*amounts: str, currency: str = "EUR") -> list[CartLine]:
    return [CartLine(f"lines[{i}]", f"SKU{i}", 1, D(a)) for i, a in enumerate(amounts)]


def ctx(**kw) -> CartContext:
    return CartContext(currency=kw.pop("currency", "EUR"), now=kw.pop("now", NOW), **kw)


@pytest.mark.parametrize("subtotal,discount,total", [
    ("99.99", "0.00", "99.99"),
    ("100.00", "5.00", "95.00"),
    ("299.99", "15.00", "284.99"),  # 5% of 299.99 = 14.9995 -> 15.00 (half up)
    ("300.00", "30.00", "270.00"),  # the highest tier only: 10%, not 15%
])
def test_tiered_discount_at_the_exact_thresholds(subtotal, discount, total):
    result = price_cart(cart(subtotal), [TIERS], ctx())
    assert result.discount == D(discount)
    assert result.total == D(total)
    assert [a.amount for a in result.applied] == ([D(discount)] if discount != "0.00" else [])


def test_minimum_subtotal_is_inclusive_and_counts_the_whole_cart():
    promo = Promotion(id=2, name="10 off from 100", kind="order_fixed", currency="EUR", amount=D("10"),
                      min_subtotal=D("100.00"))
    assert price_cart(cart("60.00", "39.99"), [promo], ctx()).discount == D("0")
    assert price_cart(cart("60.00", "40.00"), [promo], ctx()).discount == D("10.00")


def test_exclusive_promotion_with_highest_priority_applies_alone():
    exclusive = Promotion(id=3, name="VIP 20%", kind="order_percent", percent=D("20"), priority=10,
                          stacking="exclusive")
    stackable = Promotion(id=4, name="5%", kind="order_percent", percent=D("5"), priority=5)
    result = price_cart(cart("100.00"), [stackable, exclusive], ctx())
    assert [a.name for a in result.applied] == ["VIP 20%"]
    assert result.total == D("80.00")


def test_stackable_promotions_compound_in_priority_order_and_skip_lower_exclusives():
    first = Promotion(id=5, name="10%", kind="order_percent", percent=D("10"), priority=9)
    second = Promotion(id=6, name="5 off", kind="order_fixed", amount=D("5"), currency="EUR", priority=8)
    exclusive_low = Promotion(id=7, name="50% exclusive", kind="order_percent", percent=D("50"), priority=1,
                              stacking="exclusive")
    result = price_cart(cart("200.00"), [exclusive_low, second, first], ctx())
    assert [(a.name, a.amount) for a in result.applied] == [("10%", D("20.00")), ("5 off", D("5.00"))]
    assert result.total == D("175.00")


def test_coupon_promotion_needs_its_code_and_explains_why_it_does_not_apply():
    coupon = Promotion(id=8, name="SAVE10", kind="order_percent", percent=D("10"), coupon_code="SAVE10",
                       min_subtotal=D("50"), currency="EUR")
    assert price_cart(cart("80.00"), [coupon], ctx()).discount == 0
    applied = price_cart(cart("80.00"), [coupon], ctx(coupon_codes=frozenset({"SAVE10"})))
    assert applied.discount == D("8.00") and applied.coupon_problems == {}
    too_small = price_cart(cart("49.99"), [coupon], ctx(coupon_codes=frozenset({"SAVE10"})))
    assert "at least 50" in too_small.coupon_problems["SAVE10"]
    unknown = price_cart(cart("80.00"), [coupon], ctx(coupon_codes=frozenset({"NOPE"})))
    assert unknown.coupon_problems == {"NOPE": "is not a known coupon code"}


def test_validity_window_and_channel():
    promo = Promotion(id=9, name="June", kind="order_percent", percent=D("10"), channels=frozenset({"web"}),
                      starts_at=NOW, ends_at=NOW + dt.timedelta(days=30))
    assert price_cart(cart("10.00"), [promo], ctx()).discount == D("1.00")  # starts_at is inclusive
    assert price_cart(cart("10.00"), [promo], ctx(now=NOW - dt.timedelta(seconds=1))).discount == 0
    assert price_cart(cart("10.00"), [promo], ctx(now=NOW + dt.timedelta(days=30))).discount == 0  # ends_at exclusive
    assert price_cart(cart("10.00"), [promo], ctx(channel="store")).discount == 0


def test_buy_two_get_one_free_discounts_the_cheapest_unit_of_each_group():
    promo = Promotion(id=10, name="3 for 2", kind="buy_x_get_y", buy_quantity=2, get_quantity=1,
                      categories=frozenset({"shirts"}))
    lines = [CartLine("lines[0]", "A", 2, D("30.00"), "shirts"), CartLine("lines[1]", "B", 2, D("20.00"), "shirts"),
             CartLine("lines[2]", "C", 5, D("100.00"), "shoes")]
    result = price_cart(lines, [promo], ctx())
    # units 30,30,20,20 -> one full group (30,30,20): the 20 is free; the fourth unit is no group
    assert result.applied[0].line_discounts == {"lines[1]": D("20.00")}
    assert result.discount == D("20.00")


def test_line_percent_targets_only_matching_skus():
    promo = Promotion(id=11, name="15% on A", kind="line_percent", percent=D("15"), skus=frozenset({"A"}))
    lines = [CartLine("lines[0]", "A", 3, D("9.99")), CartLine("lines[1]", "B", 1, D("50.00"))]
    result = price_cart(lines, [promo], ctx())
    assert result.lines[0].discount == D("4.50")  # 15% of 29.97 = 4.4955 -> 4.50
    assert result.lines[1].discount == 0


def test_free_shipping_from_threshold():
    promo = Promotion(id=12, name="Free shipping from 50", kind="free_shipping", min_subtotal=D("50"), currency="EUR")
    below = price_cart(cart("49.99"), [promo], ctx(shipping=D("4.90")))
    assert below.total == D("54.89") and below.shipping == D("4.90")
    at = price_cart(cart("50.00"), [promo], ctx(shipping=D("4.90")))
    assert at.total == D("50.00") and at.shipping_discount == D("4.90")
    assert at.applied[0].amount == D("4.90")


@pytest.mark.parametrize("currency,price,expected_discount", [
    ("JPY", "999", "333"),        # no minor unit: 33.3% of 999 = 332.667 -> 333 yen
    ("EUR", "9.99", "3.33"),      # 3.32667 -> 3.33
    ("KWD", "9.999", "3.330"),    # three decimals: 3.329667 -> 3.330 (not 3.33 nor 3.3297)
])
def test_rounding_follows_the_currency_minor_unit(currency, price, expected_discount):
    promo = Promotion(id=13, name="third off", kind="order_percent", percent=D("33.3"))
    result = price_cart(cart(price), [promo], ctx(currency=currency))
    assert result.discount == D(expected_discount)
    assert result.total + result.discount == D(price)


def test_order_discount_split_across_lines_adds_up_exactly():
    promo = Promotion(id=14, name="10 off", kind="order_fixed", amount=D("10.00"), currency="EUR")
    lines = [CartLine(f"lines[{i}]", f"S{i}", 1, D("3.33")) for i in range(3)]
    result = price_cart(lines, [promo], ctx())
    assert sum(ln.discount for ln in result.lines) == D("9.99")  # capped at the cart value
    assert sum(ln.total for ln in result.lines) == result.total == D("0.00")
    assert allocate_proportionally(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(allocate_proportionally(7, [5, 3, 2])) == 7


def test_promotion_in_another_currency_does_not_apply():
    promo = Promotion(id=15, name="PLN 10 off", kind="order_fixed", amount=D("10"), currency="PLN")
    assert price_cart(cart("100.00"), [promo], ctx()).discount == 0
