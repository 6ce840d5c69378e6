"""Record scoping: a sales rep reads and changes only their own accounts, leads, deals,
activities, quotes and contracts (another rep's are 404, and absent from lists); a manager
(staff) sees the team's; other back-office roles are refused."""

from __future__ import annotations

import datetime as dt

import pytest

from sales_helpers import person, product


@pytest.fixture
def two_reps(client, db, make_key):
    product(db, "SEED-1", "100.00")
    alice, bob = person(db, "sales_rep", "Alice"), person(db, "sales_rep", "Bob")
    made = {}
    acc = client.post("/api/v1/accounts", headers=alice.headers, json={
        "name": "Alice's Account", "contacts": [{"name": "Ann", "email": "ann@alice-account.example"}]})
    assert acc.status_code == 201, acc.text
    made["accounts"] = acc.json()["id"]
    lead = client.post("/api/v1/leads", headers=alice.headers, json={"company": "Alice Lead", "email": "l@al.example"})
    assert lead.status_code == 201, lead.text
    made["leads"] = lead.json()["lead"]["id"]
    deal = client.post("/api/v1/deals", headers=alice.headers, json={
        "title": "Alice deal", "account_id": made["accounts"], "amount": {"currency": "EUR", "amount": "100.00"}})
    assert deal.status_code == 201, deal.text
    made["deals"] = deal.json()["id"]
    act = client.post("/api/v1/activities", headers=alice.headers, json={
        "kind": "task", "subject": "Call Ann", "account_id": made["accounts"],
        "due_at": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()})
    assert act.status_code == 201, act.text
    made["activities"] = act.json()["id"]
    quote = client.post("/api/v1/quotes", headers=alice.headers, json={
        "account_id": made["accounts"], "lines": [{"sku": "SEED-1", "quantity": 1}]})
    assert quote.status_code == 201, quote.text
    made["quotes"] = quote.json()["id"]
    contract = client.post("/api/v1/contracts", headers=alice.headers, json={
        "title": "Alice contract", "account_id": made["accounts"]})
    assert contract.status_code == 201, contract.text
    made["contracts"] = contract.json()["id"]
    return alice, bob, made


READS = ["accounts", "leads", "deals", "quotes", "contracts"]


@pytest.mark.parametrize("resource", READS)
def test_another_reps_record_is_not_found_and_not_listed(client, two_reps, resource):
    alice, bob, made = two_reps
    assert client.get(f"/api/v1/{resource}/{made[resource]}", headers=alice.headers).status_code == 200
    r = client.get(f"/api/v1/{resource}/{made[resource]}", headers=bob.headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/{resource}", headers=bob.headers).json()["items"] == []
    assert [x["id"] for x in client.get(f"/api/v1/{resource}", headers=alice.headers).json()["items"]] == \
        [made[resource]]


@pytest.mark.backends("sqlite", "postgresql")
def test_another_reps_records_cannot_be_changed_or_used(client, two_reps):
    alice, bob, made = two_reps
    today = dt.date.today().isoformat()
    writes = [
        ("patch", f"/api/v1/accounts/{made['accounts']}", {"tier": "gold"}),
        ("post", f"/api/v1/accounts/{made['accounts']}/contacts", {"name": "Intruder"}),
        ("post", f"/api/v1/leads/{made['leads']}/convert", {}),
        ("post", f"/api/v1/deals/{made['deals']}/move", {"stage": "needs_analysis"}),
        ("post", f"/api/v1/activities/{made['activities']}/complete", None),
        ("post", f"/api/v1/quotes/{made['quotes']}/send", None),
        ("post", f"/api/v1/quotes/{made['quotes']}/revise", {"account_id": made["accounts"],
                                                            "lines": [{"sku": "SEED-1", "quantity": 2}]}),
        ("get", f"/api/v1/quotes/{made['quotes']}/pdf", None),
        ("post", f"/api/v1/contracts/{made['contracts']}/status", {"status": "review"}),
        ("put", f"/api/v1/contracts/{made['contracts']}/clauses", {"clauses": []}),
        # using another rep's account for a new record
        ("post", "/api/v1/deals", {"title": "x", "account_id": made["accounts"],
                                   "amount": {"currency": "EUR", "amount": "1.00"}}),
        ("post", "/api/v1/quotes", {"account_id": made["accounts"], "lines": [{"sku": "SEED-1", "quantity": 1}]}),
        ("post", "/api/v1/contracts", {"title": "x", "account_id": made["accounts"]}),
        ("post", "/api/v1/activities", {"kind": "note", "subject": "x", "account_id": made["accounts"]}),
        ("post", "/api/v1/quotes", {"account_id": made["accounts"], "lines": [{"sku": "SEED-1", "quantity": 1}],
                                    "valid_until": today}),
    ]
    for method, url, body in writes:
        kwargs = {"json": body} if body is not None else {}
        r = getattr(client, method)(url, headers=bob.headers, **kwargs)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    # nothing changed for Alice
    assert client.get(f"/api/v1/deals/{made['deals']}", headers=alice.headers).json()["stage"] == "visit"
    assert client.get(f"/api/v1/quotes/{made['quotes']}", headers=alice.headers).json()["status"] == "draft"
    assert client.get("/api/v1/activities", params={"open_tasks": True},
                      headers=alice.headers).json()["items"][0]["done_at"] is None
    assert client.get("/api/v1/activities", headers=bob.headers).json()["items"] == []


def test_a_manager_sees_the_team_and_other_roles_are_refused(client, two_reps, make_key):
    alice, bob, made = two_reps
    manager = make_key("staff")
    for resource in READS:
        assert client.get(f"/api/v1/{resource}/{made[resource]}", headers=manager).status_code == 200
    assert len(client.get("/api/v1/activities", headers=manager).json()["items"]) == 1
    for headers in (make_key("support_agent"), make_key("seller", seller_id=1)):
        assert client.get("/api/v1/accounts", headers=headers).status_code == 403
        assert client.get(f"/api/v1/deals/{made['deals']}", headers=headers).status_code == 403
    assert client.get("/api/v1/accounts").status_code == 401


def test_a_rep_cannot_give_a_new_record_to_someone_else(client, two_reps):
    alice, bob, made = two_reps
    r = client.post("/api/v1/accounts", headers=bob.headers, json={"name": "Bob Co", "owner_user_id": alice.user_id})
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "owner_user_id"
