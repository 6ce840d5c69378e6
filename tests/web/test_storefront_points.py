"""A signed-in customer spends loyalty points on the storefront checkout ("Use my points"), a
guest sees no such control, and the console's order page shows the points spent and given
back. Real HTTP through the ASGI app, signed in through the real login form."""

from __future__ import annotations

import re

import pytest
from money_fixtures import seed_taxes_and_shipping
from payment_shop import PROVIDERS

from tests.web.conftest import csrf_of, form_sign_in as sign_in

ADDRESS = {"first_name": "Bea", "last_name": "Buyer", "line1": "ul. Długa 5", "city": "Warszawa",
           "postal_code": "00-238", "country": "PL", "fulfilment": "ship", "payment": "testcard",
           "card": "4242 4242 4242 4242", "email": "buyer@shop.test"}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


def _customer_id(db) -> int:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM customers WHERE email = 'buyer@shop.test'")).scalar_one()


def _cart(client) -> str:  # type: ignore[no-untyped-def]
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "LAMP-DESK", "quantity": "2"})
    return token


def _total(html: str) -> str:
    return re.search(r'id="sum-total">[^0-9]*([0-9.,]+)', html).group(1)


@pytest.mark.backends("sqlite", "postgresql")
def test_signed_in_customer_uses_points_and_staff_see_them_spent_and_given_back(client, shop, admin, db):
    seed_taxes_and_shipping(db)
    r = client.post("/api/v1/loyalty/programs", headers=admin, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.05",
        "redeem_max_share": "0.5"})
    assert r.status_code == 201, r.text
    cid = _customer_id(db)
    assert client.post("/api/v1/loyalty/adjust", json={"customer_id": cid, "points": 400, "reason": "welcome"},
                       headers=admin).status_code == 200

    # a guest: no points control
    _cart(client)
    page = client.get("/checkout")
    assert page.status_code == 200 and "Use my points" not in page.text
    guest_total = _total(page.text)

    # the customer signed in: balance, the most this order takes, the control
    assert sign_in(client, shop.users["customer"]).status_code == 303
    _cart(client)
    page = client.get("/checkout")
    token = csrf_of(page.text)  # bound to the signed-in session
    assert "You have 400 points" in page.text and "Use my points" in page.text, page.text[-3000:]
    # 2 x 49.00 = 98.00 of goods: half is 49.00 = 980 points, so the whole balance fits
    assert "Up to 400 can pay for this order" in page.text
    review = client.post("/checkout/review", data={"csrf_token": token, **ADDRESS, "use_points": "1",
                                                   "loyalty_points": "400"})
    assert review.status_code == 200, review.text[-2000:]
    assert re.search(r'id="sum-points">400 loyalty points', review.text)
    assert _total(review.text) == "90.30" and guest_total == "110.30"  # 98.00 - 20.00 + 12.30
    too_many = client.post("/checkout/review", data={"csrf_token": token, **ADDRESS, "use_points": "1",
                                                     "loyalty_points": "401"})
    assert too_many.status_code == 422 and "the balance is 400 points" in too_many.text

    placed = client.post("/checkout", data={"csrf_token": token, **ADDRESS, "use_points": "1", "loyalty_points": "400"},
                         follow_redirects=False)
    assert placed.status_code == 303, placed.text[-2000:]
    orders = client.get("/api/v1/orders", headers=admin).json()["items"]
    order = next(o for o in orders if o["customer_id"] == cid)
    assert order["totals"]["total"] == "90.30" and order["totals"]["discount"] == "20.00"
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "customer asked"},
                       headers=admin).status_code == 200

    client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/login").text)})
    client.cookies.clear()
    assert sign_in(client, shop.users["staff"]).status_code == 303
    page = client.get(f"/console/orders/{order['id']}").text
    table = page[page.index('id="order-points"'):]
    assert re.search(r"spent at checkout</td><td class=\"num\">-400", table)
    assert re.search(r"given back</td><td class=\"num\">\+400", table)
    assert "400 loyalty points (club)" in page
