"""Taxes and shipping edits in the console over the real ASGI stack (issue #20): staff end a VAT
rate and add the one that follows it, switch a channel's prices between with and without tax,
and edit a shipping zone's coverage and a method's rates, free-over amount and whether checkout
offers it; refusals beside the field (422), nothing half-written; a support agent reads the
zone page but cannot change it, a sales rep cannot open it. The PATCH routes behind it answer
problem+json naming the field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _zone(client: Any, code: str = "PL-ALL") -> dict[str, Any]:
    return next(z for z in client.get("/api/v1/shipping/zones").json()["items"] if z["code"] == code)


def _set_up(client: Any) -> str:
    token = csrf_of(client.get("/console/taxes").text)
    client.post("/console/taxes/rates", data={"csrf_token": token, "country": "PL", "tax_class": "standard",
                                              "rate": "23", "valid_from": "2024-01-01"})
    client.post("/console/taxes/zones", data={"csrf_token": token, "code": "PL-ALL", "name": "Poland",
                                              "countries": "PL"})
    client.post("/console/taxes/zones/PL-ALL/methods", data={"csrf_token": token, "code": "courier", "name": "Courier",
                                                             "currency": "EUR", "basis": "weight",
                                                             "brackets": "0:9.90, 5:14.90"})
    return token


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_end_a_rate_switch_a_channel_and_edit_a_zone(client, shop, db):
    sign_in(client, shop.users["staff"])
    token = _set_up(client)
    rate = client.get("/api/v1/taxes/rates", params={"country": "PL"}).json()["items"][0]

    # a rate ends on its last day; a date before it starts is refused beside the date
    early = client.post(f"/console/taxes/rates/{rate['id']}/end", data={"csrf_token": token, "valid_to": "2023-12-31"})
    assert early.status_code == 422 and _field_error(early.text, f"rate{rate['id']}.valid_to")
    garbled = client.post(f"/console/taxes/rates/{rate['id']}/end", data={"csrf_token": token, "valid_to": "soon"})
    assert garbled.status_code == 422 and "YYYY-MM-DD" in _field_error(garbled.text, f"rate{rate['id']}.valid_to")
    ended = client.post(f"/console/taxes/rates/{rate['id']}/end", data={"csrf_token": token, "valid_to": "2026-12-31"},
                        follow_redirects=False)
    assert ended.status_code == 303
    client.post("/console/taxes/rates", data={"csrf_token": token, "country": "PL", "tax_class": "standard",
                                              "rate": "21", "valid_from": "2027-01-01"})
    rates = client.get("/api/v1/taxes/rates", params={"country": "PL"}).json()["items"]
    assert [(r["rate"], r["valid_from"], r["valid_to"]) for r in rates] == [
        ("23", "2024-01-01", "2026-12-31"), ("21", "2027-01-01", None)]

    # a channel's prices switch to excluding tax
    modes = {m["channel"]: m["prices_include_tax"] for m in client.get("/api/v1/taxes/channels").json()}
    channel = next(c for c, inclusive in modes.items() if inclusive)
    assert client.post(f"/console/taxes/channels/{channel}", data={"csrf_token": token, "prices_include_tax": "no"},
                       follow_redirects=False).status_code == 303
    assert {m["channel"]: m["prices_include_tax"] for m in client.get("/api/v1/taxes/channels").json()}[channel] is False

    # the zone page: coverage and the method's rates
    assert "/console/taxes/zones/PL-ALL" in client.get("/console/taxes").text
    page = client.get("/console/taxes/zones/PL-ALL")
    assert page.status_code == 200 and 'value="0:9.90, 5:14.90"' in page.text
    bad_country = client.post("/console/taxes/zones/PL-ALL", data={"csrf_token": token, "name": "Poland",
                                                                   "countries": "PL, Czechia"})
    assert bad_country.status_code == 422 and "CZECHIA" in _field_error(bad_country.text, "zone.countries")
    assert client.post("/console/taxes/zones/PL-ALL", data={"csrf_token": token, "name": "Poland and Czechia",
                                                            "countries": "pl, cz", "postcodes": ""},
                       follow_redirects=False).status_code == 303
    zone = _zone(client)
    assert (zone["name"], zone["countries"]) == ("Poland and Czechia", ["PL", "CZ"])

    method = zone["methods"][0]
    url = f"/console/taxes/zones/PL-ALL/methods/{method['id']}"
    bad_price = client.post(url, data={"csrf_token": token, "name": "Courier", "basis": "weight",
                                       "brackets": "0:9.90, 5:lots", "free_over": "", "active": "on"})
    assert bad_price.status_code == 422 and _field_error(bad_price.text, f"m{method['id']}.brackets")
    assert 'value="0:9.90, 5:lots"' in bad_price.text  # what was typed is kept
    bad_free = client.post(url, data={"csrf_token": token, "name": "Courier", "basis": "weight",
                                      "brackets": "0:9.90", "free_over": "100.001", "active": "on"})
    assert bad_free.status_code == 422 and _field_error(bad_free.text, f"m{method['id']}.free_over")
    assert _zone(client)["methods"][0]["brackets"] == [{"from": "0", "price": "9.90"}, {"from": "5", "price": "14.90"}]

    saved = client.post(url, data={"csrf_token": token, "name": "Courier 24h", "basis": "weight",
                                   "brackets": "0:11.90, 10:19.90", "free_over": "200"}, follow_redirects=False)
    assert saved.status_code == 303  # the box was unticked: no longer offered
    m = _zone(client)["methods"][0]
    assert (m["name"], m["brackets"], m["free_over"], m["active"]) == (
        "Courier 24h", [{"from": "0", "price": "11.90"}, {"from": "10", "price": "19.90"}], "200.00", False)


def test_zone_edits_are_refused_to_roles_outside_staff(client, shop, db):
    sign_in(client, shop.users["staff"])
    _set_up(client)
    method_id = _zone(client)["methods"][0]["id"]
    client.cookies.clear()
    sign_in(client, shop.users["support_agent"])
    page = client.get("/console/taxes/zones/PL-ALL")
    assert page.status_code == 200 and "Save zone" not in page.text  # support reads it
    token = csrf_of(page.text)
    assert client.post("/console/taxes/zones/PL-ALL", data={"csrf_token": token, "name": "X",
                                                            "countries": "DE"}).status_code == 403
    assert client.post(f"/console/taxes/zones/PL-ALL/methods/{method_id}",
                       data={"csrf_token": token, "name": "X", "basis": "flat", "brackets": "0:1"}).status_code == 403
    assert client.patch("/api/v1/shipping/zones/PL-ALL", json={"name": "X"},
                        headers={"X-CSRF-Token": token}).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["sales_rep"])
    assert client.get("/console/taxes/zones/PL-ALL").status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert _zone(client)["name"] == "Poland"
    assert client.get("/console/taxes/zones/NOPE").status_code == 404


def test_the_patch_routes_name_the_field(client, shop, db):
    sign_in(client, shop.users["admin"])
    _set_up(client)
    token = csrf_of(client.get("/console/taxes").text)
    method_id = _zone(client)["methods"][0]["id"]
    r = client.patch(f"/api/v1/shipping/zones/PL-ALL/methods/{method_id}", json={"brackets": []},
                     headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "brackets" in r.json()["errors"][0]["field"]
    ok = client.patch(f"/api/v1/shipping/zones/PL-ALL/methods/{method_id}", json={"free_over": "50"},
                      headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["free_over"] == "50.00" and ok.json()["name"] == "Courier"
    assert client.patch("/api/v1/shipping/zones/PL-ALL/methods/999999", json={"name": "x"},
                        headers={"X-CSRF-Token": token}).status_code == 404
