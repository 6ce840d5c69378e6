"""Console pages for what used to be API-only (#20 Build 2): promotions and coupons (with a
bulk pause), price lists, locations and opening hours, users and API keys."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _post(client, path, data):  # type: ignore[no-untyped-def]
    page = client.get(path).text
    return client.post(path if not data.get("_action") else data.pop("_action"),
                       data={"csrf_token": csrf_of(page), **data}, follow_redirects=True)


def test_staff_creates_a_coupon_promotion_that_checkout_honours_and_pauses_it_in_bulk(client, shop, admin):
    sign_in(client, shop.users["staff"])
    r = _post(client, "/console/promotions", {"name": "Spring 15", "kind": "order_percent", "value": "15",
                                               "coupon_code": "SPRING15"})
    assert "Promotion created." in r.text and "SPRING15" in r.text
    order = client.post("/api/v1/orders", json={"customer": {"email": "c@example.com"}, "coupon": "SPRING15",
                                                 "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
                                                 "payment": {"provider": "manual"}})
    assert order.status_code == 201, order.text
    assert order.json()["totals"]["discount"] == "7.35"  # 15% of 49.00
    pid = re.search(r'name="id" value="(\d+)"', r.text).group(1)
    paused = client.post("/console/promotions/bulk", data={"csrf_token": csrf_of(r.text), "id": pid,
                                                           "action": "pause"}, follow_redirects=True)
    assert "1 promotion paused." in paused.text
    again = client.post("/api/v1/orders", json={"customer": {"email": "d@example.com"}, "coupon": "SPRING15",
                                                "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
                                                "payment": {"provider": "manual"}})
    assert again.status_code == 422  # a paused coupon is refused at checkout


def test_a_bad_promotion_comes_back_as_a_sentence(client, shop):
    sign_in(client, shop.users["staff"])
    r = _post(client, "/console/promotions", {"name": "Broken", "kind": "order_percent", "value": "150"})
    assert "Not saved" in r.text and "percent" in r.text


def test_price_list_created_and_filled_from_pasted_lines(client, shop, admin):
    sign_in(client, shop.users["staff"])
    r = _post(client, "/console/price-lists", {"code": "b2b-gold", "name": "B2B gold", "currency": "EUR",
                                                "channel": "b2b", "priority": "5"})
    assert "Price list created." in r.text
    r = client.post("/console/price-lists/b2b-gold/prices", data={"csrf_token": csrf_of(r.text),
                                                                   "prices": "LAMP-DESK 39,90\nLAMP-FLOOR 99.00"},
                    follow_redirects=True)
    assert "Prices of b2b-gold saved." in r.text
    listed = client.get("/api/v1/price-lists", headers=admin).json()["items"]
    assert [(p["code"], p["entries"]) for p in listed] == [("b2b-gold", 2)]
    bad = client.post("/console/price-lists/b2b-gold/prices", data={"csrf_token": csrf_of(r.text),
                                                                     "prices": "LAMP-DESK\nX 1"}, follow_redirects=True)
    assert "Line 1 should be a SKU and an amount" in bad.text


def test_a_new_store_with_opening_hours_offers_pickup(client, shop, admin):
    sign_in(client, shop.users["admin"])  # locations are the admin's, in the API and the console
    r = _post(client, "/console/locations", {"code": "ST-LOD", "name": "Łódź store", "kind": "store",
                                              "address": "Piotrkowska 1, Łódź", "lat": "51.7592", "lon": "19.4560",
                                              "pickup": "on", "accepts_returns": "on",
                                              "open_mon": "09:00", "close_mon": "18:00"})
    assert "Location created." in r.text and "Łódź store" in r.text
    loc = client.get("/api/v1/locations/ST-LOD", headers=admin).json()
    assert loc["pickup"] and loc["opening_hours"] == {"mon": [["09:00", "18:00"]]}
    r = client.post("/console/locations/ST-LOD", data={"csrf_token": csrf_of(r.text), "active": "on",
                                                        "open_tue": "10:00"}, follow_redirects=True)
    assert "Give both the opening and the closing time for tue" in r.text
    assert client.get("/api/v1/locations/ST-LOD", headers=admin).json()["pickup"] is True  # nothing half-written


def test_admin_creates_a_user_issues_a_key_shown_once_and_revokes_it(client, shop):
    sign_in(client, shop.users["admin"])
    r = _post(client, "/console/users", {"name": "Ola Store", "email": "ola@shop.test", "role": "staff",
                                          "password": "a-long-password-1"})
    assert "User created." in r.text and "ola@shop.test" in r.text
    uid = re.search(r'<tr id="user-(\d+)"><td>Ola Store', r.text).group(1)
    r = client.post(f"/console/users/{uid}/keys", data={"csrf_token": csrf_of(r.text), "name": "till"})
    key = re.search(r'<code>(mx_[^<]+)</code>', r.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["role"] == "staff"
    assert key not in client.get("/console/users").text  # shown once
    key_id = re.search(r'/console/api-keys/(\d+)/revoke', client.get("/console/users").text).group(1)
    page = client.get("/console/users").text
    client.post(f"/console/api-keys/{key_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_deactivating_a_user_stops_their_keys(client, shop):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/users").text
    uid = re.search(r'<tr id="user-(\d+)"><td>[^<]*</td><td>' + re.escape(shop.users["staff"]), page).group(1)
    r = client.post(f"/console/users/{uid}/keys", data={"csrf_token": csrf_of(page), "name": "k"})
    key = re.search(r'<code>(mx_[^<]+)</code>', r.text).group(1)
    r = client.post(f"/console/users/{uid}/active", data={"csrf_token": csrf_of(r.text), "active": "no"},
                    follow_redirects=True)
    assert "signed out everywhere" in r.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_only_admins_manage_users_and_staff_manage_promotions(client, shop):
    sign_in(client, shop.users["staff"])
    assert client.get("/console/users").status_code == 403
    assert client.get("/console/promotions").status_code == 200
    sign_in(client, shop.users["support_agent"])
    for path in ("/console/promotions", "/console/locations", "/console/users"):
        assert client.get(path).status_code == 403, path


def test_staff_creates_a_loyalty_programme_with_tiers(client, shop, admin):
    sign_in(client, shop.users["staff"])
    r = _post(client, "/console/loyalty", {"code": "club", "name": "Merx Club", "currency": "EUR",
                                            "points_per_unit": "1", "point_value": "0.01", "expiry_days": "365",
                                            "tiers": "Silver 500\nGold 2000: free shipping, early access"})
    assert "Loyalty programme created." in r.text and "Merx Club" in r.text
    programs = client.get("/api/v1/loyalty/programs", headers=admin).json()["items"]
    assert [(t["name"], t["threshold"]) for t in programs[0]["tiers"]] == [("Silver", 500), ("Gold", 2000)]
    assert programs[0]["tiers"][1]["benefits"] == ["free shipping", "early access"]
    bad = _post(client, "/console/loyalty", {"code": "x", "name": "X", "currency": "EUR", "points_per_unit": "1",
                                              "point_value": "0.01", "tiers": "Gold lots"})
    assert "Tier line 1 should be a name and the points" in bad.text
