"""Stock, sales and price signals reach the index through other contexts' events.

Stock and order events are committed to the outbox as the inventory and orders contexts do
(their payloads per the cross-context contract; search follows the outbox, so an event only
published on the bus would never reach it); price changes come from the real catalog."""

from __future__ import annotations

import pytest

from order_events import order_placed

from merx.core.uow import UnitOfWork
from merx.inventory.events import StockChanged

SEARCH = "/api/v1/search"


def _commit(db, event) -> None:
    with UnitOfWork(db) as uow:
        uow.emit(event)
        uow.commit()


def _create(client, admin, sku, name, amount="100.00", **extra):
    r = client.post("/api/v1/products", json={"sku": sku, "name": name,
                                              "price": {"amount": amount, "currency": "EUR"}, **extra}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _explain(client, admin, q, **params):
    r = client.get(SEARCH, params={"q": q, "lang": "en", "explain": "true", **params}, headers=admin)
    assert r.status_code == 200, r.text
    return {i["product_id"]: i for i in r.json()["items"]}, r.json()


def test_stock_events_drive_the_store_filter_delivery_and_logistics_boosts(client, admin, db):
    near = _create(client, admin, "K-1", "Kettle steel")
    far = _create(client, admin, "K-2", "Kettle glass")
    gone = _create(client, admin, "K-3", "Kettle copper")
    for sku, location, available in (("K-1", "WAW-1", 5), ("K-2", "GDN-1", 3), ("K-3", "WAW-1", 0)):
        _commit(db, StockChanged(sku=sku, location=location, on_hand=available, reserved=0,
                                                 available=available, reason="receipt",
                                                 status="in_stock" if available else "out_of_stock"))
    items, body = _explain(client, admin, "kettle", near="WAW-1")
    assert [b["rule"] for b in items[near]["explain"]["boosts"]] == ["nearest_warehouse"]
    assert items[far]["explain"]["boosts"] == []
    days = {pid: i["explain"]["features"]["delivery_days"] for pid, i in items.items()}
    assert days == {near: 1.0, far: 3.0, gone: 7.0}
    assert {b["value"]: b["count"] for b in body["facets"]["store"]} == {"WAW-1": 1, "GDN-1": 1}
    at_store = client.get(SEARCH, params={"q": "kettle", "lang": "en", "store": "GDN-1"}).json()
    assert [i["product_id"] for i in at_store["items"]] == [far]
    # a region's next-day locations are configured on the rule
    rule = {"kind": "next_day_local", "factor": "1.075", "params": {"regions": {"PL-PM": ["GDN-1"]}}}
    assert client.post(f"{SEARCH}/boost-rules", json=rule, headers=admin).status_code == 201
    items, _ = _explain(client, admin, "kettle", near="WAW-1", region="PL-PM")
    assert [b["rule"] for b in items[far]["explain"]["boosts"]] == ["next_day_local"]


def test_orders_feed_the_sales_group(client, admin, db):
    bought = _create(client, admin, "M-1", "Coffee mug")
    other = _create(client, admin, "M-2", "Coffee mug large")
    _commit(db, order_placed(1, None, [{"sku": "M-1", "product_id": bought, "quantity": 3,
                                                         "unit_price": "5.00"}]))
    items, _ = _explain(client, admin, "coffee mug")
    assert items[bought]["explain"]["features"]["sales_purchases"] == pytest.approx(3.0, rel=1e-3)
    assert items[other]["explain"]["features"]["sales_purchases"] == 0.0
    assert list(items)[0] == bought


def test_repeat_sales_reach_the_ranking_at_the_signal_interval_not_on_every_order(client, admin, db, monkeypatch):
    """Sales counters are stored at once, but a product whose only change is a sale is
    re-indexed at most once per interval: a busy shop must not rewrite its documents on
    every order. The first sale is indexed at once, later ones when the interval has passed."""
    import time

    from merx.search.settings import get_search_settings

    monkeypatch.setenv("MERX_SEARCH_SIGNAL_REINDEX_SECONDS", "3")
    get_search_settings.cache_clear()
    try:
        mug = _create(client, admin, "M-1", "Coffee mug")

        def sold(order_id: int, quantity: int) -> None:
            _commit(db, order_placed(order_id, None, [{"sku": "M-1", "product_id": mug,
                                                                        "quantity": quantity, "unit_price": "5.00"}]))

        def purchases() -> float:
            return _explain(client, admin, "coffee mug")[0][mug]["explain"]["features"]["sales_purchases"]

        sold(1, 1)
        assert purchases() == pytest.approx(1.0, rel=1e-3)
        sold(2, 2)
        assert purchases() == pytest.approx(1.0, rel=1e-3)  # counted, not yet re-indexed
        deadline = time.monotonic() + 15
        while purchases() < 2.9 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert purchases() == pytest.approx(3.0, rel=1e-3)
    finally:
        get_search_settings.cache_clear()


def test_a_price_cut_is_a_good_price(client, admin):
    pid = _create(client, admin, "T-1", "Teapot", amount="100.00")
    r = client.patch(f"/api/v1/products/{pid}", json={"price": {"amount": "80.00", "currency": "EUR"}}, headers=admin)
    assert r.status_code == 200, r.text
    items, _ = _explain(client, admin, "teapot")
    e = items[pid]["explain"]
    assert e["features"]["price_ratio"] == pytest.approx(0.8, abs=0.01)
    assert e["features"]["price_discount"] == pytest.approx(0.2, abs=0.01)
    assert [b["rule"] for b in e["boosts"]] == ["good_price"]
    assert items[pid]["price"] == {"amount": "80.00", "currency": "EUR"}


def test_a_product_rating_set_by_its_owner_feeds_stage_3_and_the_deboost(client, admin, db):
    from merx.core.uow import UnitOfWork
    from merx.search.public import set_product_rating  # the join a reviews owner uses

    pid = _create(client, admin, "R-1", "Rocking chair")
    with UnitOfWork(db) as uow:
        set_product_rating(uow, pid, 2.4, 25)
        uow.commit()
    items, _ = _explain(client, admin, "rocking chair")
    e = items[pid]["explain"]
    assert (e["features"]["rating_avg"], e["features"]["rating_count"]) == (2.4, 25.0)
    assert [b["rule"] for b in e["boosts"]] == ["low_product_rating"]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_flood_of_fake_purchase_feedback_does_not_move_the_ranking(client, admin):
    """Finding 10: 300 anonymous "purchase" posts lifted result 20 for "laptop" to 1."""
    ids = [_create(client, admin, f"LT-{i:02d}", "Laptop " + "pro " * (20 - i) + f"model {i}") for i in range(20)]
    before = client.get(SEARCH, params={"q": "laptop", "lang": "en", "limit": 20}).json()
    order = [i["product_id"] for i in before["items"]]
    assert sorted(order) == sorted(ids)
    last = order[-1]
    # 300 posts from 3 addresses (100 each: under the per-address rate limit, as a botnet would)
    from fastapi.testclient import TestClient

    for n in range(3):
        bot = TestClient(client.app, raise_server_exceptions=False, client=(f"192.0.2.{n + 1}", 40000))
        for _ in range(100):
            r = bot.post(f"{SEARCH}/feedback", json={"search_id": before["search_id"], "product_id": last,
                                                     "action": "purchase", "position": 1})
            assert r.status_code == 204, r.text
    # a product the search did not show cannot be "clicked" from it
    other = client.get(SEARCH, params={"q": "laptop", "lang": "en", "limit": 1}).json()
    r = client.post(f"{SEARCH}/feedback", json={"search_id": other["search_id"], "product_id": last, "action": "click"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "product_id"
    after = client.get(SEARCH, params={"q": "laptop", "lang": "en", "limit": 20}).json()
    assert [i["product_id"] for i in after["items"]] == order
    items, _ = _explain(client, admin, "laptop", limit=20)
    assert items[last]["explain"]["features"]["sales_purchases"] == 0.0
    # a click counts, once per search however often it is posted
    for _ in range(3):
        assert client.post(f"{SEARCH}/feedback", json={"search_id": before["search_id"], "product_id": last,
                                                       "action": "click"}).status_code == 204
    items, _ = _explain(client, admin, "laptop", limit=20)
    assert items[last]["explain"]["features"]["pop_views"] == pytest.approx(1.0, rel=1e-3)
