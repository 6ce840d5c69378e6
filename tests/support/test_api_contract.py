"""The support API's contract: Idempotency-Key replays, cursor pagination, problem+json."""

from __future__ import annotations


def test_a_retried_ticket_post_with_one_idempotency_key_opens_one_ticket(client, make_key) -> None:
    agent = {**make_key("support_agent"), "Idempotency-Key": "call-7-ticket"}
    body = {"kind": "complaint", "subject": "Phone call: late parcel", "channel": "phone", "body": "Still waiting"}
    answers = [client.post("/api/v1/tickets", json=body, headers=agent) for _ in range(3)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(client.get("/api/v1/tickets", headers=agent).json()["items"]) == 1
    changed = client.post("/api/v1/tickets", json={**body, "subject": "Other"}, headers=agent)
    assert changed.status_code in (409, 422) and changed.headers["content-type"].startswith("application/problem+json")


def test_tickets_page_with_a_cursor_newest_first(client, make_key) -> None:
    agent = make_key("support_agent")
    ids = [client.post("/api/v1/tickets", json={"kind": "question", "subject": f"Q{n}"}, headers=agent).json()["id"]
           for n in range(5)]
    first = client.get("/api/v1/tickets", params={"limit": 2}, headers=agent).json()
    assert [t["id"] for t in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = client.get("/api/v1/tickets", params={"limit": 2, "cursor": cursor}, headers=agent).json()
        rest += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert rest == ids[::-1][2:]
    bad = client.post("/api/v1/tickets", json={"kind": "rant", "subject": "x"}, headers=agent)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"
    unknown = client.post("/api/v1/tickets", json={"kind": "wish", "subject": "x", "colour": "red"}, headers=agent)
    assert unknown.status_code == 422
    assert client.patch(f"/api/v1/tickets/{ids[0]}", json={"status": None}, headers=agent).status_code == 422
    assert client.get("/api/v1/tickets/999999", headers=agent).status_code == 404


def test_a_support_agent_sees_tickets_and_the_customer_not_finance(client, make_key, db) -> None:
    from merx.core.uow import UnitOfWork
    from merx.customers.public import CustomerCreate, create_customer

    with UnitOfWork(db) as uow:
        customer = create_customer(uow, CustomerCreate(email="kasia@example.pl")).id
    agent = make_key("support_agent")
    client.post("/api/v1/tickets", json={"kind": "question", "subject": "Size?", "customer_id": customer}, headers=agent)
    assert client.get(f"/api/v1/tickets?customer_id={customer}", headers=agent).json()["items"][0]["customer_id"] == customer
    assert client.get(f"/api/v1/customers/{customer}/overview", headers=agent).status_code == 200
    assert client.get("/api/v1/analytics/cohorts", headers=agent).status_code == 403
    assert client.get("/api/v1/analytics/funnel", headers=agent).status_code == 403
    assert client.post("/api/v1/orders/1/capture", headers=agent).status_code == 403
    assert client.post("/api/v1/sla-policies", json={"name": "x", "first_response_minutes": 1, "resolution_minutes": 2},
                       headers=agent).status_code == 403  # set-up is for admins and staff
