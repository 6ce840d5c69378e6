"""Orders over HTTP: allocation, idempotency, validation, roles, lifecycle, payments saga,
pickup in store, returns, coupons."""

from __future__ import annotations

import sqlalchemy as sa
import pytest


def _setup_basic(shop, qty: int = 10):  # type: ignore[no-untyped-def]
    shop.location("WH", priority=10)
    shop.product("TEE", price="19.99")
    shop.product("MUG", price="8.50")
    shop.stock("TEE", "WH", qty)
    shop.stock("MUG", "WH", qty)


@pytest.mark.backends("sqlite", "postgresql")
def test_order_is_created_with_allocations_totals_and_event(shop, db):
    _setup_basic(shop)
    r = shop.order([("TEE", 2), ("MUG", 1)])
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "confirmed" and order["payment"]["status"] == "awaiting"
    assert order["number"].startswith("MX")
    assert order["totals"] == {"currency": "EUR", "subtotal": "48.48", "discount": "0.00", "shipping": "0.00",
                               "shipping_discount": "0.00", "total": "48.48", "refunded": "0.00",
                               "tax": "0.00"}  # a shop without tax rates charges none
    assert [(a["sku"], a["location"], a["quantity"]) for a in order["allocations"]] == [("TEE", "WH", 2),
                                                                                       ("MUG", "WH", 1)]
    assert shop.levels("TEE")["WH"]["reserved"] == 2
    with db.engine.connect() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM outbox_events WHERE type = 'order.placed'")).scalar_one()
    import json

    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["lines"][0] == {"sku": "TEE", "product_id": payload["lines"][0]["product_id"], "quantity": 2,
                                   "unit_price": "19.99", "line_total": "39.98", "category": None, "location": "WH",
                                   "locations": ["WH"], "unit_cost": None}
    assert payload["totals"]["total"] == "48.48"


def test_five_posts_with_one_idempotency_key_create_one_order(shop, db):
    _setup_basic(shop)
    body = {"channel": "web", "customer": {"email": "idem@example.com"}, "lines": [{"sku": "TEE", "quantity": 1}]}
    responses = [shop.client.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "checkout-42"})
                 for _ in range(5)]
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
    assert shop.levels("TEE")["WH"]["reserved"] == 1


def test_short_stock_is_409_naming_each_line_and_writes_nothing(shop, db):
    _setup_basic(shop, qty=2)
    r = shop.order([("MUG", 1), ("TEE", 3), ("MUG", 2)])
    assert r.status_code == 409
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert [s["field"] for s in body["shortages"]] == ["lines[1].sku", "lines[2].sku"]
    assert body["shortages"][0] == {"field": "lines[1].sku", "sku": "TEE", "requested": 3, "available": 2}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 0
    assert shop.levels("MUG")["WH"]["reserved"] == 0


def test_bad_input_is_422_naming_the_field(shop):
    _setup_basic(shop)
    r = shop.order([("NOPE", 1)])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[0].sku"
    r = shop.order([("TEE", 0)])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines.0.quantity"
    r = shop.order([("TEE", 1)], email="not-an-email")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer.email"
    r = shop.order([("TEE", 1)], payment={"provider": "bitcoin"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "payment.provider"
    r = shop.order([("TEE", 1)], currency="PLN")
    assert r.status_code == 422 and "no price in PLN" in r.json()["errors"][0]["message"]
    r = shop.order([("TEE", 1)], fulfilment={"type": "pickup", "location": "WH"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fulfilment.location"


def test_shipping_splits_a_line_across_warehouses_by_priority(shop):
    shop.location("EAST", priority=1)
    shop.location("WEST", priority=2)
    shop.product("LAMP", price="30.00")
    shop.stock("LAMP", "EAST", 2)
    shop.stock("LAMP", "WEST", 5)
    order = shop.order([("LAMP", 4)]).json()
    assert [(a["location"], a["quantity"]) for a in order["allocations"]] == [("EAST", 2), ("WEST", 2)]


def test_roles_customers_see_only_their_own_orders_and_only_reps_place_b2b(shop, make_key, admin, db):
    _setup_basic(shop)
    from merx.core.uow import UnitOfWork
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate

    with UnitOfWork(db) as uow:
        alice = customers.create_customer(uow, CustomerCreate(email="alice@example.com"))
    with UnitOfWork(db) as uow:
        bob = customers.create_customer(uow, CustomerCreate(email="bob@example.com"))
    alice_key = make_key("customer", customer_id=alice.id)
    bob_key = make_key("customer", customer_id=bob.id)
    mine = shop.order([("TEE", 1)], headers=alice_key, email="alice@example.com").json()
    assert mine["customer_id"] == alice.id
    assert shop.client.get(f"/api/v1/orders/{mine['id']}", headers=alice_key).status_code == 200
    assert shop.client.get(f"/api/v1/orders/{mine['id']}", headers=bob_key).status_code == 404
    assert shop.client.get("/api/v1/orders", headers=bob_key).json()["items"] == []
    assert shop.client.get(f"/api/v1/orders/{mine['id']}").status_code == 401
    assert shop.client.post(f"/api/v1/orders/{mine['id']}/cancel", headers=bob_key).status_code == 404
    assert shop.client.post(f"/api/v1/orders/{mine['id']}/fulfil", json={"carrier": "x", "tracking_number": "1"},
                            headers=alice_key).status_code == 403
    # a customer cannot order on someone else's account
    r = shop.order([("TEE", 1)], headers=alice_key, customer={"id": bob.id})
    assert r.status_code == 403
    # b2b: only sales reps and staff
    assert shop.order([("TEE", 1)], channel="b2b").status_code == 403
    rep = make_key("sales_rep")
    rep_order = shop.order([("TEE", 1)], channel="b2b", headers=rep)
    assert rep_order.status_code == 201
    other_rep = make_key("sales_rep")
    assert shop.client.get(f"/api/v1/orders/{rep_order.json()['id']}", headers=other_rep).status_code == 404
    assert shop.client.get(f"/api/v1/orders/{rep_order.json()['id']}", headers=rep).status_code == 200
    assert shop.order([("TEE", 1)], headers=make_key("seller", seller_id=1)).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_declined_payment_cancels_the_order_and_releases_stock(shop, db):
    _setup_basic(shop, qty=3)
    r = shop.order([("TEE", 3)], payment={"provider": "test", "behaviour": "decline"})
    assert r.status_code == 402
    body = r.json()
    assert body["order_status"] == "cancelled"
    assert shop.levels("TEE")["WH"] == {**shop.levels("TEE")["WH"], "reserved": 0, "available": 3}
    order = shop.client.get(f"/api/v1/orders/{body['order_id']}", headers=shop.admin).json()
    assert order["status"] == "cancelled" and order["payment"]["status"] == "failed"
    # the units are sellable again; a timeout is compensated the same way
    r = shop.order([("TEE", 3)], payment={"provider": "test", "behaviour": "timeout"})
    assert r.status_code == 504 and shop.levels("TEE")["WH"]["reserved"] == 0
    ok = shop.order([("TEE", 3)], payment={"provider": "test"})
    assert ok.status_code == 201 and ok.json()["status"] == "paid"
    assert ok.json()["payment"]["status"] == "captured"
    with db.engine.connect() as conn:
        reasons = [r[0] for r in conn.execute(sa.text(
            "SELECT reason FROM inventory_movements WHERE sku = 'TEE' ORDER BY id"))]
    assert reasons == ["receipt", "reservation", "release", "reservation", "release", "reservation"]


def test_lifecycle_ship_and_invalid_transitions(shop):
    _setup_basic(shop)
    order = shop.order([("TEE", 2)], payment={"provider": "test"}).json()
    oid, h = order["id"], shop.admin
    assert shop.client.post(f"/api/v1/orders/{oid}/complete", headers=h).status_code == 409
    assert shop.client.post(f"/api/v1/orders/{oid}/ready-for-pickup", headers=h).status_code == 409
    r = shop.client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "DHL", "tracking_number": "JD0001"},
                         headers=h)
    assert r.status_code == 200 and r.json()["status"] == "fulfilled"
    assert r.json()["fulfilment"]["tracking"]["number"] == "JD0001"
    assert shop.levels("TEE")["WH"] | {} == {**shop.levels("TEE")["WH"], "on_hand": 8, "reserved": 0}
    again = shop.client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "DHL", "tracking_number": "x"},
                             headers=h)
    assert again.status_code == 409 and again.json()["current_status"] == "fulfilled"
    assert shop.client.post(f"/api/v1/orders/{oid}/cancel", headers=h).status_code == 409
    assert shop.client.post(f"/api/v1/orders/{oid}/deliver", headers=h).json()["status"] == "delivered"
    assert shop.client.post(f"/api/v1/orders/{oid}/complete", headers=h).json()["status"] == "completed"


def test_cancel_paid_order_releases_stock_and_refunds(shop):
    _setup_basic(shop)
    order = shop.order([("MUG", 4)], payment={"provider": "test"}).json()
    r = shop.client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=shop.admin)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled" and r.json()["payment"]["status"] == "refunded"
    assert r.json()["totals"]["refunded"] == "34.00"
    assert shop.levels("MUG")["WH"]["reserved"] == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_pickup_in_store_end_to_end(shop, db):
    shop.location("WH", priority=1)
    shop.location("STORE-KRK", kind="store", pickup=True, lat=50.06, lon=19.94,
                  opening_hours={"mon": [["09:00", "20:00"]]}, timezone="Europe/Warsaw")
    shop.product("BOOT", price="120.00")
    shop.stock("BOOT", "WH", 10)
    shop.stock("BOOT", "STORE-KRK", 1)
    # pickup allocates only from the chosen store, never from the warehouse
    short = shop.order([("BOOT", 2)], fulfilment={"type": "pickup", "location": "STORE-KRK"})
    assert short.status_code == 409 and short.json()["shortages"][0]["available"] == 1
    order = shop.order([("BOOT", 1)], fulfilment={"type": "pickup", "location": "STORE-KRK"}).json()
    assert order["allocations"] == [{"line": 1, "sku": "BOOT", "location": "STORE-KRK", "quantity": 1}]
    oid, h = order["id"], shop.admin
    assert shop.client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "x", "tracking_number": "1"},
                            headers=h).status_code == 409
    ready = shop.client.post(f"/api/v1/orders/{oid}/ready-for-pickup", headers=h)
    assert ready.status_code == 200 and ready.json()["status"] == "ready_for_pickup"
    # the handover is confirmed at the right store, with the pay-in-store money collected
    shop.location("STORE-WAW", kind="store", pickup=True)
    wrong = shop.client.post(f"/api/v1/orders/{oid}/picked-up", json={"location": "STORE-WAW"}, headers=h)
    assert wrong.status_code == 409 and wrong.json()["errors"][0]["field"] == "location"
    unpaid = shop.client.post(f"/api/v1/orders/{oid}/picked-up", json={"location": "STORE-KRK"}, headers=h)
    assert unpaid.status_code == 409 and unpaid.json()["errors"][0]["field"] == "payment_collected"
    done = shop.client.post(f"/api/v1/orders/{oid}/picked-up",
                            json={"location": "STORE-KRK", "payment_collected": True}, headers=h)
    assert done.status_code == 200
    assert done.json()["status"] == "picked_up" and done.json()["payment"]["status"] == "captured"
    assert shop.levels("BOOT")["STORE-KRK"]["on_hand"] == 0
    assert shop.levels("BOOT")["WH"]["on_hand"] == 10
    with db.engine.connect() as conn:
        types = [r[0] for r in conn.execute(sa.text(
            "SELECT type FROM outbox_events WHERE aggregate_type = 'order' ORDER BY seq"))]
    assert types == ["order.placed", "order.ready_for_pickup", "order.picked_up"]


@pytest.mark.backends("sqlite", "postgresql")
def test_return_in_a_different_store_restocks_there_and_refunds_through_the_provider(shop, db):
    shop.location("WH", priority=1)
    shop.location("STORE-A", kind="store", pickup=True, accepts_returns=True)
    shop.location("STORE-B", kind="store", accepts_returns=True)
    shop.location("OUTLET", kind="store", accepts_returns=False)
    shop.product("JACKET", price="99.99")
    shop.product("SCARF", price="15.00")
    shop.stock("JACKET", "STORE-A", 2)
    shop.stock("SCARF", "STORE-A", 2)
    order = shop.order([("JACKET", 2), ("SCARF", 1)], fulfilment={"type": "pickup", "location": "STORE-A"},
                       payment={"provider": "test"}).json()
    oid, h = order["id"], shop.admin
    shop.client.post(f"/api/v1/orders/{oid}/ready-for-pickup", headers=h)
    assert shop.client.post(f"/api/v1/orders/{oid}/picked-up", json={"location": "STORE-A"},
                            headers=h).json()["status"] == "picked_up"
    # a store that takes no returns is refused, and one cannot return more than was bought
    r = shop.client.post(f"/api/v1/orders/{oid}/returns", headers=h,
                         json={"location": "OUTLET", "lines": [{"line": 1, "quantity": 1, "reason": "too_small"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "location"
    r = shop.client.post(f"/api/v1/orders/{oid}/returns", headers=h,
                         json={"location": "STORE-B", "lines": [{"line": 1, "quantity": 3, "reason": "too_small"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[0].quantity"
    ra = shop.client.post(f"/api/v1/orders/{oid}/returns", headers=h,
                          json={"location": "STORE-B", "reason": "wrong size",
                                "lines": [{"line": 1, "quantity": 1, "reason": "too_small"}]})
    assert ra.status_code == 201, ra.text
    assert ra.json()["status"] == "authorised" and ra.json()["started_channel"] == "store"
    received = shop.client.post(f"/api/v1/returns/{ra.json()['id']}/receive", headers=h)
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "refunded" and received.json()["refund"] == "99.99"
    assert shop.levels("JACKET")["STORE-B"]["on_hand"] == 1  # restocked where it was handed in
    assert shop.levels("JACKET")["STORE-A"]["on_hand"] == 0
    after = shop.client.get(f"/api/v1/orders/{oid}", headers=h).json()
    assert after["payment"]["status"] == "partially_refunded" and after["totals"]["refunded"] == "99.99"
    assert after["lines"][0]["returned_quantity"] == 1 and after["status"] == "picked_up"
    with db.engine.connect() as conn:
        refunds = conn.execute(sa.text("SELECT provider, amount_minor, status FROM order_payments "
                                       "WHERE kind = 'refund'")).all()
    assert [tuple(r) for r in refunds] == [("test", 9999, "succeeded")]
    # receiving twice is refused
    assert shop.client.post(f"/api/v1/returns/{ra.json()['id']}/receive", headers=h).status_code == 409


def test_full_return_moves_the_order_to_returned_then_refunded(shop):
    _setup_basic(shop)
    shop.location("SHOP", kind="store", accepts_returns=True)
    order = shop.order([("TEE", 1)], payment={"provider": "test"}).json()
    oid, h = order["id"], shop.admin
    shop.client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "DHL", "tracking_number": "1"}, headers=h)
    ra = shop.client.post(f"/api/v1/orders/{oid}/returns", headers=h,
                          json={"lines": [{"line": 1, "quantity": 1, "reason": "defective"}]}).json()
    assert ra["started_channel"] == "online" and ra["location"] is None
    missing = shop.client.post(f"/api/v1/returns/{ra['id']}/receive", headers=h)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "location"
    shop.client.post(f"/api/v1/returns/{ra['id']}/receive", json={"location": "SHOP"}, headers=h)
    final = shop.client.get(f"/api/v1/orders/{oid}", headers=h).json()
    assert final["status"] == "refunded" and final["payment"]["status"] == "refunded"


@pytest.mark.backends("sqlite", "postgresql")
def test_erasing_a_customer_strips_their_orders_of_email_and_address_but_keeps_the_amounts(shop, make_key):
    shop.location("WH")
    shop.product("MUG", price="12.50")
    shop.stock("MUG", "WH", 10)
    address = {"name": "Eve Doe", "line1": "1 Main St", "city": "Gdansk", "postal_code": "80-001", "country": "PL"}
    placed = shop.order([("MUG", 2)], email="eve@example.com", fulfilment={"type": "ship", "address": address})
    assert placed.status_code == 201, placed.text
    other = shop.order([("MUG", 1)], email="sam@example.com").json()
    order = placed.json()
    staff = make_key("staff")
    r = shop.client.post(f"/api/v1/customers/{order['customer_id']}/erase", headers=staff)
    assert r.status_code == 200 and r.json()["erased"]["orders"] == 1
    after = shop.client.get(f"/api/v1/orders/{order['id']}", headers=shop.admin).json()
    assert after["email"] is None and after["fulfilment"]["address"] is None
    assert after["totals"]["total"] == order["totals"]["total"] == "25.00"
    assert [(ln["sku"], ln["quantity"]) for ln in after["lines"]] == [("MUG", 2)]
    untouched = shop.client.get(f"/api/v1/orders/{other['id']}", headers=shop.admin).json()
    assert untouched["email"] == "sam@example.com"


@pytest.mark.backends("sqlite", "postgresql")
def test_order_list_finds_by_number_or_email_and_pages_newest_first(shop, make_key):
    shop.location("WH")
    shop.product("MUG", price="5.00")
    shop.stock("MUG", "WH", 50)
    ids = [shop.order([("MUG", 1)], email=email).json()["id"]
           for email in ("ann@example.com", "bob_smith@example.com", "Ann.Lee@example.org", "bob%x@example.com")]
    url = "/api/v1/orders"
    found = shop.client.get(url, params={"q": "ANN"}, headers=shop.admin).json()["items"]
    assert [o["id"] for o in found] == [ids[0], ids[2]]
    number = shop.client.get(f"{url}/{ids[1]}", headers=shop.admin).json()["number"]
    assert [o["id"] for o in shop.client.get(url, params={"q": number[-3:]}, headers=shop.admin).json()["items"]] \
        == [ids[1]]
    # LIKE wildcards typed by the user are plain characters
    assert [o["id"] for o in shop.client.get(url, params={"q": "bob%"}, headers=shop.admin).json()["items"]] \
        == [ids[3]]
    assert [o["id"] for o in shop.client.get(url, params={"q": "bo_"}, headers=shop.admin).json()["items"]] == []
    first = shop.client.get(url, params={"sort": "newest", "limit": 3}, headers=shop.admin).json()
    assert [o["id"] for o in first["items"]] == ids[::-1][:3]
    rest = shop.client.get(url, params={"sort": "newest", "limit": 3, "cursor": first["next_cursor"]},
                           headers=shop.admin).json()
    assert [o["id"] for o in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    bad = shop.client.get(url, params={"sort": "sideways"}, headers=shop.admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"
    # a customer's search stays within their own orders
    mine = make_key("customer", customer_id=shop.client.get(f"{url}/{ids[0]}", headers=shop.admin).json()["customer_id"])
    assert [o["id"] for o in shop.client.get(url, params={"q": "example"}, headers=mine).json()["items"]] == [ids[0]]
