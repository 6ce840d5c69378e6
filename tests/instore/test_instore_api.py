"""The in-store API end to end over HTTP: an associate finds a product by its EAN, sees stock
in another store, orders it for pickup there for a customer found by phone; the associate of
that store hands it over after verification; a third store takes a return of an online order
and restocks it. And the lines the new role must not cross."""

from __future__ import annotations

from typing import Any

import pytest

from instore_shop import api_key_headers as _key, seed_chain


@pytest.fixture
def chain(db: Any) -> Any:
    return seed_chain(db)


def _on_hand(db: Any, sku: str, store: str) -> int:
    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    with UnitOfWork(db) as uow:
        rows = inventory.availability(uow, sku, with_quantities=True)["locations"]
    return next((r["on_hand"] for r in rows if r["location"] == store), 0)


@pytest.mark.backends("sqlite", "postgresql")
def test_endless_aisle_pickup_elsewhere_and_return_in_a_third_store(client: Any, db: Any, chain: Any) -> None:
    waw, krk, gdn = (_key(db, chain.users[k]) for k in ("waw", "krk", "gdn"))
    found = client.get("/api/v1/instore/lookup", params={"code": "4006381333931"}, headers=waw)
    assert found.status_code == 200, found.text
    assert found.json()["skus"] == ["LAMP-FLOOR"] and found.json()["kind"] == "ean"
    card = client.get("/api/v1/instore/stores/ST-WAW/products/LAMP-FLOOR", headers=waw).json()
    assert card["here"]["available"] == 0
    assert [(s["code"], s["available"]) for s in card["stores"] if s["available"]] == [("ST-KRK", 2)]
    assert card["warehouses"][0]["code"] == "WH-POZ" and card["warehouses"][0]["days"] == 3
    assert card["price"] == "129.00"
    # Kraków is nearer Warsaw than Gdańsk is (great-circle, by hand: ~252 km vs ~284 km).
    assert [s["code"] for s in card["stores"]] == ["ST-KRK"]  # Gdańsk has no row for this SKU
    matches = client.get("/api/v1/instore/customers", params={"q": "601 200 300"}, headers=waw).json()["items"]
    assert [(m["id"], m["matched_by"]) for m in matches] == [(chain.customers["anna"], "phone")]
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": "LAMP-FLOOR", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-KRK", "payment_mode": "at_pickup"})
    assert placed.status_code == 201, placed.text
    order, code = placed.json()["order"], placed.json()["pickup_code"]
    assert order["channel"] == "store" and order["fulfilment"]["location"] == "ST-KRK"
    assert [a["location"] for a in order["allocations"]] == ["ST-KRK"]
    # Warsaw cannot see or act on Kraków's pickups.
    assert client.get("/api/v1/instore/stores/ST-KRK/pickups", headers=waw).status_code == 403
    assert client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/ready", headers=waw).status_code == 404
    queue = client.get("/api/v1/instore/stores/ST-KRK/pickups", headers=krk).json()
    assert [o["number"] for o in queue["to_prepare"]] == [order["number"]]
    assert client.post(f"/api/v1/instore/stores/ST-KRK/pickups/{order['id']}/ready", headers=krk).status_code == 200
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(f"/api/v1/instore/stores/ST-KRK/pickups/{order['id']}/hand-over", headers=krk,
                          json={"code": wrong, "payment_collected": True})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "code"
    assert client.get(f"/api/v1/orders/{order['id']}", headers=_key(db, chain.users["admin"])).json()["status"] == \
        "ready_for_pickup"
    done = client.post(f"/api/v1/instore/stores/ST-KRK/pickups/{order['id']}/hand-over", headers=krk,
                       json={"code": code, "payment_collected": True})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "picked_up" and done.json()["payment"]["status"] == "captured"
    assert _on_hand(db, "LAMP-FLOOR", "ST-KRK") == 1
    # A return of the delivered online order, taken in Gdańsk, restocks Gdańsk.
    before = _on_hand(db, "KETTLE-1", "ST-GDN")
    ret = client.post("/api/v1/instore/stores/ST-GDN/returns", headers=gdn, json={
        "order_number": chain.online_order["number"], "condition": "as_new", "refund_method": "cash",
        "lines": [{"line": 1, "quantity": 1, "reason": "no_longer_needed", "restock": True}]})
    assert ret.status_code == 201, ret.text
    assert ret.json()["location"] == "ST-GDN" and ret.json()["status"] == "refunded"
    assert _on_hand(db, "KETTLE-1", "ST-GDN") == before + 1
    again = client.post("/api/v1/instore/stores/ST-GDN/returns", headers=gdn, json={
        "order_number": chain.online_order["number"], "condition": "as_new", "refund_method": "cash",
        "lines": [{"line": 1, "quantity": 2, "reason": "no_longer_needed", "restock": True}]})
    assert again.status_code == 422 and "only 1 of line 1" in again.text
    report = client.get("/api/v1/instore/reports", headers=_key(db, chain.users["staff"])).json()
    per = {r["store"]: r for r in report["stores"]}
    assert per["ST-WAW"]["assisted_orders"] == 1 and per["ST-WAW"]["assisted_value"] == [
        {"amount": "129.00", "currency": "EUR"}]
    assert (per["ST-KRK"]["pickups_handed_over"], per["ST-KRK"]["pickups_refused"]) == (1, 1)
    assert (per["ST-GDN"]["returns_taken"], per["ST-GDN"]["units_restocked"]) == (1, 1)
    people = {a["name"]: a for a in report["associates"]}
    assert people["Marta (Warsaw)"]["assisted_orders"] == 1 and people["Tomasz (Kraków)"]["pickups_handed_over"] == 1
    mine = client.get("/api/v1/instore/reports", headers=waw).json()
    assert [r["store"] for r in mine["stores"]] == ["ST-WAW"] and [a["name"] for a in mine["associates"]] == [
        "Marta (Warsaw)"]


@pytest.mark.backends("sqlite", "postgresql")
def test_store_scoping_of_the_associate_role(client: Any, db: Any, chain: Any, make_key: Any) -> None:
    waw = _key(db, chain.users["waw"])
    assert client.get("/api/v1/instore/stores/ST-KRK/stock/LAMP-FLOOR", headers=waw).status_code == 403
    count = client.post("/api/v1/instore/stores/ST-KRK/stock/LAMP-FLOOR/count", headers=waw, json={"counted": 9})
    assert count.status_code == 403
    assert _on_hand(db, "LAMP-FLOOR", "ST-KRK") == 2
    own = client.post("/api/v1/instore/stores/ST-WAW/stock/LAMP-DESK/count", headers=waw, json={"counted": 5})
    assert own.status_code == 200 and own.json()["on_hand"] == 5
    assert client.post("/api/v1/instore/stores/ST-KRK/orders", headers=waw, json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-WAW", "payment_mode": "counter"}).status_code == 403
    # The general order and inventory routes stay closed to the role.
    assert client.get("/api/v1/orders", headers=waw).status_code == 403
    assert client.get(f"/api/v1/orders/{chain.online_order['id']}", headers=waw).status_code == 404
    assert client.post("/api/v1/orders", headers=waw, json={
        "channel": "store", "customer": {"email": "x@example.com"},
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]}).status_code == 403
    # Binding is for admins, to store_associate users only.
    admin = _key(db, chain.users["admin"])
    assert client.put(f"/api/v1/instore/associates/{chain.user_ids['waw']}/stores", headers=waw,
                      json={"stores": ["ST-KRK"]}).status_code == 403
    assert client.put(f"/api/v1/instore/associates/{chain.user_ids['staff']}/stores", headers=admin,
                      json={"stores": ["ST-KRK"]}).status_code == 422
    moved = client.put(f"/api/v1/instore/associates/{chain.user_ids['waw']}/stores", headers=admin,
                       json={"stores": ["ST-KRK", "ST-WAW"]})
    assert moved.status_code == 200 and sorted(s["code"] for s in moved.json()["stores"]) == ["ST-KRK", "ST-WAW"]
    assert client.get("/api/v1/instore/stores/ST-KRK/stock/LAMP-FLOOR", headers=waw).status_code == 200
    # Other roles are not associates.
    cust = make_key("customer", customer_id=chain.customers["anna"])
    assert client.get("/api/v1/instore/me", headers=cust).status_code == 403
    assert client.get("/api/v1/instore/stores/ST-WAW/pickups", headers=make_key("sales_rep")).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_bad_input_at_the_counter(client: Any, db: Any, chain: Any, make_key: Any) -> None:
    waw = _key(db, chain.users["waw"])
    nothing = client.get("/api/v1/instore/lookup", params={"code": "5012345678900"}, headers=waw)
    assert nothing.status_code == 404 and "No product has the code 5012345678900" in nothing.json()["detail"]
    misread = client.get("/api/v1/instore/lookup", params={"code": "5901234123458"}, headers=waw)
    assert misread.status_code == 422 and misread.json()["errors"][0]["code"] == "bad_check_digit"
    several = client.get("/api/v1/instore/customers", params={"q": "nowak"}, headers=waw).json()["items"]
    assert sorted(m["name"] for m in several) == ["Ewa Nowak", "Jan Nowak"]
    assert client.get("/api/v1/instore/customers", params={"q": "x"}, headers=waw).status_code == 422
    # Name verification: a first name alone is refused; the last name passes.
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["jan"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-WAW", "payment_mode": "counter"}).json()
    order = placed["order"]
    assert order["payment"]["status"] == "captured"
    assert client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/hand-over", headers=waw,
                       json={"code": placed["pickup_code"]}).status_code == 409  # not ready yet
    client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/ready", headers=waw)
    assert client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/hand-over", headers=waw,
                       json={"name": "Jan"}).status_code == 422
    assert client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/hand-over", headers=waw,
                       json={"name": "Ewa Nowak"}).status_code == 422
    ok = client.post(f"/api/v1/instore/stores/ST-WAW/pickups/{order['id']}/hand-over", headers=waw,
                     json={"name": "nowak JAN"})
    assert ok.status_code == 200 and ok.json()["status"] == "picked_up"
    # Out of stock at the pickup store: refused, nothing written.
    short = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": "LAMP-FLOOR", "quantity": 3}],
        "fulfilment": "pickup", "pickup_store": "ST-KRK", "payment_mode": "link"})
    assert short.status_code == 409
    report = client.get("/api/v1/instore/reports", headers=waw).json()
    assert report["stores"][0]["assisted_orders"] == 1 and report["stores"][0]["pickups_refused"] == 2


def test_return_beyond_the_window_is_refused(client: Any, db: Any, chain: Any, monkeypatch: Any) -> None:
    from merx.instore.settings import get_instore_settings

    monkeypatch.setattr(get_instore_settings(), "instore_return_window_days", 0)
    gdn = _key(db, chain.users["gdn"])
    before = _on_hand(db, "KETTLE-1", "ST-GDN")
    late = client.post("/api/v1/instore/stores/ST-GDN/returns", headers=gdn, json={
        "order_number": chain.online_order["number"], "condition": "as_new", "refund_method": "original_payment",
        "lines": [{"line": 1, "quantity": 1, "reason": "no_longer_needed", "restock": True}]})
    assert late.status_code == 422 and "return window" in late.json()["detail"]
    assert _on_hand(db, "KETTLE-1", "ST-GDN") == before
    damaged = client.post("/api/v1/instore/stores/ST-GDN/returns", headers=gdn, json={
        "order_number": chain.online_order["number"], "condition": "damaged", "refund_method": "original_payment",
        "lines": [{"line": 1, "quantity": 1, "reason": "damaged", "restock": True}]})
    assert damaged.status_code == 422


def test_customer_found_by_loyalty_card_and_created_with_consent(client: Any, db: Any, chain: Any) -> None:
    admin, waw = _key(db, chain.users["admin"]), _key(db, chain.users["waw"])
    added = client.post(f"/api/v1/customers/{chain.customers['anna']}/identities", headers=admin,
                        json={"kind": "loyalty_card", "value": "LC-004217", "verified": True})
    assert added.status_code == 201, added.text
    found = client.get("/api/v1/instore/customers", params={"q": "LC-004217"}, headers=waw).json()["items"]
    assert [(m["id"], m["matched_by"]) for m in found] == [(chain.customers["anna"], "loyalty_card")]
    assert client.get("/api/v1/instore/customers", params={"q": "LC-999999"}, headers=waw).json()["items"] == []

    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.instore import public as instore

    me = Principal(user_id=chain.user_ids["waw"], role=Role.store_associate, name="Marta")
    with UnitOfWork(db, me) as uow:
        created = instore.create_customer_at_counter(uow, first_name="Zofia", last_name="Mazur", email=None,
                                                     phone="+48 605 777 888", consents={"email": False, "sms": True},
                                                     store_code="ST-WAW")
    with UnitOfWork(db, me) as uow:
        seen = instore.customer_essentials(uow, created.id)
    assert seen["name"] == "Zofia Mazur"
    assert {ch: c["granted"] for ch, c in seen["consent"].items()} == {"email": False, "sms": True}
    assert {c["source"] for c in seen["consent"].values()} == {"store:ST-WAW"}
    with UnitOfWork(db, me) as uow:  # the same phone again: refused, nothing written
        try:
            instore.create_customer_at_counter(uow, first_name="Z", last_name="M", email=None, phone="+48605777888",
                                               consents={"sms": True}, store_code="ST-WAW")
            raise AssertionError("a second customer with the same phone was created")
        except Exception as e:  # noqa: BLE001 - the Conflict problem
            assert getattr(e, "status", None) == 409


def test_receipts_only_for_the_stores_that_placed_or_hand_over_the_order(client: Any, db: Any, chain: Any) -> None:
    from merx.core.auth import Principal, Role
    from merx.core.errors import NotFound
    from merx.core.uow import UnitOfWork
    from merx.instore import public as instore

    waw = _key(db, chain.users["waw"])
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": "KETTLE-1", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-KRK", "payment_mode": "link"}).json()
    assert placed["payment_link"].startswith("/pay/")
    order_id = placed["order"]["id"]

    def receipt_for(who: str) -> str:
        me = Principal(user_id=chain.user_ids[who], role=Role.store_associate, name=who)
        with UnitOfWork(db, me) as uow:
            try:
                return instore.order_for_receipt(uow, order_id)["number"]
            except NotFound:
                return "404"

    assert receipt_for("waw") == placed["order"]["number"]  # placed here
    assert receipt_for("krk") == placed["order"]["number"]  # handed over there
    assert receipt_for("gdn") == "404"
    paid = client.post(placed["payment_link"], follow_redirects=False)
    assert paid.status_code == 403  # a form post without the page's CSRF token


@pytest.mark.backends("sqlite", "postgresql")
def test_an_assisted_order_retried_with_its_idempotency_key_is_placed_once(client: Any, db: Any, chain: Any) -> None:
    waw = _key(db, chain.users["waw"]) | {"Idempotency-Key": "counter-7f3a"}
    body = {"customer_id": chain.customers["jan"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
            "fulfilment": "pickup", "pickup_store": "ST-WAW", "payment_mode": "link"}
    first = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json=body)
    again = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert again.json()["payment_link"] == first.json()["payment_link"]
    report = client.get("/api/v1/instore/reports", headers=_key(db, chain.users["waw"])).json()
    assert report["stores"][0]["assisted_orders"] == 1
    assert _on_hand(db, "LAMP-DESK", "ST-WAW") == 6  # held, not taken twice


@pytest.mark.backends("sqlite", "postgresql")
def test_the_counter_360_shows_the_customers_open_tickets(client: Any, db: Any, chain: Any) -> None:
    admin, waw = _key(db, chain.users["admin"]), _key(db, chain.users["waw"])
    anna = chain.customers["anna"]
    made = {}
    for subject, priority in (("Kettle lid cracked", "high"), ("Where is my invoice?", "normal")):
        r = client.post("/api/v1/tickets", headers=admin, json={
            "kind": "complaint", "subject": subject, "channel": "phone", "priority": priority, "customer_id": anna})
        assert r.status_code == 201, r.text
        made[subject] = r.json()["id"]
    client.post("/api/v1/tickets", headers=admin, json={  # someone else's ticket
        "kind": "question", "subject": "Opening hours?", "customer_id": chain.customers["jan"]})
    closed = client.patch(f"/api/v1/tickets/{made['Where is my invoice?']}", headers=admin,
                          json={"status": "solved"})
    assert closed.status_code == 200, closed.text
    seen = client.get(f"/api/v1/instore/customers/{anna}", headers=waw)
    assert seen.status_code == 200, seen.text
    assert [(t["subject"], t["priority"]) for t in seen.json()["open_tickets"]] == [("Kettle lid cracked", "high")]
    # the associate app's customer card lists it
    import re

    from instore_shop import PASSWORD

    page = client.get("/associate/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/associate/login", data={"email": chain.users["waw"], "password": PASSWORD, "csrf_token": token,
                                          "next": "/associate"})
    chosen = client.get(f"/associate/customers?q=601+200+300&id={anna}")
    assert chosen.status_code == 200 and "Open tickets" in chosen.text and "Kettle lid cracked" in chosen.text
    assert "Where is my invoice?" not in chosen.text
