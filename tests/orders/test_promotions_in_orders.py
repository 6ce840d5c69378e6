"""Promotions, coupons and price lists as orders see them: amounts listed on the order,
usage limits enforced atomically (also under concurrent checkouts), price-list precedence."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

API = "/api/v1"


def _promo(shop, **body):  # type: ignore[no-untyped-def]
    r = shop.client.post(f"{API}/promotions", json=body, headers=shop.admin)
    assert r.status_code == 201, r.text
    return r.json()


def _stocked(shop, sku="ITEM", price="99.99", qty=100):  # type: ignore[no-untyped-def]
    if not shop.client.get(f"{API}/locations/WH").status_code == 200:
        shop.location("WH")
    shop.product(sku, price=price)
    shop.stock(sku, "WH", qty)


@pytest.mark.parametrize("price,quantity,expected_discount", [
    ("99.99", 1, "0.00"), ("100.00", 1, "5.00"), ("299.99", 1, "15.00"), ("300.00", 1, "30.00")])
def test_tiered_cart_discount_on_an_order_at_the_thresholds(shop, price, quantity, expected_discount):
    _stocked(shop, price=price)
    _promo(shop, name="Tiers", kind="tiered_percent", currency="EUR",
           tiers=[{"threshold": "100.00", "percent": "5"}, {"threshold": "300.00", "percent": "10"}])
    order = shop.order([("ITEM", quantity)]).json()
    assert order["totals"]["discount"] == expected_discount
    assert [p["amount"] for p in order["promotions"]] == ([] if expected_discount == "0.00" else [expected_discount])


def test_order_lists_each_applied_promotion_and_free_shipping(shop):
    _stocked(shop, price="60.00")
    shop.client.put(f"{API}/shipping-rates/EUR", json={"amount": "4.99"}, headers=shop.admin)
    _promo(shop, name="Free shipping from 100", kind="free_shipping", currency="EUR", min_subtotal="100.00")
    _promo(shop, name="10% off", kind="order_percent", percent="10", priority=5)
    below = shop.order([("ITEM", 1)]).json()
    assert below["totals"]["shipping"] == "4.99" and below["totals"]["total"] == "58.99"
    above = shop.order([("ITEM", 2)]).json()
    assert {p["name"]: p["amount"] for p in above["promotions"]} == {"10% off": "12.00",
                                                                    "Free shipping from 100": "4.99"}
    assert above["totals"] == {**above["totals"], "subtotal": "120.00", "discount": "12.00", "shipping": "0.00",
                               "shipping_discount": "4.99", "total": "108.00"}
    pickup_store = shop.location("SHOP", kind="store", pickup=True)
    shop.stock("ITEM", pickup_store["code"], 1)
    pickup = shop.order([("ITEM", 1)], fulfilment={"type": "pickup", "location": "SHOP"}).json()
    assert pickup["totals"]["shipping"] == "0.00"


def test_coupon_errors_name_the_coupon_field(shop):
    _stocked(shop, price="20.00")
    _promo(shop, name="Spring", kind="order_fixed", amount="5.00", currency="EUR", coupon_code="SPRING",
           min_subtotal="50.00")
    r = shop.order([("ITEM", 1)], coupon="NOPE")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "coupon"
    r = shop.order([("ITEM", 1)], coupon="spring")
    assert r.status_code == 422 and "at least 50" in r.json()["errors"][0]["message"]
    ok = shop.order([("ITEM", 3)], coupon="spring").json()
    assert ok["coupon"] == "SPRING" and ok["promotions"][0]["coupon_code"] == "SPRING"
    assert ok["totals"]["total"] == "55.00"


def test_coupon_per_customer_limit_and_release_on_cancel(shop):
    _stocked(shop, price="10.00")
    promo = _promo(shop, name="Welcome", kind="order_percent", percent="10", coupon_code="WELCOME",
                   usage_limit_per_customer=1)
    first = shop.order([("ITEM", 1)], coupon="WELCOME", email="ann@example.com")
    assert first.status_code == 201
    again = shop.order([("ITEM", 1)], coupon="WELCOME", email="ann@example.com")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "coupon"
    assert shop.order([("ITEM", 1)], coupon="WELCOME", email="ben@example.com").status_code == 201
    # cancelling gives the redemption back
    shop.client.post(f"{API}/orders/{first.json()['id']}/cancel", headers=shop.admin)
    assert shop.order([("ITEM", 1)], coupon="WELCOME", email="ann@example.com").status_code == 201
    assert shop.client.get(f"{API}/promotions/{promo['id']}", headers=shop.admin).json()["times_used"] == 2


@pytest.mark.backends("sqlite", "postgresql")
def test_total_coupon_limit_is_never_exceeded_under_concurrent_checkouts(shop, live_server):
    _stocked(shop, price="10.00", qty=1000)
    promo = _promo(shop, name="Flash", kind="order_fixed", amount="3.00", currency="EUR", coupon_code="FLASH",
                   usage_limit_total=5)
    bodies = [{"channel": "web", "customer": {"email": f"u{i}@example.com"}, "coupon": "FLASH",
               "lines": [{"sku": "ITEM", "quantity": 1}]} for i in range(30)]
    with httpx.Client(base_url=live_server, timeout=180) as http:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda b: http.post(f"{API}/orders", json=b).status_code, bodies))
    assert statuses.count(201) == 5, statuses
    assert set(statuses) == {201, 409}
    assert shop.client.get(f"{API}/promotions/{promo['id']}", headers=shop.admin).json()["times_used"] == 5
    assert shop.levels("ITEM")["WH"]["reserved"] == 5  # refused attempts hold no stock


@pytest.mark.backends("sqlite", "postgresql")
def test_a_shop_wide_promotion_counts_its_uses_without_a_hot_row_and_can_be_capped_later(shop, db):
    """Every order redeems an automatic promotion: its uses are its active redemptions (no
    UPDATE of the promotion row, which would make all checkouts queue on it). Setting a cap
    later starts the row's counter from the redemptions already made."""
    import sqlalchemy as sa

    from merx.pricing.models import Promotion

    _stocked(shop, price="10.00")
    promo = _promo(shop, name="5% off everything", kind="order_percent", percent="5")
    orders = [shop.order([("ITEM", 1)], email=f"c{i}@example.com").json() for i in range(3)]
    assert all(o["promotions"][0]["amount"] == "0.50" for o in orders)
    with db.engine.connect() as conn:  # the row itself was not touched by the checkouts
        assert conn.execute(sa.select(Promotion.times_used).where(Promotion.id == promo["id"])).scalar() == 0
    url = f"{API}/promotions/{promo['id']}"
    assert shop.client.get(url, headers=shop.admin).json()["times_used"] == 3
    shop.client.post(f"{API}/orders/{orders[0]['id']}/cancel", headers=shop.admin)
    assert shop.client.get(url, headers=shop.admin).json()["times_used"] == 2
    assert [p["times_used"] for p in shop.client.get(f"{API}/promotions", headers=shop.admin).json()["items"]
            if p["id"] == promo["id"]] == [2]
    # a cap below the uses so far is refused; a cap of 3 leaves room for exactly one more
    r = shop.client.patch(url, json={"usage_limit_total": 1}, headers=shop.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "usage_limit_total"
    r = shop.client.patch(url, json={"usage_limit_total": 3}, headers=shop.admin)
    assert r.status_code == 200 and r.json()["times_used"] == 2
    last = shop.order([("ITEM", 1)], email="d@example.com").json()
    assert [p["name"] for p in last["promotions"]] == ["5% off everything"]
    # used up: the next order goes through at the full price, without the promotion
    after = shop.order([("ITEM", 1)], email="e@example.com")
    assert after.status_code == 201 and after.json()["promotions"] == [] and after.json()["totals"]["total"] == "10.00"
    assert shop.client.get(url, headers=shop.admin).json()["times_used"] == 3


def test_price_lists_by_channel_and_customer_group_fall_back_to_the_catalog(shop, make_key):
    _stocked(shop, sku="DESK", price="200.00")
    _stocked(shop, sku="CHAIR", price="80.00")
    h = shop.admin
    assert shop.client.post(f"{API}/price-lists", json={"code": "B2B-EUR", "name": "Trade", "currency": "EUR",
                                                        "channel": "b2b", "customer_group": "trade"},
                            headers=h).status_code == 201
    shop.client.post(f"{API}/price-lists", json={"code": "WEB-EUR", "name": "Web", "currency": "EUR",
                                                 "channel": "web"}, headers=h)
    bad = shop.client.put(f"{API}/price-lists/WEB-EUR/prices", json={"prices": [{"sku": "DESK", "amount": "1.999"}]},
                          headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "prices[0].amount"
    shop.client.put(f"{API}/price-lists/B2B-EUR/prices", json={"prices": [{"sku": "DESK", "amount": "150.00"}]},
                    headers=h)
    shop.client.put(f"{API}/price-lists/WEB-EUR/prices", json={"prices": [{"sku": "DESK", "amount": "189.00"}]},
                    headers=h)
    web = shop.order([("DESK", 1), ("CHAIR", 1)]).json()
    assert [ln["unit_price"] for ln in web["lines"]] == ["189.00", "80.00"]
    rep = make_key("sales_rep")
    trade = shop.order([("DESK", 1)], channel="b2b", headers=rep,
                       customer={"email": "buyer@corp.example", "group": "trade"}).json()
    assert trade["lines"][0]["unit_price"] == "150.00"
    plain_b2b = shop.order([("DESK", 1)], channel="b2b", headers=rep).json()
    assert plain_b2b["lines"][0]["unit_price"] == "200.00"  # no group: the catalog price


def test_promotion_input_is_validated(shop):
    h = shop.admin
    r = shop.client.post(f"{API}/promotions", json={"name": "x", "kind": "order_percent", "percent": 10.5}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "percent"
    r = shop.client.post(f"{API}/promotions", json={"name": "x", "kind": "order_fixed", "amount": "5"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "currency"
    r = shop.client.post(f"{API}/promotions", json={"name": "x", "kind": "order_percent", "percent": "150"}, headers=h)
    assert r.status_code == 422
    r = shop.client.post(f"{API}/promotions", json={"name": "x", "kind": "order_percent", "percent": "5",
                                                     "starts_at": "2026-02-01T00:00:00Z",
                                                     "ends_at": "2026-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 422
    assert shop.client.post(f"{API}/promotions", json={"name": "x", "kind": "order_percent", "percent": "5"},
                            headers=shop.client.headers).status_code == 401
