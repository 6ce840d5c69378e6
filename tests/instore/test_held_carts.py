"""Hold the cart and send it: an associate builds a cart for the customer at the counter and
sends it; marketing delivers the link (email, or SMS when the customer has only a phone); the
customer opens it on the storefront and checks out with the cart's lines and prices; the order
is attributed to the store and the associate. The payment link of an assisted order is sent
the same way. Over HTTP through the ASGI stack, on real databases."""

from __future__ import annotations

import re
from typing import Any

import pytest

from instore_shop import chain, staff_key  # noqa: F401 - chain: the fixture


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _messages(client: Any, admin: dict[str, str], customer_id: int, template: str) -> list[dict[str, Any]]:
    items = client.get("/api/v1/messages", params={"customer_id": customer_id}, headers=admin).json()["items"]
    return [client.get(f"/api/v1/messages/{m['id']}", headers=admin).json() for m in items
            if m["template"] == template]


def _set_price(client: Any, admin: dict[str, str], sku: str, amount: str) -> None:
    product = client.get("/api/v1/products", params={"q": sku}, headers=admin).json()["items"][0]
    r = client.patch(f"/api/v1/products/{product['id']}", headers=admin,
                     json={"price": {"amount": amount, "currency": "EUR"}})
    assert r.status_code == 200, r.text


@pytest.mark.backends("sqlite", "postgresql")
def test_a_held_cart_is_mailed_and_ordered_at_its_prices_with_the_associate_kept(client: Any, db: Any,
                                                                                 chain: Any) -> None:
    waw, admin = staff_key(db, chain.users["waw"]), staff_key(db, chain.users["admin"])
    held = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
        "customer_id": chain.customers["anna"], "fulfilment": "ship",
        "address": {"line1": "ul. Prosta 5", "city": "Warszawa", "postal_code": "00-001", "country": "PL"},
        "lines": [{"sku": "LAMP-DESK", "quantity": 2}, {"sku": "KETTLE-1", "quantity": 1}]})
    assert held.status_code == 201, held.text
    cart = held.json()
    assert cart["channel"] == "email"
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in cart["lines"]] == [
        ("LAMP-DESK", 2, "49.00"), ("KETTLE-1", 1, "35.90")]
    [mail] = _messages(client, admin, chain.customers["anna"], "cart_held")
    assert mail["channel"] == "email" and mail["address"] == "anna@example.com" and mail["kind"] == "transactional"
    assert "Warsaw store" in mail["subject"] and f"{cart['total']} EUR" in mail["body_text"]
    link = re.search(r"https?://\S+(/held/\S+)", mail["body_text"]).group(1)
    assert link == cart["link"]

    # The price goes up after the counter: the customer still gets the quoted price.
    _set_price(client, admin, "LAMP-DESK", "59.00")
    page = client.get(link)
    assert page.status_code == 200 and "Nordic Desk Lamp" in page.text and "Warsaw store" in page.text
    placed = client.post(link, data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    pay_path = placed.headers["location"]
    assert pay_path.startswith("/pay/")
    order = client.get("/api/v1/orders", headers=admin, params={"customer_id": chain.customers["anna"]}).json()
    [mine] = [o for o in order["items"] if o["channel"] == "store"]
    full = client.get(f"/api/v1/orders/{mine['id']}", headers=admin).json()
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in full["lines"]] == [
        ("LAMP-DESK", 2, "49.00"), ("KETTLE-1", 1, "35.90")]
    assert full["totals"]["total"] == cart["total"] and full["payment"]["status"] == "awaiting"
    # attributed to the store and the associate (the store report counts it for Marta)
    report = client.get("/api/v1/instore/reports", headers=waw).json()
    assert report["stores"][0]["assisted_orders"] == 1
    assert [a["assisted_orders"] for a in report["associates"] if a["name"] == "Marta (Warsaw)"] == [1]
    # the payment page is the order's; a second tap on the cart places nothing new
    assert mine["number"] in client.get(pay_path).text
    again = client.get(link)
    assert "This cart has been ordered" in again.text and 'id="held-checkout"' not in again.text
    assert client.post(link, data={"csrf_token": _csrf(page.text)}, follow_redirects=False).status_code == 303
    orders_now = client.get("/api/v1/orders", headers=admin, params={"customer_id": chain.customers["anna"]}).json()
    assert len([o for o in orders_now["items"] if o["channel"] == "store"]) == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_a_customer_with_only_a_phone_gets_the_cart_and_the_payment_link_by_sms(client: Any, db: Any,
                                                                                chain: Any) -> None:
    waw, admin = staff_key(db, chain.users["waw"]), staff_key(db, chain.users["admin"])
    made = client.post("/api/v1/customers", headers=admin, json={"first_name": "Zofia", "phone": "+48 605 777 888"})
    assert made.status_code == 201, made.text
    zofia = made.json()["id"]
    held = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
        "customer_id": zofia, "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]})
    assert held.status_code == 201, held.text
    assert held.json()["channel"] == "sms"
    [sms] = _messages(client, admin, zofia, "cart_held")
    assert sms["channel"] == "sms" and sms["address"] == "+48605777888"
    assert held.json()["link"] in sms["body_text"] and len(sms["body_text"]) < 320
    # An assisted order paid by link: its link goes to the same phone.
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": zofia, "lines": [{"sku": "LAMP-DESK", "quantity": 1}], "fulfilment": "pickup",
        "pickup_store": "ST-WAW", "payment_mode": "link"}).json()
    sent = client.post(f"/api/v1/instore/stores/ST-WAW/orders/{placed['order']['id']}/payment-link/send", headers=waw)
    assert sent.status_code == 200, sent.text
    assert sent.json()["channel"] == "sms" and sent.json()["link"] == placed["payment_link"]
    [pay_sms] = _messages(client, admin, zofia, "payment_link")
    assert pay_sms["address"] == "+48605777888" and placed["payment_link"] in pay_sms["body_text"]
    assert placed["order"]["number"] in pay_sms["body_text"]


@pytest.mark.backends("sqlite", "postgresql")
def test_sending_refuses_what_it_cannot_send_and_other_stores_orders(client: Any, db: Any, chain: Any,
                                                                     make_key: Any) -> None:
    waw, krk, admin = (staff_key(db, chain.users[k]) for k in ("waw", "krk", "admin"))
    nobody = client.post("/api/v1/customers", headers=admin, json={"first_name": "No", "last_name": "Contact"})
    if nobody.status_code == 201:  # a customer record without email or phone, where the shop allows one
        r = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
            "customer_id": nobody.json()["id"], "fulfilment": "pickup", "pickup_store": "ST-WAW",
            "lines": [{"sku": "LAMP-DESK", "quantity": 1}]})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_contact"
    unknown = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
        "customer_id": 987654, "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "customer_id"
    bad_sku = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
        "customer_id": chain.customers["jan"], "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "NOPE-1", "quantity": 1}]})
    assert bad_sku.status_code == 422, bad_sku.text
    for where, field in (({"fulfilment": "pickup", "pickup_store": "WH-POZ"}, "pickup_store"),
                         ({"fulfilment": "pickup", "pickup_store": "ST-NOPE"}, "pickup_store"),
                         ({"fulfilment": "ship"}, "address")):
        r = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
            "customer_id": chain.customers["jan"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}], **where})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert client.post("/api/v1/instore/stores/ST-KRK/held-carts", headers=waw, json={
        "customer_id": chain.customers["jan"], "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]}).status_code == 403
    assert client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=make_key("customer",
                       customer_id=chain.customers["jan"]), json={
        "customer_id": chain.customers["jan"], "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]}).status_code == 403
    # Warsaw's order: Kraków cannot send its link; a paid one has nothing to send.
    paid = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["jan"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-WAW", "payment_mode": "counter"}).json()["order"]
    linked = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=waw, json={
        "customer_id": chain.customers["jan"], "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
        "fulfilment": "pickup", "pickup_store": "ST-WAW", "payment_mode": "link"}).json()["order"]
    assert client.post(f"/api/v1/instore/stores/ST-KRK/orders/{linked['id']}/payment-link/send",
                       headers=krk).status_code == 404
    assert client.post(f"/api/v1/instore/stores/ST-WAW/orders/{paid['id']}/payment-link/send",
                       headers=waw).status_code == 404  # paid at the counter: no link
    assert client.get("/held/forged-token").status_code == 404


def test_an_expired_cart_link_is_refused(client: Any, db: Any, chain: Any) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from merx.core.uow import UnitOfWork
    from merx.instore.models import HeldCart

    waw = staff_key(db, chain.users["waw"])
    cart = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
        "customer_id": chain.customers["jan"], "fulfilment": "pickup", "pickup_store": "ST-WAW",
        "lines": [{"sku": "LAMP-DESK", "quantity": 1}]}).json()
    with UnitOfWork(db) as uow:  # a week later (the test cannot wait seven days)
        uow.session.execute(sa.update(HeldCart).where(HeldCart.id == cart["id"]).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
        uow.session.commit()
    page = client.get(cart["link"])
    assert page.status_code == 200 and "This link has expired" in page.text
    refused = client.post(cart["link"], data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert refused.status_code == 409


def test_the_associate_app_sends_the_cart_and_the_payment_link(client: Any, db: Any, chain: Any) -> None:
    from instore_shop import PASSWORD

    admin = staff_key(db, chain.users["admin"])
    page = client.get("/associate/login")
    client.post("/associate/login", data={"email": chain.users["waw"], "password": PASSWORD,
                                          "csrf_token": _csrf(page.text), "next": "/associate"})
    token = _csrf(client.get("/associate").text)
    client.post("/associate/cart/add", data={"csrf_token": token, "sku": "LAMP-DESK", "quantity": "1"})
    assert 'id="send-cart"' not in client.get("/associate/cart").text  # no customer yet: nobody to send it to
    client.post("/associate/customers/choose", data={"csrf_token": token, "customer_id": str(chain.customers["jan"])})
    cart = client.get("/associate/cart")
    assert 'id="send-cart"' in cart.text and "Send this cart to Jan Nowak" in cart.text
    sent = client.post("/associate/cart/send", data={"csrf_token": token, "fulfilment": "pickup",
                                                     "pickup_store": "ST-WAW", "payment_mode": "counter"})
    assert sent.status_code == 200 and "is sent to the customer by email" in sent.text
    [mail] = _messages(client, admin, chain.customers["jan"], "cart_held")
    assert mail["address"] == "jan.nowak@example.com" and "/held/" in mail["body_text"]
    assert "The cart is empty" in client.get("/associate/cart").text
    # An order paid by link: the receipt sends the link to the customer.
    client.post("/associate/cart/add", data={"csrf_token": token, "sku": "LAMP-DESK", "quantity": "1"})
    client.post("/associate/customers/choose", data={"csrf_token": token, "customer_id": str(chain.customers["jan"])})
    placed = client.post("/associate/order", data={"csrf_token": token, "fulfilment": "pickup",
                                                   "pickup_store": "ST-WAW", "payment_mode": "link"},
                         follow_redirects=False)
    receipt_path = placed.headers["location"]
    receipt = client.get(receipt_path)
    assert 'id="send-link"' in receipt.text
    order_id = receipt_path.rsplit("/", 1)[1]
    done = client.post(f"/associate/orders/{order_id}/send-link", data={"csrf_token": token})
    assert "The payment link is sent to the customer by email" in done.text
    [link_mail] = _messages(client, admin, chain.customers["jan"], "payment_link")
    assert "/pay/" in link_mail["body_text"]


@pytest.mark.backends("sqlite", "postgresql")
def test_held_carts_are_counted_in_the_store_report_and_listed_in_the_console(client: Any, db: Any,
                                                                             chain: Any) -> None:
    from instore_shop import PASSWORD

    waw = staff_key(db, chain.users["waw"])
    ids = []
    for customer in ("anna", "jan"):
        held = client.post("/api/v1/instore/stores/ST-WAW/held-carts", headers=waw, json={
            "customer_id": chain.customers[customer], "fulfilment": "ship",
            "address": {"line1": "ul. Prosta 5", "city": "Warszawa", "postal_code": "00-001", "country": "PL"},
            "lines": [{"sku": "KETTLE-1", "quantity": 1}]})
        assert held.status_code == 201, held.text
        ids.append(held.json())
    # Jan checks his cart out; Anna has not yet.
    page = client.get(ids[1]["link"])
    assert client.post(ids[1]["link"], data={"csrf_token": _csrf(page.text)},
                       follow_redirects=False).status_code == 303
    report = client.get("/api/v1/instore/reports", headers=waw).json()
    assert (report["stores"][0]["carts_held"], report["stores"][0]["carts_ordered"]) == (2, 1)
    assert [a["carts_held"] for a in report["associates"] if a["name"] == "Marta (Warsaw)"] == [2]
    login = client.get("/console/login")
    client.post("/console/login", data={"email": chain.users["staff"], "password": PASSWORD,
                                        "csrf_token": _csrf(login.text), "next": "/console"})
    console = client.get("/console/stores")
    assert console.status_code == 200
    table = console.text.split('id="held-carts"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3  # the header and the two carts
    assert "waiting for the customer" in table and "ordered" in table and "Marta (Warsaw)" in table
    assert f"#{chain.customers['anna']}" in table and "35.90" in table
    csv_text = client.get("/console/stores.csv").text.splitlines()
    header = csv_text[0].split(",")
    waw_row = next(line.split(",") for line in csv_text[1:] if line.startswith("ST-WAW"))
    assert (waw_row[header.index("carts_held")], waw_row[header.index("carts_ordered")]) == ("2", "1")
