from decimal import Decimal

from merx.fiscal.rules import (allocate, bracket_price, compute_tax, reverse_charge_applies, valid_vat_id,
                               zone_matches)

RATES = {"standard": Decimal(23), "reduced": Decimal(8), "zero": Decimal(0)}


def test_inclusive_prices_hold_the_tax_inside():
    lines = compute_tax([("standard", 12300), ("reduced", 10800), ("standard", 2460)], RATES, inclusive=True)
    by_class = {ln.tax_class: ln for ln in lines}
    assert (by_class["standard"].net, by_class["standard"].tax) == (12000, 2760)  # 147.60 gross at 23%
    assert (by_class["reduced"].net, by_class["reduced"].tax) == (10000, 800)


def test_exclusive_prices_add_the_tax():
    (line,) = compute_tax([("standard", 10000)], RATES, inclusive=False)
    assert (line.net, line.tax) == (10000, 2300)


def test_reverse_charge_is_zero_rated():
    (line,) = compute_tax([("standard", 10000)], RATES, inclusive=False, reverse_charge=True)
    assert (line.rate, line.tax) == (Decimal(0), 0)


def test_vat_ids_and_when_reverse_charge_applies():
    assert valid_vat_id("DE123456789", "DE") and not valid_vat_id("DE12345", "DE")
    assert not valid_vat_id("PL1234567890", "DE")
    assert reverse_charge_applies(channel="b2b", vat_id="DE123456789", buyer_country="DE", shop_country="PL")
    assert not reverse_charge_applies(channel="web", vat_id="DE123456789", buyer_country="DE", shop_country="PL")
    assert not reverse_charge_applies(channel="b2b", vat_id="PL1234567890", buyer_country="PL", shop_country="PL")
    assert not reverse_charge_applies(channel="b2b", vat_id="GB123456789", buyer_country="GB", shop_country="PL")


def test_brackets_zones_and_allocation():
    brackets = [{"from": "0", "price": "5"}, {"from": "5", "price": "9"}]
    assert bracket_price(brackets, Decimal("4.99")) == 5 and bracket_price(brackets, Decimal(5)) == 9
    assert zone_matches(["PL"], ["00", "01"], "PL", "00-950") and not zone_matches(["PL"], ["00"], "PL", "30-001")
    assert allocate(1000, [1, 1, 1]) == [334, 333, 333] and sum(allocate(7, [3, 5])) == 7
