"""The stock page of one SKU over the real ASGI stack (issue #20): staff set a low-stock
threshold at one location and for every location, and the status follows; an adjustment carries
its reason into the ledger; a bad number, a count that went stale or removing more than is there
comes back beside the field (422) with nothing written; a sales rep or support agent cannot
open or post it."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in

import pytest

URL = "/console/inventory/sku/LAMP-DESK"


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _stock(client: Any, location: str) -> dict[str, Any]:
    rows = client.get("/api/v1/inventory/stock", params={"sku": "LAMP-DESK", "location": location}).json()["items"]
    return rows[0]


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_set_thresholds_and_adjust_with_a_reason(client, shop, db):
    sign_in(client, shop.users["staff"])
    assert URL in client.get("/console/inventory").text
    page = client.get(URL)
    assert page.status_code == 200 and 'data-location="ST-KRK"' in page.text  # every location, stocked or not
    token = csrf_of(page.text)

    # LAMP-DESK has 6 at ST-WAW: a threshold of 6 there makes it low stock, WH-POZ (20) stays in stock
    bad = client.post(f"{URL}/threshold", data={"csrf_token": token, "location": "ST-WAW", "low_stock": "-1"})
    assert bad.status_code == 422 and _field_error(bad.text, "threshold.ST-WAW.low_stock")
    ok = client.post(f"{URL}/threshold", data={"csrf_token": token, "location": "ST-WAW", "low_stock": "6"},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert _stock(client, "ST-WAW")["status"] == "low_stock" and _stock(client, "ST-WAW")["low_stock_threshold"] == 6
    assert _stock(client, "WH-POZ")["status"] == "in_stock"

    # for every location without its own: 25 makes WH-POZ low too, ST-WAW keeps its 6
    client.post(f"{URL}/threshold", data={"csrf_token": token, "location": "", "low_stock": "25"})
    assert _stock(client, "WH-POZ")["low_stock_threshold"] == 25 and _stock(client, "WH-POZ")["status"] == "low_stock"
    assert _stock(client, "ST-WAW")["low_stock_threshold"] == 6

    # goods received at the warehouse: +10 with its reason and note, in the ledger
    received = client.post(f"{URL}/adjust", follow_redirects=False, data={
        "csrf_token": token, "location": "WH-POZ", "reason": "receipt", "mode": "delta", "quantity": "10",
        "note": "PO 4471"})
    assert received.status_code == 303
    assert _stock(client, "WH-POZ")["on_hand"] == 30
    moves = client.get("/api/v1/inventory/movements", params={"sku": "LAMP-DESK", "location": "WH-POZ"}).json()["items"]
    assert any(m["reason"] == "receipt" and m["on_hand_delta"] == 10 and m["note"] == "PO 4471" for m in moves)
    assert "PO 4471" in client.get(URL).text and "goods received" in client.get(URL).text

    # refusals beside their field, nothing written
    zero = client.post(f"{URL}/adjust", data={"csrf_token": token, "location": "WH-POZ", "reason": "damage",
                                              "mode": "delta", "quantity": "0"})
    assert zero.status_code == 422 and _field_error(zero.text, "adjust.quantity")
    too_many = client.post(f"{URL}/adjust", data={"csrf_token": token, "location": "ST-WAW", "reason": "damage",
                                                  "mode": "delta", "quantity": "-7", "note": "broken box"})
    assert too_many.status_code == 422 and 'value="broken box"' in too_many.text
    assert _field_error(too_many.text, "adjust.quantity") or _field_error(too_many.text, "adjust._form")
    stale = client.post(f"{URL}/adjust", data={"csrf_token": token, "location": "ST-WAW", "reason": "count",
                                               "mode": "set", "quantity": "4", "expected": "5"})
    assert stale.status_code == 422
    assert _stock(client, "ST-WAW")["on_hand"] == 6
    counted = client.post(f"{URL}/adjust", data={"csrf_token": token, "location": "ST-WAW", "reason": "count",
                                                 "mode": "set", "quantity": "4", "expected": "6"},
                          follow_redirects=False)
    assert counted.status_code == 303 and _stock(client, "ST-WAW")["on_hand"] == 4

    assert client.get("/console/inventory/sku/NO-SUCH-SKU").status_code == 404
    assert client.post(f"{URL}/adjust", data={"location": "WH-POZ", "reason": "receipt", "quantity": "1"}).status_code == 403


def test_roles_outside_inventory_cannot_see_or_change_stock(client, shop, db):
    for role in ("sales_rep", "support_agent"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        assert client.get(URL).status_code == 403
        token = csrf_of(client.get("/console").text)
        assert client.post(f"{URL}/threshold", data={"csrf_token": token, "location": "", "low_stock": "1"}).status_code == 403
        assert client.post(f"{URL}/adjust", data={"csrf_token": token, "location": "WH-POZ", "reason": "receipt",
                                                  "quantity": "5"}).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert _stock(client, "WH-POZ")["on_hand"] == 20  # nothing moved


def test_the_threshold_api_refuses_an_unknown_sku(client, shop, db):
    sign_in(client, shop.users["admin"])
    token = csrf_of(client.get("/console").text)
    r = client.put("/api/v1/inventory/thresholds", json={"sku": "NO-SUCH", "low_stock": 3, "location": "WH-POZ"},
                   headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "sku"
