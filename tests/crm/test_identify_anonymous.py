"""Identify without an API key (finding 7): a stranger's email never pulls the caller's
anonymous profile into a real customer, and the answer does not tell whether the email is a
customer. Only a link token (issued to the signed-in shopper) joins a known profile."""

from __future__ import annotations

import pytest


def _track(client, anonymous_id: str, n: int) -> None:
    events = [{"type": "page_view", "anonymous_id": anonymous_id, "properties": {"url": f"https://shop/{i}"}}
              for i in range(n)]
    assert client.post("/api/v1/events", json={"events": events}).status_code == 200


def _overview(client, staff, customer_id: int) -> dict:
    r = client.get(f"/api/v1/customers/{customer_id}/overview", headers=staff)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_a_strangers_email_moves_nothing_into_the_real_customer(client, staff, new_customer):
    victim = new_customer(email="victim@example.com")
    token = client.post(f"/api/v1/customers/{victim['id']}/link-token", headers=staff).json()["link_token"]
    _track(client, "victim-phone", 2)
    assert client.post("/api/v1/identify", json={"anonymous_id": "victim-phone", "link_token": token}).status_code == 200
    before = _overview(client, staff, victim["id"])

    _track(client, "attacker-1", 5)
    client.post("/api/v1/identify", json={"anonymous_id": "attacker-1"})  # the attacker's own profile exists first
    r = client.post("/api/v1/identify", json={"anonymous_id": "attacker-1", "email": "VICTIM@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] != victim["id"] and r.json()["merged_from"] == []

    after = _overview(client, staff, victim["id"])
    assert after["events_count"] == before["events_count"] == 2
    assert {(i["kind"], i["value"]) for i in after["identifiers"]} == {(i["kind"], i["value"]) for i in before["identifiers"]}
    assert ("anonymous", "attacker-1") not in {(i["kind"], i["value"]) for i in after["identifiers"]}
    assert client.get(f"/api/v1/customers/{victim['id']}", headers=staff).json()["merged_into_id"] is None
    # the attacker's events stay with the attacker's own profile
    assert _overview(client, staff, r.json()["customer_id"])["events_count"] == 5


def test_the_answer_is_the_same_whether_or_not_the_email_is_a_customer(client, new_customer):
    new_customer(email="known@example.com", phone="+48600100222")
    known = client.post("/api/v1/identify", json={"anonymous_id": "probe-1", "email": "known@example.com",
                                                  "phone": "+48600100222"})
    unknown = client.post("/api/v1/identify", json={"anonymous_id": "probe-2", "email": "nobody@example.com",
                                                    "phone": "+48600100999"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda body: {k: v for k, v in body.items() if k != "customer_id"}  # noqa: E731 - each its own new profile
    assert strip(known.json()) == strip(unknown.json()) == {"created": True, "events_rekeyed": 0, "merged_from": [],
                                                            "conflicts": []}
    assert set(known.headers) == set(unknown.headers)


def test_link_tokens_are_issued_to_the_customer_or_staff_and_cannot_be_forged(client, staff, new_customer, make_key):
    mine, other = new_customer(email="me@example.com"), new_customer(email="other@example.com")
    me = make_key("customer", customer_id=mine["id"])
    assert client.post(f"/api/v1/customers/{mine['id']}/link-token").status_code == 401
    assert client.post(f"/api/v1/customers/{other['id']}/link-token", headers=me).status_code == 404
    assert client.post(f"/api/v1/customers/{mine['id']}/link-token", headers=make_key("seller", seller_id=1)).status_code == 403
    token = client.post(f"/api/v1/customers/{mine['id']}/link-token", headers=me).json()["link_token"]
    r = client.post("/api/v1/identify", json={"anonymous_id": "my-tablet", "link_token": token})
    assert r.status_code == 200 and r.json()["customer_id"] == mine["id"]

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = client.post("/api/v1/identify", json={"anonymous_id": "evil", "link_token": forged})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "link_token"
    r = client.post("/api/v1/identify", json={"email": "other@example.com"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "anonymous_id"
