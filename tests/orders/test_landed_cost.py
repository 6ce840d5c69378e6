"""Costs landed on order lines at the time of sale: the cost in force then (a variant's own
before its product's), in the order's currency, on the line, in `order.placed` and in
`order.returned`; hidden from a customer reading the order; null when the catalog had none."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa


def _payloads(db, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM outbox_events WHERE type = :t ORDER BY seq"),
                            {"t": kind}).scalars().all()
    return [json.loads(p) if isinstance(p, str) else p for p in rows]


def _product_id(shop, sku: str) -> int:  # type: ignore[no-untyped-def]
    r = shop.client.get("/api/v1/products", params={"sku": sku}, headers=shop.admin)
    assert r.status_code == 200, r.text
    return r.json()["items"][0]["id"]


@pytest.mark.backends("sqlite", "postgresql")
def test_checkout_lands_the_cost_in_force_on_each_line_and_in_the_events(shop, db, make_key):
    shop.location("WH", priority=10, accepts_returns=True)
    shop.product("TEE", price="19.99")
    shop.product("MUG", price="8.50")
    shop.product("PEN", price="2.00")  # never costed
    for sku in ("TEE", "MUG", "PEN"):
        shop.stock(sku, "WH", 20)
    tee, mug = _product_id(shop, "TEE"), _product_id(shop, "MUG")
    now = dt.datetime.now(dt.timezone.utc)
    history = [(tee, "6.00", now - dt.timedelta(days=60)), (tee, "7.25", now - dt.timedelta(days=1)),
               (tee, "9.99", now + dt.timedelta(days=30)),  # announced, not yet in force
               (mug, "3.10", now - dt.timedelta(days=5))]
    for pid, amount, eff in history:
        r = shop.client.post(f"/api/v1/products/{pid}/costs", headers=shop.admin,
                             json={"amount": amount, "currency": "EUR", "effective_from": eff.isoformat()})
        assert r.status_code == 201, r.text
    # a cost in another currency does not land on a EUR order
    r = shop.client.post(f"/api/v1/products/{mug}/costs", headers=shop.admin,
                         json={"amount": "12.00", "currency": "PLN"})
    assert r.status_code == 201, r.text

    r = shop.order([("TEE", 2), ("MUG", 1), ("PEN", 3)], headers=shop.admin)
    assert r.status_code == 201, r.text
    order = r.json()
    assert [(ln["sku"], ln["unit_cost"]) for ln in order["lines"]] == [("TEE", "7.25"), ("MUG", "3.10"),
                                                                      ("PEN", None)]
    placed = _payloads(db, "order.placed")[-1]
    assert [(ln["sku"], ln["unit_cost"]) for ln in placed["lines"]] == [("TEE", "7.25"), ("MUG", "3.10"),
                                                                       ("PEN", None)]

    # a later cost change does not move what the order was sold at
    r = shop.client.post(f"/api/v1/products/{tee}/costs", headers=shop.admin,
                         json={"amount": "8.00", "currency": "EUR"})
    assert r.status_code == 201
    got = shop.client.get(f"/api/v1/orders/{order['id']}", headers=shop.admin).json()
    assert got["lines"][0]["unit_cost"] == "7.25"
    later = shop.order([("TEE", 1)], headers=shop.admin).json()
    assert later["lines"][0]["unit_cost"] == "8.00"

    # the return carries the landed cost of the line it brings back
    oid = order["id"]
    for step in ("capture", "fulfil"):
        body = {"carrier": "DHL", "tracking_number": "1"} if step == "fulfil" else None
        r = shop.client.post(f"/api/v1/orders/{oid}/{step}", json=body, headers=shop.admin)
        assert r.status_code == 200, r.text
    r = shop.client.post(f"/api/v1/orders/{oid}/returns", headers=shop.admin,
                         json={"lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]})
    assert r.status_code == 201, r.text
    r = shop.client.post(f"/api/v1/returns/{r.json()['id']}/receive", headers=shop.admin, json={"location": "WH"})
    assert r.status_code == 200, r.text
    returned = _payloads(db, "order.returned")[-1]
    assert [(ln["sku"], ln["unit_cost"]) for ln in returned["lines"]] == [("TEE", "7.25")]


def test_a_variant_cost_beats_its_product_cost_and_a_customer_never_sees_costs(shop, db, make_key):
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers

    shop.location("WH", priority=10)
    with UnitOfWork(db) as uow:
        p = catalog.create_product(uow, ProductCreate(name="Shirt", variants=[
            {"sku": "SH-S", "options": {"size": "S"}, "price": {"amount": "30.00", "currency": "EUR"}},
            {"sku": "SH-XL", "options": {"size": "XL"}, "price": {"amount": "34.00", "currency": "EUR"}}]))
    shop.stock("SH-S", "WH", 5)
    shop.stock("SH-XL", "WH", 5)
    r = shop.client.post(f"/api/v1/products/{p.id}/costs", headers=shop.admin,
                         json={"amount": "12.00", "currency": "EUR", "effective_from": "2020-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    r = shop.client.post(f"/api/v1/products/{p.id}/costs", headers=shop.admin,
                         json={"sku": "SH-XL", "amount": "14.50", "currency": "EUR",
                               "effective_from": "2019-06-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["sku"] == "SH-XL"

    with UnitOfWork(db) as uow:
        alice = customers.get_or_create_guest(uow, "alice@example.com")
        uow.commit()
    alice_key = make_key("customer", customer_id=alice.id)
    r = shop.order([("SH-S", 1), ("SH-XL", 1)], headers=alice_key, email="alice@example.com")
    assert r.status_code == 201, r.text
    assert [ln["unit_cost"] for ln in r.json()["lines"]] == [None, None]  # the customer's view
    staff_view = shop.client.get(f"/api/v1/orders/{r.json()['id']}", headers=make_key("staff")).json()
    assert [(ln["sku"], ln["unit_cost"]) for ln in staff_view["lines"]] == [("SH-S", "12.00"), ("SH-XL", "14.50")]
    assert [ln["unit_cost"] for ln in _payloads(db, "order.placed")[-1]["lines"]] == ["12.00", "14.50"]
    # and the customer may not read the cost history
    assert shop.client.get(f"/api/v1/products/{p.id}/costs", headers=alice_key).status_code == 403
