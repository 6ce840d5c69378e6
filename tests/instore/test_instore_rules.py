"""The in-store rules without a database."""

from __future__ import annotations

import datetime as dt

from merx.instore import rules


def test_pickup_code_is_six_digits_per_order_and_secret() -> None:
    a = rules.pickup_code(b"secret-1", "MX00000001")
    assert len(a) == 6 and a.isdigit()
    assert a == rules.pickup_code(b"secret-1", "MX00000001")
    assert a != rules.pickup_code(b"secret-2", "MX00000001")  # another shop's secret: another code
    codes = {rules.pickup_code(b"secret-1", f"MX{n:08d}") for n in range(200)}
    assert len(codes) > 190  # spread out, not a counter


def test_code_matches_ignores_spaces_only() -> None:
    assert rules.code_matches("123456", " 123 456 ")
    assert not rules.code_matches("123456", "123457")
    assert not rules.code_matches("123456", "")
    assert not rules.code_matches("123456", None)


def test_name_check_needs_the_last_name() -> None:
    assert rules.name_matches("Łukasz", "Wójcik", "wojcik")
    assert rules.name_matches("Łukasz", "Wójcik", "Wójcik Łukasz")
    assert rules.name_matches("Anna", "Kowalska-Nowak", "kowalska nowak")
    assert not rules.name_matches("Łukasz", "Wójcik", "Łukasz")  # a first name alone is not enough
    assert not rules.name_matches("Anna", "Kowalska", "Anna Nowak")
    assert not rules.name_matches("Anna", None, "Anna")
    assert not rules.name_matches("Anna", "Kowalska", "  ")


def test_barcodes_and_check_digits() -> None:
    assert rules.ean_valid("4006381333931") and rules.ean_valid("96385074")  # EAN-13, EAN-8
    assert rules.ean_valid("036000291452")  # UPC-A
    assert not rules.ean_valid("4006381333932")
    assert rules.code_kind("4006381333931") == "ean"
    assert rules.code_kind("4006381333932") == "bad_ean"
    assert rules.code_kind("LAMP-DESK") == "sku"
    assert rules.code_kind("12345") == "sku"  # too short for a GTIN: a SKU of digits


def test_what_a_counter_lookup_is() -> None:
    assert rules.lookup_kind("anna@example.com") == "email"
    assert rules.lookup_kind("+48 601 200 300") == "phone"
    assert rules.lookup_kind("(601) 200-300") == "phone"
    assert rules.lookup_kind("LC-004217") == "text"
    assert rules.lookup_kind("Nowak") == "text"
    assert rules.lookup_kind("123") == "text"


def test_return_window() -> None:
    now = dt.datetime(2026, 5, 31, 12, tzinfo=dt.timezone.utc)
    assert rules.within_return_window(now - dt.timedelta(days=30), now, 30)
    assert not rules.within_return_window(now - dt.timedelta(days=30, seconds=1), now, 30)
    assert rules.within_return_window(dt.datetime(2026, 5, 20), now, 30)  # naive means UTC
    assert rules.delivery_days("warehouse", here=False, warehouse_days=3, store_days=2) == 3
    assert rules.delivery_days("store", here=False, warehouse_days=3, store_days=2) == 2
    assert rules.delivery_days("store", here=True, warehouse_days=3, store_days=2) == 0
