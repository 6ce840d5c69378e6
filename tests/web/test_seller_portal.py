"""The console's marketplace pages over the real ASGI app: a seller signs in, sees only its
own offers, orders and statements, accepts and refuses lines, ships, imports offers from CSV;
another seller's order is out of its reach; staff see every seller."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

PASSWORD = "correct horse battery"


def _token(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def _sign_in(client, email: str) -> None:  # type: ignore[no-untyped-def]
    login = client.get("/console/login")
    r = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(login.text),
                                            "next": "/console"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _text(page_html: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_html)))


@pytest.fixture
def marketplace(client, shop, make_key):
    admin = make_key("admin")
    other = client.post("/api/v1/sellers", json={"code": "other", "name": "Other Goods"}, headers=admin).json()
    acme_key = make_key("seller", seller_id=shop.seller_id)
    other_key = make_key("seller", seller_id=other["id"])
    offers = {}
    for key, sku, price in ((acme_key, "MUG-1", "8.50"), (acme_key, "KETTLE-1", "30.00"), (other_key, "LAMP-DESK", "45.00")):
        r = client.post("/api/v1/offers", json={"sku": sku, "price": {"amount": price, "currency": "EUR"},
                                                "quantity": 5}, headers=key)
        assert r.status_code == 201, r.text
        offers[sku] = r.json()["id"]
    r = client.post("/api/v1/orders", headers=admin, json={
        "channel": "marketplace", "customer": {"email": "ana@example.com"},
        "payment": {"provider": "test", "capture": True},
        "fulfilment": {"type": "ship", "address": {"line1": "Rua 1", "city": "Lisboa", "country": "PT"}},
        "lines": [{"sku": "MUG-1", "quantity": 2, "offer_id": offers["MUG-1"]},
                  {"sku": "KETTLE-1", "quantity": 1, "offer_id": offers["KETTLE-1"]},
                  {"sku": "LAMP-DESK", "quantity": 1, "offer_id": offers["LAMP-DESK"]}]})
    assert r.status_code == 201, r.text
    subs = {s["seller_id"]: s for s in client.get("/api/v1/seller-orders", headers=admin).json()["items"]}
    return {"admin": admin, "other_id": other["id"], "acme": subs[shop.seller_id], "other": subs[other["id"]]}


def test_a_seller_works_its_orders_in_the_portal_and_sees_nothing_of_another_seller(client, shop, marketplace):
    acme, other = marketplace["acme"], marketplace["other"]
    _sign_in(client, shop.users["seller"])
    home = client.get("/console")
    assert 'href="/console/marketplace"' in home.text

    page = client.get("/console/marketplace/orders?status=awaiting_acceptance")
    assert page.status_code == 200
    text = _text(page.text)
    assert f"seller order {acme['id']}" in text and "MUG-1" in text
    assert f"seller order {other['id']}" not in text and "LAMP-DESK" not in text

    lines = {ln["sku"]: ln["id"] for ln in acme["lines"]}
    r = client.post(f"/console/marketplace/orders/{acme['id']}/accept", follow_redirects=False, data={
        "csrf_token": _token(page.text), f"decision_{lines['MUG-1']}": "accept",
        f"decision_{lines['KETTLE-1']}": "refuse", f"reason_{lines['KETTLE-1']}": "dented in the warehouse"})
    assert r.status_code == 303
    # another seller's order through the portal's form: refused, and it stays undecided
    r = client.post(f"/console/marketplace/orders/{other['id']}/accept", follow_redirects=False, data={
        "csrf_token": _token(page.text), f"decision_{other['lines'][0]['id']}": "refuse", f"reason_{other['lines'][0]['id']}": "x"})
    assert r.status_code == 303
    assert client.get(f"/api/v1/seller-orders/{other['id']}", headers=marketplace["admin"]).json()["status"] == \
        "awaiting_acceptance"

    page = client.get("/console/marketplace/orders?status=accepted")
    text = _text(page.text)
    assert "dented in the warehouse" in text and "customer refund: refunded" in text
    r = client.post(f"/console/marketplace/orders/{acme['id']}/ship", follow_redirects=False, data={
        "csrf_token": _token(page.text), "carrier": "CTT", "tracking_number": "RR123PT"})
    assert r.status_code == 303
    shipped = client.get(f"/api/v1/seller-orders/{acme['id']}", headers=marketplace["admin"]).json()
    assert shipped["status"] == "shipped" and shipped["tracking_number"] == "RR123PT"

    # statements after a payout cycle: the seller's own, with its CSV
    period_end = dt.datetime.now(dt.timezone.utc).isoformat()
    assert client.post("/api/v1/payouts/cycles", json={"period_end": period_end},
                       headers=marketplace["admin"]).status_code == 201
    page = client.get("/console/marketplace/statements")
    text = _text(page.text)
    assert "17.00" in text and "Other Goods" not in text  # 2 x 8.50 sold
    csv_link = re.search(r'href="(/api/v1/payouts/\d+/statement.csv)"', page.text).group(1)
    statement = client.get(csv_link)
    assert statement.status_code == 200 and "sale" in statement.text

    # offers: own only; a CSV import creates, updates and reports a bad row
    page = client.get("/console/marketplace/offers")
    assert "MUG-1" in page.text and "LAMP-DESK" not in page.text
    csv_file = "sku,price,quantity\nMUG-1,7.90,40\nLAMP-FLOOR,120.00,2\nNOPE,1.00,1\n"
    r = client.post("/console/marketplace/offers/import", data={"csrf_token": _token(page.text)},
                    files={"file": ("offers.csv", csv_file, "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/console/marketplace/offers")
    assert "1 offers created, 1 updated; 1 problems (row 4 sku" in _text(page.text)
    assert "LAMP-FLOOR" in page.text and "7.90" in _text(page.text)
    # the same from a workbook: numbers typed as numbers
    from io import BytesIO

    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["sku", "price", "quantity", "lead_time_days"])
    wb.active.append(["KETTLE-1", "27.50", 12, 4])
    buf = BytesIO()
    wb.save(buf)
    r = client.post("/console/marketplace/offers/import", data={"csrf_token": _token(page.text)},
                    files={"file": ("offers.xlsx", buf.getvalue(), "application/octet-stream")}, follow_redirects=False)
    assert r.status_code == 303
    assert "0 offers created, 1 updated." in _text(client.get("/console/marketplace/offers").text)
    kettle = client.get("/api/v1/offers", params={"sku": "KETTLE-1"}, headers=marketplace["admin"]).json()["items"][0]
    assert (kettle["price"]["amount"], kettle["quantity"], kettle["lead_time_days"]) == ("27.50", 12, 4)

    overview = _text(client.get("/console/marketplace").text)
    assert "Seller portal: Acme Lamps" in overview and "Other Goods" not in overview


def test_staff_see_every_seller_and_a_customer_is_kept_out(client, shop, marketplace):
    _sign_in(client, shop.users["staff"])
    text = _text(client.get("/console/marketplace").text)
    assert "Acme Lamps" in text and "Other Goods" in text and "2 seller orders await acceptance" in text
    orders = _text(client.get("/console/marketplace/orders").text)
    assert f"seller order {marketplace['acme']['id']}" in orders and f"seller order {marketplace['other']['id']}" in orders
    client.cookies.clear()
    _sign_in(client, shop.users["customer"])
    assert client.get("/console/marketplace").status_code == 403
