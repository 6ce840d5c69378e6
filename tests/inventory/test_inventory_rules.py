"""Pure inventory logic: statuses, thresholds, distances, opening hours, allocation plans."""

from __future__ import annotations

import datetime as dt

from merx.inventory.rules import (LineRequest, StockRow, aggregate_status, effective_threshold, haversine_km,
                                  is_open, plan_allocation, stock_status, validate_opening_hours)


def test_status_from_threshold():
    assert stock_status(0, 5) == "out_of_stock"
    assert stock_status(5, 5) == "low_stock"
    assert stock_status(6, 5) == "in_stock"
    assert effective_threshold(None, 2, 10, 5) == 2  # the location overrides the product
    assert effective_threshold(1, 2, 10, 5) == 1
    assert effective_threshold(None, None, None, 5) == 5
    assert aggregate_status(["out_of_stock", "low_stock"]) == "low_stock"
    assert aggregate_status([]) == "out_of_stock"


def test_haversine_warsaw_to_krakow():
    assert 250 < haversine_km(52.2297, 21.0122, 50.0647, 19.9450) < 254


def test_opening_hours():
    hours = {"mon": [["09:00", "17:00"]], "sat": [["10:00", "14:00"]]}
    assert validate_opening_hours(hours) == []
    assert validate_opening_hours({"moon": []})[0][0] == "opening_hours.moon"
    assert validate_opening_hours({"mon": [["18:00", "09:00"]]})[0][0] == "opening_hours.mon[0]"
    monday_noon = dt.datetime(2026, 6, 1, 10, tzinfo=dt.timezone.utc)  # 12:00 in Warsaw (CEST)
    assert is_open(hours, "Europe/Warsaw", monday_noon) is True
    assert is_open(hours, "Europe/Warsaw", monday_noon + dt.timedelta(hours=6)) is False
    assert is_open({}, "UTC", monday_noon) is None


def test_priority_strategy_splits_a_line_across_locations():
    stock = {"A": [StockRow(1, 2, priority=10), StockRow(2, 5, priority=20)]}
    planned, short = plan_allocation([LineRequest("lines[0]", "A", 4)], stock, strategy="priority")
    assert short == []
    assert [(p.location_id, p.quantity) for p in planned] == [(1, 2), (2, 2)]


def test_most_stock_strategy_and_no_split():
    stock = {"A": [StockRow(1, 2, priority=10), StockRow(2, 5, priority=20)]}
    planned, _ = plan_allocation([LineRequest("lines[0]", "A", 4)], stock, strategy="most_stock")
    assert [(p.location_id, p.quantity) for p in planned] == [(2, 4)]
    planned, short = plan_allocation([LineRequest("lines[0]", "A", 6)], stock, allow_split=False)
    assert planned == [] and short[0].available == 5


def test_lines_sharing_a_sku_draw_on_the_same_stock_and_every_short_line_is_named():
    stock = {"A": [StockRow(1, 3)], "B": [StockRow(1, 1)]}
    lines = [LineRequest("lines[0]", "A", 2), LineRequest("lines[1]", "B", 2), LineRequest("lines[2]", "A", 2),
             LineRequest("lines[3]", "C", 1)]
    _, short = plan_allocation(lines, stock)
    assert [(s.key, s.sku, s.requested, s.available) for s in short] == [
        ("lines[1]", "B", 2, 1), ("lines[2]", "A", 2, 1), ("lines[3]", "C", 1, 0)]
