"""Product and variant costs: history by effective date, corrections, imports by SKU (JSON
and CSV, bad rows reported), who may read and write them."""

from __future__ import annotations

import datetime as dt

import pytest

UTC = dt.timezone.utc


def _product(client, admin, sku: str, price: str = "50.00", **extra) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/products", headers=admin,
                    json={"sku": sku, "name": f"Product {sku}", "price": {"amount": price, "currency": "EUR"}, **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _cost_at(client, admin, sku: str, at: str, currency: str = "EUR"):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/product-costs/at", params={"sku": sku, "currency": currency, "at": at}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["amount"]


@pytest.mark.backends("sqlite", "postgresql")
def test_cost_history_answers_by_effective_date(client, admin, db):
    from merx.catalog import public as catalog
    from merx.core.uow import UnitOfWork

    pid = _product(client, admin, "LAMP")
    for amount, eff in (("20.00", "2025-01-01T00:00:00Z"), ("22.50", "2025-07-01T00:00:00Z"),
                        ("19.80", "2026-02-01T00:00:00Z")):
        r = client.post(f"/api/v1/products/{pid}/costs", headers=admin,
                        json={"amount": amount, "currency": "EUR", "effective_from": eff, "reference": "ERP"})
        assert r.status_code == 201, r.text
    assert _cost_at(client, admin, "LAMP", "2024-12-31T23:59:59Z") is None  # before the first cost
    assert _cost_at(client, admin, "LAMP", "2025-01-01T00:00:00Z") == "20.00"  # from its first instant
    assert _cost_at(client, admin, "LAMP", "2025-06-30T12:00:00Z") == "20.00"
    assert _cost_at(client, admin, "LAMP", "2025-07-01T00:00:00Z") == "22.50"
    assert _cost_at(client, admin, "LAMP", "2026-03-01T00:00:00Z") == "19.80"
    assert _cost_at(client, admin, "LAMP", "2026-03-01T00:00:00Z", currency="PLN") is None

    # the same effective time again corrects that entry; the history keeps three rows
    r = client.post(f"/api/v1/products/{pid}/costs", headers=admin,
                    json={"amount": "21.00", "currency": "EUR", "effective_from": "2025-07-01T00:00:00Z"})
    assert r.status_code == 201
    history = client.get(f"/api/v1/products/{pid}/costs", headers=admin).json()["items"]
    assert [(h["amount"], h["effective_from"][:10]) for h in history] == [
        ("19.80", "2026-02-01"), ("21.00", "2025-07-01"), ("20.00", "2025-01-01")]
    with UnitOfWork(db) as uow:
        assert catalog.cost_at(uow, "LAMP", "EUR", dt.datetime(2025, 8, 1, tzinfo=UTC)) == catalog.costs_at(
            uow, ["LAMP"], "EUR", dt.datetime(2025, 8, 1, tzinfo=UTC))["LAMP"]
        assert str(catalog.cost_at(uow, "LAMP", "EUR", dt.datetime(2025, 8, 1, tzinfo=UTC))) == "21.00"


def test_costs_refuse_bad_input_naming_the_field(client, admin):
    pid = _product(client, admin, "DESK")
    cases = [({"amount": "-1.00", "currency": "EUR"}, "amount"),
             ({"amount": "1.001", "currency": "EUR"}, "amount"),
             ({"amount": 1.5, "currency": "EUR"}, "amount"),
             ({"amount": "1.00", "currency": "eur"}, "currency"),
             ({"amount": "1.00", "currency": "EUR", "sku": "NOPE"}, "sku"),
             ({"amount": "1.00", "currency": "EUR", "effective_from": "yesterday"}, "effective_from")]
    for body, field in cases:
        r = client.post(f"/api/v1/products/{pid}/costs", headers=admin, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in r.text, (body, r.text)
    assert client.get(f"/api/v1/products/{pid}/costs", headers=admin).json()["items"] == []
    assert client.post("/api/v1/products/999999/costs", headers=admin,
                       json={"amount": "1.00", "currency": "EUR"}).status_code == 404


def test_only_the_back_office_reads_or_writes_costs(client, admin, make_key):
    pid = _product(client, admin, "CHAIR")
    body = {"amount": "10.00", "currency": "EUR"}
    assert client.post(f"/api/v1/products/{pid}/costs", headers=make_key("staff"), json=body).status_code == 201
    for role in ("sales_rep", "support_agent", "marketer"):
        key = make_key(role)
        assert client.get(f"/api/v1/products/{pid}/costs", headers=key).status_code == 403, role
        assert client.post(f"/api/v1/products/{pid}/costs", headers=key, json=body).status_code == 403, role
        assert client.get("/api/v1/product-costs/coverage", headers=key).status_code == 403, role
    assert client.get(f"/api/v1/products/{pid}/costs").status_code == 401


def test_json_and_csv_imports_record_good_rows_and_name_bad_ones(client, admin):
    _product(client, admin, "A1", price="10.00")
    _product(client, admin, "B2", price="40.00")
    r = client.post("/api/v1/product-costs/import", headers=admin, json={
        "source": "erp", "reference": "SAP batch 7",
        "rows": [{"sku": "A1", "amount": "4.00", "currency": "EUR", "effective_from": "2025-01-01"},
                 {"sku": "ZZ", "amount": "1.00", "currency": "EUR"}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"recorded": 1, "errors": [{"row": 2, "field": "sku", "message": "ZZ is not a known SKU"}]}
    assert _cost_at(client, admin, "A1", "2025-02-01T00:00:00Z") == "4.00"

    csv_body = ("sku,cost,currency,effective_from\n"
                "A1,4.40,EUR,2026-01-01\n"
                "B2,abc,EUR,2026-01-01\n"
                "MISSING,3.00,EUR,2026-01-01\n"
                "B2,18.00,EUR,2026-01-01\n")
    r = client.post("/api/v1/product-costs/import", headers={**admin, "content-type": "text/csv"},
                    content=csv_body.encode())
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["recorded"] == 2
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "amount"), (4, "sku")]
    assert _cost_at(client, admin, "A1", "2026-02-01T00:00:00Z") == "4.40"
    assert _cost_at(client, admin, "B2", "2026-02-01T00:00:00Z") == "18.00"
    history = client.get(f"/api/v1/products/{_id(client, admin, 'A1')}/costs", headers=admin).json()["items"]
    assert [(h["source"], h["reference"]) for h in history] == [("csv", None), ("erp", "SAP batch 7")]

    r = client.post("/api/v1/product-costs/import", headers={**admin, "content-type": "text/csv"},
                    content=b"sku,price\nA1,3\n")
    assert r.status_code == 422 and "file" in r.text

    coverage = client.get("/api/v1/product-costs/coverage", headers=admin).json()
    assert coverage["variants"] == 2 and coverage["with_cost"] == 2
    assert coverage["categories"][0]["avg_cost_ratio"] == str(round((4.4 / 10 + 18 / 40) / 2, 3))


def _id(client, admin, sku: str) -> int:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/products", params={"sku": sku}, headers=admin).json()["items"][0]["id"]


def test_an_import_at_the_same_effective_time_corrects_the_row(client, admin):
    # an ERP export sent again with a fixed amount replaces that history entry, also when the
    # file carries the same row twice (the import looks its rows up once, then keeps them current)
    _product(client, admin, "C3", price="30.00")
    rows = [{"sku": "C3", "amount": "12.00", "currency": "EUR", "effective_from": "2025-03-01"}]
    assert client.post("/api/v1/product-costs/import", headers=admin,
                       json={"source": "erp", "rows": rows}).json()["recorded"] == 1
    again = [{**rows[0], "amount": "12.50"}, {**rows[0], "amount": "12.75", "effective_from": "2025-03-01T01:00:00+01:00"}]
    assert client.post("/api/v1/product-costs/import", headers=admin,
                       json={"source": "erp", "rows": again}).json()["recorded"] == 2
    history = client.get(f"/api/v1/products/{_id(client, admin, 'C3')}/costs", headers=admin).json()["items"]
    assert [(h["amount"], h["effective_from"][:10]) for h in history] == [("12.75", "2025-03-01")]
