"""Creating a targeted promotion from the console over the real ASGI stack (issue #20): every
kind the API takes (tiers, buy X get Y), restricted to SKUs, categories and channels, with
limits and dates; each refusal comes back beside its field (422) with what was typed kept and
nothing created; roles that do not manage promotions get 403."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in

URL = "/console/new-promotion"


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _created_id(response: Any) -> int:
    assert response.status_code == 303, response.text[:500]
    return int(re.search(r"/console/promotions/(\d+)$", response.headers["location"]).group(1))


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_create_targeted_tiered_and_buy_x_get_y_promotions(client: Any, shop: Any, admin: Any) -> None:
    sign_in(client, shop.users["staff"])
    assert 'href="/console/new-promotion"' in client.get("/console/promotions").text
    token = csrf_of(client.get(URL).text)
    base = {"csrf_token": token, "stacking": "stackable"}

    lamps = client.post(URL, follow_redirects=False, data={
        **base, "name": "Desk lamps 15% in store", "kind": "line_percent", "value": "15",
        "skus": "LAMP-DESK, LAMP-FLOOR", "categories": "lighting", "channel": ["store", "web"],
        "coupon_code": "LAMPS15", "usage_limit_total": "100", "usage_limit_per_customer": "1", "priority": "5",
        "starts_at": "2026-01-01T00:00", "ends_at": "2027-01-01T00:00"})
    got = client.get(f"/api/v1/promotions/{_created_id(lamps)}", headers=admin).json()
    assert (got["kind"], got["percent"], got["skus"], got["categories"]) == \
        ("line_percent", "15", ["LAMP-DESK", "LAMP-FLOOR"], ["lighting"])
    assert sorted(got["channels"]) == ["store", "web"] and got["coupon_code"] == "LAMPS15"
    assert (got["usage_limit_total"], got["usage_limit_per_customer"], got["priority"]) == (100, 1, 5)
    assert got["starts_at"].startswith("2026-01-01T00:00") and got["ends_at"].startswith("2027-01-01T00:00")
    assert "LAMP-DESK, LAMP-FLOOR" in client.get(f"/console/promotions/{got['id']}").text

    tiers = client.post(URL, follow_redirects=False, data={
        **base, "name": "Spend more, save more", "kind": "tiered_percent", "tiers": "100=5, 250=10"})
    tiered = client.get(f"/api/v1/promotions/{_created_id(tiers)}", headers=admin).json()
    assert [(t["threshold"], t["percent"]) for t in tiered["tiers"]] == [("100.00", "5"), ("250.00", "10")]

    mugs = client.post(URL, follow_redirects=False, data={
        **base, "name": "Mugs 3 for 2", "kind": "buy_x_get_y", "buy_quantity": "2", "get_quantity": "1",
        "skus": "MUG-1"})
    b = client.get(f"/api/v1/promotions/{_created_id(mugs)}", headers=admin).json()
    assert (b["buy_quantity"], b["get_quantity"], b["get_percent"], b["skus"]) == (2, 1, "100", ["MUG-1"])


def test_refusals_beside_the_field_and_nothing_created(client: Any, shop: Any, admin: Any) -> None:
    sign_in(client, shop.users["admin"])
    token = csrf_of(client.get(URL).text)
    before = len(client.get("/api/v1/promotions", headers=admin).json()["items"])
    cases = [
        ({"name": "Bad tiers", "kind": "tiered_percent", "tiers": "a lot"}, "tiers"),
        ({"name": "Equal tiers", "kind": "tiered_percent", "tiers": "100=5, 100=10"}, "tiers"),
        ({"name": "No buy", "kind": "buy_x_get_y", "get_quantity": "1"}, "buy_quantity"),
        ({"name": "Too much", "kind": "line_percent", "value": "150", "skus": "LAMP-DESK"}, "value"),
        ({"name": "Fax", "kind": "order_percent", "value": "5", "channel": "fax"}, "channel"),
        ({"name": "Bad code", "kind": "order_percent", "value": "5", "coupon_code": "no spaces"}, "coupon_code"),
        ({"name": "Backwards", "kind": "order_percent", "value": "5", "starts_at": "2026-05-01T00:00",
          "ends_at": "2026-04-01T00:00"}, "_form"),
        ({"name": "", "kind": "order_percent", "value": "5"}, "name"),
    ]
    for data, field in cases:
        r = client.post(URL, data={"csrf_token": token, "stacking": "stackable", **data})
        assert r.status_code == 422, (data, r.status_code)
        assert _field_error(r.text, field), data
        if data["name"]:
            assert f'value="{data["name"]}"' in r.text  # what was typed is kept
    assert len(client.get("/api/v1/promotions", headers=admin).json()["items"]) == before
    assert client.post(URL, data={"name": "No token", "kind": "order_percent", "value": "5"}).status_code == 403


def test_new_promotion_is_for_admin_and_staff_only(client: Any, shop: Any) -> None:
    for role in ("sales_rep", "support_agent"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        token = csrf_of(client.get("/console").text)
        assert client.get(URL).status_code == 403
        assert client.post(URL, data={"csrf_token": token, "name": "x", "kind": "order_percent",
                                      "value": "5"}).status_code == 403
