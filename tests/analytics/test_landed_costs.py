"""Margins from landed costs: real checkouts (orders land the catalog's cost on each line),
a real return, then the analytics reports. Costed products show their real profit; the
reports name the products, lines and orders without a cost and the revenue affected."""

from __future__ import annotations

from decimal import Decimal

import pytest

PRICES = {"A": "10.00", "B": "20.00", "C": "8.00", "D": "5.00"}
COSTS = {"A": "4.00", "B": "13.00"}  # C and D were never costed
RATIO = Decimal("0.6")  # the assumed ratio (service.DEFAULT_COST_RATIO) for lines without a cost


def _shop(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/locations", headers=admin, json={"code": "WH", "name": "Warehouse", "kind": "warehouse",
                                                              "accepts_returns": True})
    assert r.status_code == 201, r.text
    for sku, price in PRICES.items():
        r = client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": f"Product {sku}", "category": None, "price": {"amount": price, "currency": "EUR"}})
        assert r.status_code == 201, r.text
        if sku in COSTS:
            r = client.post(f"/api/v1/products/{r.json()['id']}/costs", headers=admin,
                            json={"amount": COSTS[sku], "currency": "EUR", "effective_from": "2020-01-01"})
            assert r.status_code == 201, r.text
        r = client.post("/api/v1/inventory/adjustments", headers=admin,
                        json={"sku": sku, "location": "WH", "delta": 50, "reason": "receipt"})
        assert r.status_code == 200, r.text


def _order(client, admin, lines: list[tuple[str, int]]) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/orders", headers=admin, json={
        "channel": "web", "customer": {"email": "buyer@example.com"},
        "lines": [{"sku": s, "quantity": q} for s, q in lines]})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_reports_use_landed_costs_and_name_what_has_none(db, client, admin):
    _shop(client, admin)
    o1 = _order(client, admin, [("A", 2), ("C", 1)])
    o2 = _order(client, admin, [("B", 1), ("D", 3)])
    o3 = _order(client, admin, [("A", 1), ("C", 2)])
    # one A of o1 comes back: its revenue and its landed cost go back with it
    oid = o1["id"]
    assert client.post(f"/api/v1/orders/{oid}/capture", headers=admin).status_code == 200
    assert client.post(f"/api/v1/orders/{oid}/fulfil", headers=admin,
                       json={"carrier": "DHL", "tracking_number": "1"}).status_code == 200
    ret = client.post(f"/api/v1/orders/{oid}/returns", headers=admin,
                      json={"lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]})
    assert ret.status_code == 201, ret.text
    r = client.post(f"/api/v1/returns/{ret.json()['id']}/receive", headers=admin, json={"location": "WH"})
    assert r.status_code == 200, r.text

    # independent figures: net units per SKU x price, landed cost or the assumed ratio
    units = {"A": 2 + 1 - 1, "B": 1, "C": 1 + 2, "D": 3}
    revenue = {s: units[s] * Decimal(PRICES[s]) for s in units}
    cost = {s: units[s] * Decimal(COSTS[s]) if s in COSTS else revenue[s] * RATIO for s in units}
    profit = {s: revenue[s] - cost[s] for s in units}

    portfolio = client.get("/api/v1/analytics/portfolio", headers=admin)
    assert portfolio.status_code == 200, portfolio.text
    report = portfolio.json()
    by_sku = {p["sku"]: p for p in report["products"]}
    assert {s: Decimal(p["profit"]) for s, p in by_sku.items()} == profit
    assert {s: p["cost_assumed_share"] for s, p in by_sku.items()} == {"A": 0.0, "B": 0.0, "C": 1.0, "D": 1.0}

    missing = report["cost_missing"]
    uncosted = [s for s in units if s not in COSTS]
    assert missing["lines"] == 3 and missing["orders"] == 3  # C in o1 and o3, D in o2
    assert Decimal(missing["revenue"]) == sum(revenue[s] for s in uncosted)
    assert Decimal(missing["assumed_cost"]) == sum(cost[s] for s in uncosted)
    assert missing["revenue_share"] == round(float(sum(revenue[s] for s in uncosted) / sum(revenue.values())), 6)
    assert [(p["sku"], Decimal(p["revenue"]), p["lines"], p["orders"]) for p in missing["products"]] == [
        ("C", revenue["C"], 2, 2), ("D", revenue["D"], 1, 1)]
    assert missing["products"][0]["order_refs"] == sorted([str(o1["id"]), str(o3["id"])])
    assert missing["products"][0]["name"] == "Product C"

    pareto = client.get("/api/v1/analytics/pareto", params={"measure": "profit"}, headers=admin).json()
    assert {row["item"]: Decimal(row["value"]) for row in pareto["rows"]} == profit
    assert pareto["cost_missing"]["revenue"] == missing["revenue"]
    assert "revenue" not in client.get("/api/v1/analytics/pareto", headers=admin).json().get("cost_missing", {})

    sales = client.get("/api/v1/analytics/sales", params={"by": "product"}, headers=admin).json()
    assert Decimal(sales["total"]["margin"]) == sum(profit.values())
    assert sales["cost_missing"]["lines"] == 3

    # the XLSX export carries the sentence naming what is assumed
    xlsx = client.get("/api/v1/analytics/portfolio", params={"format": "xlsx"}, headers=admin)
    assert xlsx.status_code == 200
    import io

    import openpyxl

    notes = [c.value for row in openpyxl.load_workbook(io.BytesIO(xlsx.content))["notes"].iter_rows() for c in row]
    assert any(n and "3 product lines in 3 orders have no recorded cost" in n for n in notes), notes
    assert o2["lines"][0]["unit_cost"] == "13.00"


def test_when_every_line_is_costed_the_report_says_margins_are_real(db, client, admin):
    from merx.analytics.cost_gaps import summary

    _shop(client, admin)
    _order(client, admin, [("A", 1), ("B", 2)])
    missing = client.get("/api/v1/analytics/portfolio", headers=admin).json()["cost_missing"]
    assert (missing["lines"], missing["revenue"], missing["products"]) == (0, "0.00", [])
    assert summary(missing).startswith("every product line")
