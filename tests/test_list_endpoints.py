"""Every top-level list endpoint answers the same way: {"items", "next_cursor"}, honours
`limit`, and walking the cursors returns every row once (issue #20, defect 14)."""

from __future__ import annotations

import pytest

API = "/api/v1"


def _walk(client, path, headers, params=None):  # type: ignore[no-untyped-def]
    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        r = client.get(f"{API}{path}", params={**(params or {}), "limit": 2, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 2
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return seen, pages


@pytest.fixture
def shop(client, admin):  # type: ignore[no-untyped-def]
    for i in range(5):
        assert client.post(f"{API}/categories", json={"code": f"cat{i}", "name": f"Category {i}"},
                           headers=admin).status_code == 201
        assert client.post(f"{API}/brands", json={"code": f"brand{i}", "name": f"Brand {i}"},
                           headers=admin).status_code == 201
        assert client.post(f"{API}/price-lists", json={"code": f"pl{i}", "name": f"List {i}", "currency": "EUR"},
                           headers=admin).status_code == 201, "price list"
        assert client.post(f"{API}/promotions", json={"name": f"Promo {i}", "kind": "order_percent", "percent": "10"},
                           headers=admin).status_code == 201
        assert client.post(f"{API}/segments", json={"name": f"Seg {i}", "expression": f"orders_count >= {i}"},
                           headers=admin).status_code == 201
    assert client.post(f"{API}/locations", json={"code": "W1", "name": "Warehouse", "kind": "warehouse"},
                       headers=admin).status_code == 201
    for i in range(5):
        r = client.post(f"{API}/products", json={"name": f"Mug {i}", "category": "cat0", "sku": f"MUG-{i}",
                                                 "price": {"amount": "5.00", "currency": "EUR"}},
                        headers=admin)
        assert r.status_code == 201, r.text
        assert client.post(f"{API}/inventory/adjustments", json={"sku": f"MUG-{i}", "location": "W1", "delta": 3,
                                                                 "reason": "receipt"},
                           headers=admin).status_code in (200, 201)
    return client


@pytest.mark.parametrize("path,params,expected", [
    ("/categories", None, 5), ("/brands", None, 5), ("/price-lists", None, 5), ("/promotions", None, 5),
    ("/segments", None, 5), ("/inventory/stock", {"location": "W1"}, 5),
])
def test_lists_are_paged_with_cursors_and_return_every_row_once(shop, admin, path, params, expected) -> None:
    rows, pages = _walk(shop, path, admin, params)
    ids = [r.get("id", r.get("sku")) for r in rows]
    assert len(ids) == len(set(ids)) >= expected
    assert pages >= 3  # limit=2 was honoured
    one = shop.get(f"{API}{path}", params={**(params or {}), "limit": 1}, headers=admin).json()
    assert len(one["items"]) == 1 and one["next_cursor"]


def test_a_limit_outside_the_bounds_is_a_clear_error(client, admin) -> None:
    r = client.get(f"{API}/categories", params={"limit": 0}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "limit"
    r = client.get(f"{API}/brands", params={"cursor": "garbage!"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"


def test_product_search_box_matches_a_sku_exactly(shop, admin) -> None:
    found = shop.get(f"{API}/products", params={"q": "mug-3"}, headers=admin).json()["items"]
    assert [p["name"] for p in found] == ["Mug 3"]
    by_name = shop.get(f"{API}/products", params={"q": "mug"}, headers=admin).json()["items"]
    assert len(by_name) == 5


@pytest.fixture
def back_office(shop, admin):  # type: ignore[no-untyped-def]
    """Five rows in each list that used to answer a bare array (taxes, shipping, search
    tuning, marketing, the marketplace's rules and violations)."""
    import datetime as dt

    client = shop
    now = dt.datetime.now(dt.timezone.utc)
    product_id = client.get(f"{API}/products", params={"q": "MUG-0"}, headers=admin).json()["items"][0]["id"]
    seller = client.post(f"{API}/sellers", json={"code": "pager", "name": "Pager Ltd"}, headers=admin)
    assert seller.status_code == 201, seller.text
    for i in range(5):
        for path, body in (
            ("/taxes/rates", {"country": ["PL", "DE", "RO", "CZ", "SK"][i], "tax_class": "standard", "rate": "20",
                              "valid_from": "2026-01-01"}),
            ("/shipping/zones", {"code": f"z{i}", "name": f"Zone {i}", "countries": [["PL", "DE", "RO", "CZ", "SK"][i]]}),
            ("/search/synonyms", {"lang": "en", "terms": [f"mug{i}", f"cup{i}"]}),
            ("/search/pins", {"query": f"pinned {i}", "product_id": product_id, "position": 1}),
            ("/journeys", {"key": f"j{i}", "name": f"Journey {i}", "trigger": "replenishment",
                           "steps": [{"wait_hours": 0, "template": "replenishment",
                                      "replenish": [{"sku": "MUG-1", "days": 10 + i}]}]}),
            ("/giveaways", {"name": f"Contest {i}", "rule": "manual", "winners": 1,
                            "starts_at": (now - dt.timedelta(days=3)).isoformat(),
                            "ends_at": (now + dt.timedelta(days=3)).isoformat()}),
            ("/seller-violations", {"seller_id": seller.json()["id"], "kind": "late_shipment", "note": f"late {i}"}),
        ):
            r = client.post(f"{API}{path}", json=body, headers=admin)
            assert r.status_code == 201, (path, r.text)
        r = client.put(f"{API}/seller-commissions", json={"category": f"cat{i}", "rate": "0.1"}, headers=admin)
        assert r.status_code == 200, r.text
    return client


@pytest.mark.parametrize("path,expected", [
    ("/taxes/rates", 5), ("/shipping/zones", 5), ("/search/synonyms", 5), ("/search/pins", 5), ("/journeys", 5),
    ("/giveaways", 5), ("/seller-violations", 5), ("/seller-commissions", 5),
])
def test_the_lists_that_answered_bare_arrays_page_the_same_way(back_office, admin, path, expected) -> None:
    rows, pages = _walk(back_office, path, admin)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) >= expected
    assert pages >= 3
    everything = back_office.get(f"{API}{path}", params={"limit": 100}, headers=admin).json()
    assert {r["id"] for r in everything["items"]} == set(ids) and everything["next_cursor"] is None
    r = back_office.get(f"{API}{path}", params={"limit": 0}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("path", ["/invoices", "/seller-incidents", "/payouts/cycles", "/search/boost-rules"])
def test_the_other_former_bare_arrays_answer_a_page_and_refuse_a_bad_cursor(client, admin, path) -> None:
    # (their rows need paid orders, shipped seller orders or a payout run: their own tests walk them)
    body = client.get(f"{API}{path}", params={"limit": 5}, headers=admin).json()
    assert set(body) == {"items", "next_cursor"}
    r = client.get(f"{API}{path}", params={"cursor": "garbage!"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
