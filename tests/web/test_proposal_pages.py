"""The console's product proposal pages over the real ASGI app: a seller proposes a product
with the portal's form and sees it pending (and never another seller's); staff approve one and
reject another with a reason; the approved one is an active catalog product."""

from __future__ import annotations

import html
import re

from tests.web.conftest import csrf_of, form_sign_in


def _text(page_html: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_html)))


def test_a_seller_proposes_and_staff_moderate_in_the_console(client, shop, make_key):
    admin = make_key("admin")
    other = client.post("/api/v1/sellers", json={"code": "other", "name": "Other Goods"}, headers=admin).json()
    other_key = make_key("seller", seller_id=other["id"])
    r = client.post("/api/v1/product-proposals", headers=other_key, json={
        "sku": "OTHER-NEW", "name": "Other's secret product", "price": {"amount": "5.00", "currency": "EUR"}})
    assert r.status_code == 201, r.text

    assert form_sign_in(client, shop.users["seller"]).status_code == 303
    page = client.get("/console/marketplace/proposals")
    assert page.status_code == 200 and "Propose a new product" in page.text
    assert "Other's secret product" not in _text(page.text)
    for sku, name, price in (("LAMP-WALL", "Brass Wall Lamp", "59.00"), ("LAMP-ODD", "Odd Lamp", "9.00")):
        r = client.post("/console/marketplace/proposals", follow_redirects=False, data={
            "csrf_token": csrf_of(page.text), "sku": sku, "name": name, "category": "lighting", "price": price,
            "attributes": "color: brass", "image_urls": "https://img.example/wall-lamp.jpg"})
        assert r.status_code == 303, r.text
    # a bad proposal comes back as a sentence, nothing stored
    r = client.post("/console/marketplace/proposals", data={"csrf_token": csrf_of(page.text), "sku": "X-1",
                                                             "name": "X", "price": "1.00", "category": "nope"})
    assert "Not saved" in _text(r.text) and "category" in _text(r.text)
    mine = _text(client.get("/console/marketplace/proposals").text)
    assert "Brass Wall Lamp" in mine and "pending" in mine and "Other's secret product" not in mine
    client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})

    client.cookies.clear()
    assert form_sign_in(client, shop.users["admin"]).status_code == 303
    staff_page = client.get("/console/marketplace/proposals?status=pending")
    text = _text(staff_page.text)
    assert "Brass Wall Lamp" in text and "Other's secret product" in text and "Acme Lamps" in text
    ids = {p["sku"]: p["id"] for p in client.get("/api/v1/product-proposals", headers=admin).json()["items"]}
    token = csrf_of(staff_page.text)
    r = client.post(f"/console/marketplace/proposals/{ids['LAMP-WALL']}/decide",
                    data={"csrf_token": token, "decision": "approve"})
    assert "Approved LAMP-WALL" in _text(r.text)
    r = client.post(f"/console/marketplace/proposals/{ids['LAMP-ODD']}/decide",
                    data={"csrf_token": token, "decision": "reject", "reason": "no photos of the product"})
    assert "Rejected LAMP-ODD: no photos of the product" in _text(r.text)
    product = client.get("/api/v1/products", params={"sku": "LAMP-WALL"}).json()["items"]
    assert [(p["name"], p["status"], p["attributes"]) for p in product] == [("Brass Wall Lamp", "active",
                                                                           {"color": "brass"})]
    assert client.get("/api/v1/products", params={"sku": "LAMP-ODD"}, headers=admin).json()["items"] == []
