"""Console pages of issue #20 build 2 that manage what only the API managed: a promotion's own
page (edit, pause, its coupon's uses and its redemptions), the audit log, dead letters, a
user's role. HTTP through the ASGI stack, signed in through the real login form."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _order(client, email, coupon=None):  # type: ignore[no-untyped-def]
    body = {"customer": {"email": email}, "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
            "payment": {"provider": "manual"}}
    if coupon:
        body["coupon"] = coupon
    r = client.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _promotion(client, admin, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/promotions", headers=admin, json={"name": "Lamp week", "kind": "order_percent",
                                                                "percent": "10", "coupon_code": "LAMP10", **extra})
    assert r.status_code == 201, r.text
    return r.json()


# -- a promotion's page ------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_redemptions_api_pages_newest_first_and_refuses_unknown_promotions_and_customers(client, shop, admin,
                                                                                         make_key):
    p = _promotion(client, admin)
    first, second = _order(client, "a@example.com", "LAMP10"), _order(client, "b@example.com", "LAMP10")
    _order(client, "c@example.com")  # no coupon: not a redemption
    page = client.get(f"/api/v1/promotions/{p['id']}/redemptions?limit=1", headers=admin).json()
    assert [r["order_id"] for r in page["items"]] == [second["id"]]
    assert page["items"][0]["amount"] == "4.90" and page["items"][0]["currency"] == "EUR"
    rest = client.get(f"/api/v1/promotions/{p['id']}/redemptions?limit=1&cursor={page['next_cursor']}",
                      headers=admin).json()
    assert [r["order_id"] for r in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    missing = client.get("/api/v1/promotions/999999/redemptions", headers=admin)
    assert missing.status_code == 404
    huge = client.get(f"/api/v1/promotions/{2**70}/redemptions", headers=admin)
    assert huge.status_code == 422 and "promotion_id" in huge.text
    assert client.get(f"/api/v1/promotions/{p['id']}/redemptions", headers=make_key("marketer")).status_code == 403
    bad = client.get(f"/api/v1/promotions/{p['id']}/redemptions?limit=0", headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "limit" in bad.text


def test_staff_edits_a_promotion_sees_its_orders_and_pauses_it(client, shop, admin):
    p = _promotion(client, admin)
    order = _order(client, "a@example.com", "LAMP10")
    sign_in(client, shop.users["staff"])
    listed = client.get("/console/promotions").text
    assert f'href="/console/promotions/{p["id"]}"' in listed
    page = client.get(f"/console/promotions/{p['id']}")
    assert page.status_code == 200
    assert f'href="/console/orders/{order["id"]}"' in page.text and "4.90" in page.text
    r = client.post(f"/console/promotions/{p['id']}", data={
        "csrf_token": csrf_of(page.text), "name": "Lamp fortnight", "priority": "3", "stacking": "exclusive",
        "usage_limit_total": "100", "usage_limit_per_customer": "1", "starts_at": "", "ends_at": "2031-01-31T23:59"},
        follow_redirects=True)
    assert "Lamp fortnight saved." in r.text
    saved = client.get(f"/api/v1/promotions/{p['id']}", headers=admin).json()
    assert (saved["name"], saved["priority"], saved["stacking"], saved["usage_limit_total"],
            saved["usage_limit_per_customer"]) == ("Lamp fortnight", 3, "exclusive", 100, 1)
    assert saved["ends_at"].startswith("2031-01-31T23:59")
    r = client.post(f"/console/promotions/{p['id']}/active", data={"csrf_token": csrf_of(r.text), "active": "no"},
                    follow_redirects=True)
    assert "paused: checkout no longer applies it" in r.text
    again = client.post("/api/v1/orders", json={"customer": {"email": "z@example.com"}, "coupon": "LAMP10",
                                                "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
                                                "payment": {"provider": "manual"}})
    assert again.status_code == 422  # a paused coupon is refused at checkout
    audit = client.get(f"/api/v1/audit-log?entity_type=promotion&entity_id={p['id']}&action=update",
                       headers=admin).json()["items"]  # the edits are in the audit log as the signed-in user
    assert [e["actor_role"] for e in audit] == ["staff", "staff"]


def test_a_refused_promotion_edit_names_the_field_and_changes_nothing(client, shop, admin):
    p = _promotion(client, admin, usage_limit_total=5)
    _order(client, "a@example.com", "LAMP10")
    _order(client, "b@example.com", "LAMP10")
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/promotions/{p['id']}").text
    r = client.post(f"/console/promotions/{p['id']}", data={
        "csrf_token": csrf_of(page), "name": "Renamed", "priority": "0", "stacking": "stackable",
        "usage_limit_total": "1", "starts_at": "2030-02-01T00:00", "ends_at": "2030-01-01T00:00"})
    assert r.status_code == 422
    assert re.search(r'data-field="usage_limit_total"[^>]*>[^<]*below the 2 redemptions', r.text)
    assert 'value="Renamed"' in r.text  # what was typed stays in the form
    assert client.get(f"/api/v1/promotions/{p['id']}", headers=admin).json()["name"] == "Lamp week"
    r = client.post(f"/console/promotions/{p['id']}", data={
        "csrf_token": csrf_of(page), "name": "Renamed", "priority": "x", "stacking": "stackable"})
    assert r.status_code == 422 and 'data-field="priority"' in r.text
    r = client.post(f"/console/promotions/{p['id']}", data={
        "csrf_token": csrf_of(page), "name": "Renamed", "priority": "0", "stacking": "stackable",
        "starts_at": "2030-02-01T00:00", "ends_at": "2030-01-01T00:00"})
    assert r.status_code == 422 and 'data-field="ends_at"' in r.text
    assert client.get(f"/console/promotions/{p['id']}", ).status_code == 200


def test_promotion_page_is_for_admin_and_staff_and_its_forms_need_the_token(client, shop, admin):
    p = _promotion(client, admin)
    for role in ("support_agent", "sales_rep"):
        sign_in(client, shop.users[role])
        assert client.get(f"/console/promotions/{p['id']}").status_code == 403, role
        page = client.get("/console").text
        r = client.post(f"/console/promotions/{p['id']}/active", data={"csrf_token": csrf_of(page), "active": "no"})
        assert r.status_code == 403, role
    assert client.get(f"/api/v1/promotions/{p['id']}", headers=admin).json()["active"] is True
    sign_in(client, shop.users["staff"])
    assert client.get("/console/promotions/999999").status_code == 404
    r = client.post(f"/console/promotions/{p['id']}/active", data={"csrf_token": "forged", "active": "no"})
    assert r.status_code == 403
    assert client.get(f"/api/v1/promotions/{p['id']}", headers=admin).json()["active"] is True


# -- the audit log -----------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_audit_log_api_filters_by_user_action_and_time_and_names_a_bad_filter(client, shop, admin, make_key):
    staff_key = make_key("staff", name="Stan")
    p = client.post("/api/v1/promotions", headers=staff_key, json={"name": "A", "kind": "order_percent",
                                                                    "percent": "5"}).json()
    client.patch(f"/api/v1/promotions/{p['id']}", headers=admin, json={"name": "B"})
    stan = next(e["actor_user_id"] for e in client.get("/api/v1/audit-log?entity_type=promotion",
                                                       headers=admin).json()["items"] if e["action"] == "create")
    by_stan = client.get(f"/api/v1/audit-log?actor_user_id={stan}", headers=admin).json()["items"]
    assert [(e["action"], e["entity_type"]) for e in by_stan] == [("create", "promotion")]
    updates = client.get("/api/v1/audit-log?action=update&entity_type=promotion", headers=admin).json()["items"]
    assert [e["after"]["name"] for e in updates] == ["B"]
    assert client.get("/api/v1/audit-log?since=2999-01-01T00:00:00Z", headers=admin).json()["items"] == []
    everything = client.get("/api/v1/audit-log?since=2000-01-01T00:00:00&until=2999-01-01T00:00:00Z",
                            headers=admin).json()["items"]
    assert {"create", "update"} <= {e["action"] for e in everything}
    for query, field in (("actor_user_id=abc", "actor_user_id"), ("since=yesterday", "since"),
                         ("until=2020-13-01", "until"), ("since=2030-01-02T00:00Z&until=2030-01-01T00:00Z", "until"),
                         ("action=" + "x" * 65, "action")):
        r = client.get(f"/api/v1/audit-log?{query}", headers=admin)
        assert r.status_code == 422, query
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text, query
    assert client.get("/api/v1/audit-log", headers=staff_key).status_code == 403


def test_admin_reads_the_audit_log_page_newest_first_with_filters(client, shop, admin):
    p = _promotion(client, admin)
    client.patch(f"/api/v1/promotions/{p['id']}", headers=admin, json={"name": "Lamp month"})
    sign_in(client, shop.users["admin"])
    page = client.get("/console/audit-log")
    assert page.status_code == 200 and 'href="/console/audit-log"' in page.text
    rows = re.findall(r"<tr><td>.*?</tr>", page.text, re.S)
    assert "Lamp week → Lamp month" in rows[0] and f'href="/console/promotions/{p["id"]}"' in rows[0]
    only = client.get("/console/audit-log?entity_type=promotion&action=create").text
    assert "Lamp week" in only and "Lamp month" not in only
    bad = client.get("/console/audit-log?since=last+week&until=2020-01-01T00:00")
    assert bad.status_code == 422
    assert re.search(r'data-field="since"[^>]*>is not a date and time', bad.text)
    assert "Correct the filter above" in bad.text
    window = client.get("/console/audit-log?since=2030-01-02T00:00&until=2030-01-01T00:00")
    assert window.status_code == 422 and 'data-field="until"' in window.text
    for role in ("staff", "support_agent"):
        sign_in(client, shop.users[role])
        assert client.get("/console/audit-log").status_code == 403, role
        assert 'href="/console/audit-log"' not in client.get("/console").text


# -- a user's role -----------------------------------------------------------------------------


def _uid(page: str, email: str) -> int:
    return int(re.search(r'<tr id="user-(\d+)"><td>[^<]*</td><td>' + re.escape(email), page).group(1))


@pytest.mark.backends("sqlite", "postgresql")
def test_patch_user_changes_the_role_at_once_keeps_the_last_admin_and_scoped_roles(client, shop, admin, make_key):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/users").text
    staff_id, admin_id, seller_id = (_uid(page, shop.users[r]) for r in ("staff", "admin", "seller"))
    staff_key = make_key("staff")
    r = client.patch(f"/api/v1/users/{staff_id}", headers=admin, json={"role": "support_agent", "name": "Sam"})
    assert r.status_code == 200 and (r.json()["role"], r.json()["name"]) == ("support_agent", "Sam")
    bad = client.patch(f"/api/v1/users/{staff_id}", headers=admin, json={"role": "boss"})
    assert bad.status_code == 422 and "role" in bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    scoped = client.patch(f"/api/v1/users/{seller_id}", headers=admin, json={"role": "staff"})
    assert scoped.status_code == 422 and "role" in scoped.text
    assert client.patch(f"/api/v1/users/{staff_id}", headers=admin, json={"role": "seller"}).status_code == 422
    assert client.patch(f"/api/v1/users/{staff_id}", headers=staff_key, json={"role": "admin"}).status_code == 403
    assert client.patch("/api/v1/users/999999", headers=admin, json={"role": "staff"}).status_code == 404
    # the admin API key's user is an admin too: demote it, then the last one is refused
    key_user = client.get("/api/v1/me", headers=admin).json()["user_id"]
    assert client.patch(f"/api/v1/users/{key_user}", headers=admin, json={"role": "staff"}).status_code == 200
    third = make_key("admin")
    assert client.patch(f"/api/v1/users/{admin_id}", headers=third, json={"role": "staff"}).status_code == 200
    third_id = client.get("/api/v1/me", headers=third).json()["user_id"]
    last = client.patch(f"/api/v1/users/{third_id}", headers=third, json={"role": "staff"})
    assert last.status_code == 409 and last.headers["content-type"].startswith("application/problem+json")
    assert last.json()["type"].endswith("last-admin")
    assert client.get("/api/v1/me", headers=third).json()["role"] == "admin"
    only = client.get("/api/v1/audit-log?entity_type=user&action=update", headers=third).json()["items"]
    assert {"role": "staff", "name": "Admin"} in [e["after"] for e in only]


def test_admin_changes_a_role_on_the_users_page_but_not_the_last_admins(client, shop, make_key):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/users").text
    staff_id, admin_id = _uid(page, shop.users["staff"]), _uid(page, shop.users["admin"])
    assert f'action="/console/users/{staff_id}/role"' in page
    assert 'action="/console/users/' + str(_uid(page, shop.users["seller"])) + '/role"' not in page  # scoped
    r = client.post(f"/console/users/{staff_id}/role", data={"csrf_token": csrf_of(page), "role": "sales_rep"},
                    follow_redirects=True)
    assert "Staff is now sales rep" in r.text
    r = client.post(f"/console/users/{admin_id}/role", data={"csrf_token": csrf_of(page), "role": "staff"})
    assert r.status_code == 422
    assert re.search(rf'data-field="role{admin_id}"[^>]*>This is the last active admin', r.text)
    sign_in(client, shop.users["staff"])  # now a sales rep: the users page is not theirs
    assert client.get("/console/users").status_code == 403
    page = client.get("/console").text
    r = client.post(f"/console/users/{staff_id}/role", data={"csrf_token": csrf_of(page), "role": "admin"})
    assert r.status_code == 403
