"""Customer records over HTTP: normalisation, uniqueness, roles and record-level scoping."""

from __future__ import annotations

import pytest


@pytest.mark.backends("sqlite", "postgresql")
def test_email_and_phone_are_normalised_and_unique(client, admin):
    r = client.post("/api/v1/customers", json={"email": "  Ala.Nowak@Example.COM ", "phone": "600 100 200",
                                               "country": "PL", "first_name": "Ala"}, headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "ala.nowak@example.com"
    assert body["phone"] == "+48600100200"

    dup = client.post("/api/v1/customers", json={"email": "ALA.NOWAK@example.com"}, headers=admin)
    assert dup.status_code == 409
    assert dup.headers["content-type"] == "application/problem+json"
    assert dup.json()["errors"][0]["field"] == "email"

    dup_phone = client.post("/api/v1/customers", json={"phone": "+48 600-100-200"}, headers=admin)
    assert dup_phone.status_code == 409
    assert dup_phone.json()["errors"][0]["field"] == "phone"

    found = client.get("/api/v1/customers", params={"email": "ala.NOWAK@example.com"}, headers=admin).json()["items"]
    assert [c["id"] for c in found] == [body["id"]]


def test_invalid_contact_details_are_rejected_by_field(client, admin):
    r = client.post("/api/v1/customers", json={"email": "not-an-email"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    r = client.post("/api/v1/customers", json={"phone": "12"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"
    r = client.post("/api/v1/customers", json={"country": "Poland"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "country"
    r = client.post("/api/v1/customers", json={"email": "a@b.pl", "locale": "xx"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "locale"
    assert client.get("/api/v1/customers", headers=admin).json()["items"] == []


def test_anonymous_and_customers_cannot_list_or_create(client, make_key, admin):
    assert client.get("/api/v1/customers").status_code == 401
    assert client.post("/api/v1/customers", json={"email": "x@y.pl"}).status_code == 401
    me = client.post("/api/v1/customers", json={"email": "me@y.pl"}, headers=admin).json()
    other = client.post("/api/v1/customers", json={"email": "other@y.pl"}, headers=admin).json()
    customer = make_key("customer", customer_id=me["id"])
    assert client.get("/api/v1/customers", headers=customer).status_code == 403
    assert client.post("/api/v1/customers", json={"email": "z@y.pl"}, headers=customer).status_code == 403
    assert client.get("/api/v1/customers/me", headers=customer).json()["email"] == "me@y.pl"
    assert client.get(f"/api/v1/customers/{me['id']}", headers=customer).status_code == 200
    assert client.get(f"/api/v1/customers/{other['id']}", headers=customer).status_code == 404
    r = client.patch(f"/api/v1/customers/{other['id']}", json={"first_name": "Hacked"}, headers=customer)
    assert r.status_code == 404
    assert client.get(f"/api/v1/customers/{other['id']}", headers=admin).json()["first_name"] is None


def test_sales_rep_sees_only_own_accounts(client, make_key, admin):
    rep = make_key("sales_rep")
    rep_id = client.get("/api/v1/me", headers=rep).json()["user_id"]
    mine = client.post("/api/v1/customers", json={"email": "mine@corp.pl", "company": "Corp"}, headers=rep)
    assert mine.status_code == 201
    assert mine.json()["sales_rep_user_id"] == rep_id
    theirs = client.post("/api/v1/customers", json={"email": "theirs@corp.pl"}, headers=admin).json()
    listed = client.get("/api/v1/customers", headers=rep).json()["items"]
    assert [c["email"] for c in listed] == ["mine@corp.pl"]
    assert client.get(f"/api/v1/customers/{theirs['id']}", headers=rep).status_code == 404
    assert client.patch(f"/api/v1/customers/{theirs['id']}", json={"company": "X"}, headers=rep).status_code == 404


def test_cursor_pagination_visits_every_customer_once(client, admin):
    for i in range(7):
        assert client.post("/api/v1/customers", json={"email": f"c{i}@shop.pl"}, headers=admin).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/customers", params=params, headers=admin).json()
        seen += [c["email"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"c{i}@shop.pl" for i in range(7)]
    assert client.get("/api/v1/customers", params={"limit": 0}, headers=admin).status_code == 422
    bad = client.get("/api/v1/customers", params={"cursor": "garbage!"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.backends("sqlite", "postgresql")
def test_idempotent_create_replays_and_rejects_a_different_body(client, admin):
    headers = {**admin, "Idempotency-Key": "cust-1"}
    first = client.post("/api/v1/customers", json={"email": "idem@shop.pl"}, headers=headers)
    again = client.post("/api/v1/customers", json={"email": "idem@shop.pl"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = client.post("/api/v1/customers", json={"email": "other@shop.pl"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(client.get("/api/v1/customers", headers=admin).json()["items"]) == 1


def test_update_is_audited_and_versioned(client, admin):
    c = client.post("/api/v1/customers", json={"email": "v@shop.pl"}, headers=admin).json()
    r = client.patch(f"/api/v1/customers/{c['id']}", json={"first_name": "Vera"}, headers=admin)
    assert r.json()["version"] == 2 and r.json()["first_name"] == "Vera"
    same = client.patch(f"/api/v1/customers/{c['id']}", json={"first_name": "Vera"}, headers=admin)
    assert same.json()["version"] == 2  # no change, no new version
    log = client.get("/api/v1/audit-log", params={"entity_type": "customer", "entity_id": c["id"]}, headers=admin).json()
    assert [e["action"] for e in log["items"]] == ["create", "update"]
    assert log["items"][1]["before"]["first_name"] is None and log["items"][1]["after"]["first_name"] == "Vera"


@pytest.mark.backends("sqlite", "postgresql")
def test_a_customer_cannot_choose_its_own_sales_rep(client, make_key, admin):
    rep = make_key("sales_rep")
    rep_id = client.get("/api/v1/me", headers=rep).json()["user_id"]
    me = client.post("/api/v1/customers", json={"email": "me@y.pl"}, headers=admin).json()
    customer = make_key("customer", customer_id=me["id"])
    r = client.patch(f"/api/v1/customers/{me['id']}", json={"sales_rep_user_id": rep_id}, headers=customer)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "sales_rep_user_id"
    assert client.get(f"/api/v1/customers/{me['id']}", headers=admin).json()["sales_rep_user_id"] is None
    # The rest of its own record stays editable, also when the unchanged rep field is sent back.
    r = client.patch(f"/api/v1/customers/{me['id']}", json={"first_name": "Ola", "sales_rep_user_id": None},
                     headers=customer)
    assert r.status_code == 200 and r.json()["first_name"] == "Ola"


@pytest.mark.backends("sqlite", "postgresql")
def test_a_rep_assigns_customers_only_to_itself(client, make_key, admin):
    rep, other_rep = make_key("sales_rep"), make_key("sales_rep")
    rep_id = client.get("/api/v1/me", headers=rep).json()["user_id"]
    other_id = client.get("/api/v1/me", headers=other_rep).json()["user_id"]
    r = client.post("/api/v1/customers", json={"email": "planted@corp.pl", "sales_rep_user_id": other_id}, headers=rep)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "sales_rep_user_id"
    assert client.get("/api/v1/customers", params={"email": "planted@corp.pl"}, headers=admin).json()["items"] == []
    mine = client.post("/api/v1/customers", json={"email": "mine@corp.pl", "sales_rep_user_id": rep_id}, headers=rep)
    assert mine.status_code == 201 and mine.json()["sales_rep_user_id"] == rep_id
    # Nor hand an own account over to another rep (or to nobody).
    for target in (other_id, None):
        r = client.patch(f"/api/v1/customers/{mine.json()['id']}", json={"sales_rep_user_id": target}, headers=rep)
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "sales_rep_user_id"
    assert client.get(f"/api/v1/customers/{mine.json()['id']}", headers=rep).json()["sales_rep_user_id"] == rep_id


def test_managers_assign_any_sales_rep_but_only_a_sales_rep(client, make_key, admin):
    rep = make_key("sales_rep")
    rep_id = client.get("/api/v1/me", headers=rep).json()["user_id"]
    staff = make_key("staff")
    staff_id = client.get("/api/v1/me", headers=staff).json()["user_id"]
    c = client.post("/api/v1/customers", json={"email": "acct@corp.pl", "sales_rep_user_id": rep_id}, headers=staff)
    assert c.status_code == 201 and c.json()["sales_rep_user_id"] == rep_id
    assert client.get(f"/api/v1/customers/{c.json()['id']}", headers=rep).status_code == 200
    r = client.patch(f"/api/v1/customers/{c.json()['id']}", json={"sales_rep_user_id": staff_id}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sales_rep_user_id"
    support = make_key("support_agent")
    r = client.patch(f"/api/v1/customers/{c.json()['id']}", json={"sales_rep_user_id": None}, headers=support)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "sales_rep_user_id"
    assert client.patch(f"/api/v1/customers/{c.json()['id']}", json={"sales_rep_user_id": None},
                        headers=admin).json()["sales_rep_user_id"] is None
