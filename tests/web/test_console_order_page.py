"""The console order page a merchant works from (#20 defect 15): who the customer is and how
to reach them, what happened to the order and when, internal notes, and returns where each
line says whether it goes back to stock (damaged items do not by default)."""

from __future__ import annotations

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _known_customer_order(client, admin):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/customers", json={"email": "ewa.nowak@example.pl", "first_name": "Ewa",
                                               "last_name": "Nowak", "phone": "+48 601 234 567"}, headers=admin)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.post("/api/v1/orders", headers=admin, json={
        "channel": "web", "customer": {"id": cid}, "lines": [{"sku": "LAMP-DESK", "quantity": 2}],
        "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_order_page_names_the_customer_with_phone_and_tells_the_timeline(client, shop, admin):
    oid = _known_customer_order(client, admin)
    assert client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "InPost", "tracking_number": "6200123"},
                       headers=admin).status_code == 200
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/orders/{oid}").text
    assert "Ewa Nowak" in page
    assert 'href="tel:+48601234567"' in page.replace(" ", "")
    timeline = page[page.index('id="order-timeline"'):]
    placed, shipped = timeline.index("Placed on the web channel"), timeline.index("Shipped with InPost, tracking 6200123")
    assert placed < shipped


def test_staff_adds_an_internal_note_that_lands_on_the_timeline(client, shop, admin):
    oid = _known_customer_order(client, admin)
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/orders/{oid}").text
    r = client.post(f"/console/orders/{oid}/notes", data={"csrf_token": csrf_of(page),
                                                         "text": "Customer called: leave it with the neighbour"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/console/orders/{oid}").text
    assert "Customer called: leave it with the neighbour" in page and "Note by" in page
    empty = client.post(f"/console/orders/{oid}/notes", data={"csrf_token": csrf_of(page), "text": "  "},
                        follow_redirects=True)
    assert "write the note" in empty.text


def test_support_agent_reads_the_order_but_cannot_add_notes(client, shop, admin):
    oid = _known_customer_order(client, admin)
    sign_in(client, shop.users["support_agent"])
    page = client.get(f"/console/orders/{oid}")
    assert page.status_code == 200 and "Add an internal note" not in page.text
    r = client.post(f"/console/orders/{oid}/notes", data={"csrf_token": csrf_of(page.text), "text": "x"})
    assert r.status_code == 403


def test_a_damaged_line_is_not_restocked_and_receiving_can_skip_the_refund(client, shop, admin):
    oid = _known_customer_order(client, admin)
    client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "DPD", "tracking_number": "1"}, headers=admin)
    before = {r["location"]: r["on_hand"] for r in client.get("/api/v1/inventory/stock", params={"sku": "LAMP-DESK"},
                                                               headers=admin).json()["items"]}
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/orders/{oid}").text
    assert 'name="reason_1"' in page and 'name="restock_1"' in page
    # the browser unticks restock when "damaged" is chosen; a form without the box means "not restocked"
    r = client.post(f"/console/orders/{oid}/returns", data={"csrf_token": csrf_of(page), "line": "1", "qty_1": "1",
                                                           "reason_1": "damaged", "location": "ST-WAW"})
    assert r.status_code in (200, 303)
    ret = client.get(f"/api/v1/orders/{oid}/returns", headers=admin).json()[0]
    assert ret["lines"][0]["reason"] == "damaged"
    page = client.get(f"/console/orders/{oid}").text
    assert "Receive without refund" in page and "Receive and refund" in page
    r = client.post(f"/console/orders/{oid}/returns/{ret['id']}/receive",
                    data={"csrf_token": csrf_of(page), "refund": "no"}, follow_redirects=True)
    assert "no refund made" in r.text
    order = client.get(f"/api/v1/orders/{oid}", headers=admin).json()
    assert order["totals"]["refunded"] == "0.00"
    after = {r["location"]: r["on_hand"] for r in client.get("/api/v1/inventory/stock", params={"sku": "LAMP-DESK"},
                                                              headers=admin).json()["items"]}
    assert after.get("ST-WAW", 0) == before.get("ST-WAW", 0)  # the damaged lamp did not go back on the shelf
