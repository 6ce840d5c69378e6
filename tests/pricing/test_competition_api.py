"""Competitor prices, the price-position report and pricing rules over HTTP: a foreign
currency without a rate is refused, proposals wait for approval and never go below cost or
the floor, approval writes the price list and the next checkout charges it."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

NOW = dt.datetime.now(dt.timezone.utc)


def _shop(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/locations", headers=admin, json={"code": "WH", "name": "Warehouse", "kind": "warehouse"})
    assert r.status_code == 201, r.text
    for sku, price, cost in (("LAMP", "49.00", "30.00"), ("DESK", "199.00", "120.00"), ("RUG", "80.00", None)):
        r = client.post("/api/v1/products", headers=admin, json={
            "sku": sku, "name": sku.title(), "category": None, "price": {"amount": price, "currency": "EUR"}})
        assert r.status_code == 201, r.text
        if cost:
            assert client.post(f"/api/v1/products/{r.json()['id']}/costs", headers=admin, json={
                "amount": cost, "currency": "EUR", "effective_from": "2020-01-01"}).status_code == 201
        assert client.post("/api/v1/inventory/adjustments", headers=admin, json={
            "sku": sku, "location": "WH", "delta": 20, "reason": "receipt"}).status_code == 200
    for code, name in (("lampworld", "Lampworld"), ("homebase", "Homebase"), ("usimport", "US Import")):
        r = client.post("/api/v1/sales/competitors", headers=admin, json={"code": code, "name": name})
        assert r.status_code == 201, r.text
    r = client.post("/api/v1/price-lists", headers=admin, json={"code": "competitive", "name": "Competitive",
                                                                "currency": "EUR"})
    assert r.status_code == 201, r.text


def _observe(client, admin, competitor: str, sku: str, amount: str, currency: str = "EUR", **extra):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/sales/competitor-prices", headers=admin, json={
        "competitor": competitor, "sku": sku, "amount": amount, "currency": currency, "source": "manual", **extra})


@pytest.mark.backends("sqlite", "postgresql")
def test_competitor_price_in_another_currency_needs_a_rate(client, admin, db):
    _shop(client, admin)
    r = _observe(client, admin, "usimport", "LAMP", "52.00", "USD")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "currency" and "rate" in r.json()["detail"]
    r = _observe(client, admin, "usimport", "LAMP", "52.00", "USD", rate="0.92")
    assert r.status_code == 201, r.text
    assert (r.json()["amount"], r.json()["currency"], r.json()["observed_amount"], r.json()["rate"]) == (
        "47.84", "EUR", "52.00", "0.92")
    # bad rows of a batch are named, the good ones kept; rates may come for the whole import
    r = client.post("/api/v1/sales/competitor-prices/import", headers=admin, json={"rates": {"GBP": "1.17"}, "rows": [
        {"competitor": "homebase", "sku": "LAMP", "amount": "41.00", "currency": "GBP"},
        {"competitor": "homebase", "sku": "DESK", "amount": "210.00", "currency": "CHF"},
        {"competitor": "nobody", "sku": "DESK", "amount": "1.00", "currency": "EUR"},
        {"competitor": "homebase", "sku": "GHOST", "amount": "1.00", "currency": "EUR"},
        {"competitor": "homebase", "sku": "DESK", "amount": "0.00", "currency": "EUR"}]})
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == 1
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "currency"), (3, "competitor"), (4, "sku"),
                                                                     (5, "amount")]
    csv_body = ("competitor,sku,price,currency,observed_at,url\n"
                "lampworld,DESK,189.00,EUR,2026-01-01T10:00:00Z,https://lampworld.example/desk\n"
                "lampworld,DESK,185.00,USD,,\n")
    r = client.post("/api/v1/sales/competitor-prices/import", headers={**admin, "content-type": "text/csv"},
                    content=csv_body.encode())
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == 1 and r.json()["errors"][0]["row"] == 3
    seen = client.get("/api/v1/sales/competitor-prices", params={"sku": "LAMP"}, headers=admin).json()["items"]
    assert sorted((p["competitor"], p["amount"]) for p in seen) == [("homebase", "47.97"), ("usimport", "47.84")]


def test_price_position_names_the_cheapest_median_and_our_rank(client, admin, make_key):
    _shop(client, admin)
    for comp, sku, amount in (("lampworld", "LAMP", "45.00"), ("homebase", "LAMP", "52.00"),
                              ("usimport", "LAMP", "47.00"), ("lampworld", "DESK", "219.00")):
        assert _observe(client, admin, comp, sku, amount).status_code == 201
    # an older observation of the same competitor is replaced by the latest
    assert _observe(client, admin, "homebase", "DESK", "150.00",
                    observed_at=(NOW - dt.timedelta(days=3)).isoformat()).status_code == 201
    assert _observe(client, admin, "homebase", "DESK", "205.00").status_code == 201
    assert _observe(client, admin, "usimport", "DESK", "99.00",
                    observed_at=(NOW - dt.timedelta(days=90)).isoformat()).status_code == 201  # too old

    rep = make_key("sales_rep")
    r = client.get("/api/v1/sales/price-position", headers=rep)
    assert r.status_code == 200, r.text
    rows = {row["sku"]: row for row in r.json()["rows"]}
    lamp, desk = rows["LAMP"], rows["DESK"]
    assert (lamp["our_price"], lamp["lowest"], lamp["lowest_competitor"], lamp["median"]) == (
        "49.00", "45.00", "lampworld", "47.00")
    assert (lamp["rank"], lamp["of"], lamp["position"], lamp["index"]) == (3, 4, "above_median", "104.3")
    assert (desk["lowest"], desk["competitors"], desk["rank"], desk["position"]) == ("205.00", 2, 1, "cheapest")
    assert r.json()["summary"]["cheapest"] == 1 and r.json()["summary"]["above_median"] == 1
    xlsx = client.get("/api/v1/sales/price-position", params={"format": "xlsx"}, headers=admin)
    assert xlsx.status_code == 200
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[1]][:3] == ["sku", "name", "category"] and sheet.max_row == 3
    assert client.get("/api/v1/sales/price-position", params={"format": "csv"},
                      headers=admin).text.startswith("sku,name,category")
    # rules and proposals show costs: not for a rep
    assert client.get("/api/v1/sales/pricing-rules", headers=rep).status_code == 403
    assert client.get("/api/v1/sales/price-proposals", headers=rep).status_code == 403
    assert client.post("/api/v1/sales/competitor-prices", headers=rep, json={}).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_a_rule_proposes_within_the_floor_and_approval_applies_the_price(client, admin, db):
    _shop(client, admin)
    for comp, sku, amount in (("lampworld", "LAMP", "44.50"), ("homebase", "LAMP", "46.00"),
                              ("lampworld", "DESK", "125.00"), ("lampworld", "RUG", "60.00")):
        assert _observe(client, admin, comp, sku, amount).status_code == 201
    bad = client.post("/api/v1/sales/pricing-rules", headers=admin, json={
        "code": "plus", "name": "Cost plus", "kind": "cost_plus", "price_list": "competitive"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "markup_percent"
    bad = client.post("/api/v1/sales/pricing-rules", headers=admin, json={
        "code": "m", "name": "M", "kind": "match_lowest", "price_list": "nope"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "price_list"
    r = client.post("/api/v1/sales/pricing-rules", headers=admin, json={
        "code": "match", "name": "Match the lowest", "kind": "match_lowest", "price_list": "competitive",
        "undercut": "0.01", "floor_margin_percent": "20", "rounding": "0.99"})
    assert r.status_code == 201, r.text

    run = client.post("/api/v1/sales/pricing-rules/match/run", headers=admin)
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["skipped"] == {"no_cost": 1}  # RUG has no cost: a rule never prices blind
    props = {p["sku"]: p for p in body["proposals"]}
    # LAMP: lowest 44.50 - 0.01 -> 43.99; floor = 30 / 0.8 = 37.50
    assert (props["LAMP"]["proposed_price"], props["LAMP"]["floor"], props["LAMP"]["status"]) == (
        "43.99", "37.50", "pending")
    # DESK: lowest 125.00 is under the floor 150.00 (120 / 0.8): held at the floor, next .99
    assert (props["DESK"]["proposed_price"], props["DESK"]["floor"]) == ("150.99", "150.00")
    for p in props.values():
        assert Decimal(p["proposed_price"]) >= Decimal(p["floor"]) >= Decimal(p["cost"])
    # running again proposes nothing new while the same proposals wait
    again = client.post("/api/v1/sales/pricing-rules/match/run", headers=admin).json()
    assert again["proposed"] == 0 and again["skipped"]["already_proposed"] == 2

    # nothing changed yet: an order still pays the catalog price
    def order_price(sku: str) -> str:
        r = client.post("/api/v1/orders", headers=admin, json={"channel": "web", "customer": {"email": "b@example.com"},
                                                              "lines": [{"sku": sku, "quantity": 1}]})
        assert r.status_code == 201, r.text
        return r.json()["lines"][0]["unit_price"]

    assert order_price("LAMP") == "49.00"
    r = client.post(f"/api/v1/sales/price-proposals/{props['LAMP']['id']}/approve", headers=admin,
                    json={"note": "ok by pricing"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert order_price("LAMP") == "43.99"
    assert client.post(f"/api/v1/sales/price-proposals/{props['LAMP']['id']}/approve",
                       headers=admin).status_code == 409  # decided already

    # the desk's cost rose after the proposal: approving it would sell below the new floor
    desk_id = client.get("/api/v1/products", params={"sku": "DESK"}, headers=admin).json()["items"][0]["id"]
    assert client.post(f"/api/v1/products/{desk_id}/costs", headers=admin,
                       json={"amount": "130.00", "currency": "EUR"}).status_code == 201
    r = client.post(f"/api/v1/sales/price-proposals/{props['DESK']['id']}/approve", headers=admin)
    assert r.status_code == 409 and "floor" in r.json()["detail"]
    assert order_price("DESK") == "199.00"
    r = client.post(f"/api/v1/sales/price-proposals/{props['DESK']['id']}/reject", headers=admin,
                    json={"note": "cost changed"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    listed = client.get("/api/v1/sales/price-proposals", headers=admin).json()["items"]
    assert {(p["sku"], p["status"]) for p in listed} == {("LAMP", "approved"), ("DESK", "rejected")}
    rules = client.get("/api/v1/sales/pricing-rules", headers=admin).json()["items"]
    assert rules[0]["pending_proposals"] == 0


def test_the_request_examples_validate(app):
    from merx.catalog.schemas import CostCreate
    from merx.pricing.schemas import CompetitorPriceIn, PricingRuleCreate

    for model in (CostCreate, CompetitorPriceIn, PricingRuleCreate):
        examples = app.openapi()["components"]["schemas"][model.__name__]["examples"]
        assert examples
        for example in examples:
            model.model_validate(example)


def test_implausible_times_are_refused_naming_the_field(client, admin):
    _shop(client, admin)
    pid = client.get("/api/v1/products", params={"sku": "LAMP"}, headers=admin).json()["items"][0]["id"]
    r = client.post(f"/api/v1/products/{pid}/costs", headers=admin,
                    json={"amount": "1.00", "currency": "EUR", "effective_from": "0001-01-01T00:00:00+01:00"})
    assert r.status_code == 422 and "effective_from" in r.text
    r = client.get("/api/v1/product-costs/at", params={"sku": "LAMP", "currency": "EUR", "at": "0001-01-01T00:00:00"},
                   headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "at"
    r = _observe(client, admin, "lampworld", "LAMP", "40.00", observed_at="3000-01-01T00:00:00Z")
    assert r.status_code == 422 and "observed_at" in r.text
    r = _observe(client, admin, "lampworld", "LAMP", "40.00", observed_at=(NOW + dt.timedelta(days=2)).isoformat())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "observed_at"
