"""A cart shows what its order will charge: the same shipping by zone and method, tier
benefits, points and tax as checkout (orders/fiscal_step.quote), through the real API."""

from __future__ import annotations

from typing import Any

import pytest
from checkout_shop import SHIP_PL, balance, loyalty_shop, member
from payment_shop import PROVIDERS, PayShop

API = "/api/v1"
DE = {"type": "ship", "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117",
                                  "country": "DE"}}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    s = loyalty_shop(client, admin, db)
    assert client.post(f"{API}/shipping/zones", json={"code": "EU", "name": "EU", "countries": ["DE"]},
                       headers=admin).status_code == 201
    assert client.post(f"{API}/shipping/zones/EU/methods", headers=admin, json={
        "code": "post", "name": "Post", "currency": "EUR", "basis": "subtotal",
        "brackets": [{"from": "0", "price": "12.30"}]}).status_code == 201
    return s


def _cart_then_order(shop: PayShop, headers: dict[str, str], cart: dict[str, Any],
                     payment: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    r = shop.client.post(f"{API}/carts", json=cart, headers=headers)
    assert r.status_code == 201, r.text
    c = r.json()
    token = {"X-Cart-Token": c["token"]} if c["token"] else {}
    shown = shop.client.get(f"{API}/carts/{c['id']}", headers={**headers, **token})
    assert shown.status_code == 200, shown.text
    assert shown.json()["totals"] == c["totals"] and c["quote_problem"] is None, c
    r = shop.client.post(f"{API}/carts/{c['id']}/order", json={"payment": payment or {"provider": "manual"}},
                         headers={**headers, **token})
    assert r.status_code == 201, r.text
    return c, r.json()


def _same(cart: dict[str, Any], order: dict[str, Any]) -> None:
    for key in ("subtotal", "discount", "shipping", "shipping_discount", "tax", "total"):
        assert cart["totals"][key] == order["totals"][key], (key, cart["totals"], order["totals"])
    assert cart["tax_lines"] == order["tax_lines"]
    assert [(p["kind"], p["amount"]) for p in cart["promotions"]] == \
        [(p["kind"], p["amount"]) for p in order["promotions"]]


@pytest.mark.backends("sqlite", "postgresql")
def test_cart_totals_equal_the_placed_orders(shop, make_key, admin):
    # tax-inclusive web cart shipped to Poland: courier by weight (4.5 kg -> 5.00), tax inside
    c, o = _cart_then_order(shop, {}, {"email": "a@example.com", "lines": [{"sku": "LAMP", "quantity": 1},
                                                                           {"sku": "BOOK", "quantity": 1}],
                                       "fulfilment": SHIP_PL})
    assert c["totals"]["shipping"] == "5.00" and c["totals"]["total"] == "236.00" and c["prices_include_tax"]
    assert c["totals"]["tax"] != "0.00"
    _same(c, o)

    # over the free-shipping threshold (369.00 >= 300.00)
    c, o = _cart_then_order(shop, {}, {"email": "b@example.com", "lines": [{"sku": "LAMP", "quantity": 3}],
                                       "fulfilment": SHIP_PL})
    assert c["totals"]["shipping"] == "0.00" and c["totals"]["total"] == "369.00"
    _same(c, o)

    # tax-exclusive b2b cart (staff), EU zone by subtotal: 19% DE VAT added on top
    c, o = _cart_then_order(shop, admin, {"channel": "b2b", "email": "buyer@firma.de",
                                          "lines": [{"sku": "LAMP", "quantity": 1}], "fulfilment": DE})
    assert not c["prices_include_tax"] and c["totals"]["tax"] == "25.71" and c["totals"]["total"] == "161.01"
    _same(c, o)

    # a signed-in member's cart spending points: the discount line and the lower tax base
    cid, me = member(shop, make_key, "mia@example.com", 300)
    c, o = _cart_then_order(shop, me, {"lines": [{"sku": "BOOK", "quantity": 1}], "fulfilment": SHIP_PL,
                                       "loyalty_points": 200}, payment={"provider": "test"})
    assert c["loyalty"]["points"] == 200 and c["loyalty"]["discount"] == "20.00"
    assert c["totals"]["discount"] == "20.00" and c["totals"]["total"] == "93.00"  # 108 - 20 + 5
    _same(c, o)
    assert balance(shop, cid) == 100 + 88  # 300 - 200 spent, 88 earned on the 88.00 paid for the book


def test_a_cart_names_what_stops_its_order_and_still_shows_its_lines(shop, make_key):
    us = {"type": "ship", "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
                                      "country": "US"}}
    r = shop.client.post(f"{API}/carts", json={"email": "c@example.com", "lines": [{"sku": "BOOK", "quantity": 1}],
                                               "fulfilment": us})
    assert r.status_code == 201, r.text
    c = r.json()
    assert "no shipping zone covers it" in c["quote_problem"] and c["lines"][0]["sku"] == "BOOK"
    # points beyond the balance: the cart shows its figures without them and says why
    _, me = member(shop, make_key, "ned@example.com", 150)
    r = shop.client.post(f"{API}/carts", json={"lines": [{"sku": "BOOK", "quantity": 1}], "fulfilment": SHIP_PL,
                                               "loyalty_points": 500}, headers=me)
    c = r.json()
    assert r.status_code == 201 and "balance is 150 points" in c["quote_problem"]
    assert c["totals"]["total"] == "113.00" and c["loyalty"]["points"] == 0 and c["loyalty"]["max_points"] == 150
    r = shop.client.patch(f"{API}/carts/{c['id']}", json={"loyalty_points": 150}, headers=me)
    assert r.status_code == 200 and r.json()["quote_problem"] is None and r.json()["totals"]["total"] == "98.00"


@pytest.mark.backends("sqlite", "postgresql")
def test_concurrent_checkouts_of_one_member_never_spend_more_than_the_balance(shop, make_key, live_server):
    """8 checkouts at once, each spending 200 of a 500-point balance, over real HTTP: two go
    through, the others are refused naming `loyalty_points`, and the balance never goes below 0."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    cid, me = member(shop, make_key, "twin@example.com", 500)
    body = {"channel": "web", "customer": {}, "lines": [{"sku": "BOOK", "quantity": 1}], "fulfilment": SHIP_PL,
            "payment": {"provider": "manual"}, "loyalty_points": 200}
    with httpx.Client(base_url=live_server, timeout=180, headers=me) as http:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: http.post(f"{API}/orders", json=body), range(8)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201] + [422] * 6, [r.text for r in results if r.status_code not in (201, 422)]
    refusals = {r.json()["errors"][0]["field"] for r in results if r.status_code == 422}
    assert refusals == {"loyalty_points"}
    assert balance(shop, cid) == 100  # manual orders are not paid yet: nothing earned
