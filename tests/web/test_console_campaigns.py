"""Campaigns in the console over the real ASGI stack (issue #20): staff create a draft campaign
for a segment (a missing template or a half-set A/B test comes back beside the field, 422),
find it by name, edit the draft, schedule it, and once scheduled it can no longer be edited,
only cancelled; a journey is switched off and on. The PATCH /campaigns route behind the edit
form refuses a started campaign with 409. A sales rep or support agent cannot open or post it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _segment(client: Any, token: str) -> int:
    client.post("/console/segments", data={"csrf_token": token, "name": "Everyone", "expression": "orders_count >= 0"})
    return client.get("/api/v1/segments").json()["items"][0]["id"]


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_create_edit_schedule_and_cancel_a_campaign(client, shop, db):
    sign_in(client, shop.users["staff"])
    page = client.get("/console/marketing/campaigns")
    assert page.status_code == 200 and "new-campaign" in page.text
    token = csrf_of(page.text)
    seg = _segment(client, token)
    base = {"csrf_token": token, "name": "Spring sale", "segment_id": str(seg), "channel": "email",
            "template": "newsletter", "template_b": "", "ab_percent": ""}

    no_template = client.post("/console/marketing/campaigns", data={**base, "template": ""})
    assert no_template.status_code == 422 and _field_error(no_template.text, "template")
    assert 'value="Spring sale"' in no_template.text
    half_ab = client.post("/console/marketing/campaigns", data={**base, "template_b": "newsletter_b"})
    assert half_ab.status_code == 422 and "template_b" in _field_error(half_ab.text, "ab_percent")
    assert client.get("/api/v1/campaigns").json()["items"] == []  # nothing half-written

    made = client.post("/console/marketing/campaigns", data=base, follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"]
    cid = int(url.rsplit("/", 1)[1])
    assert url in client.get("/console/marketing/campaigns", params={"q": "spring"}).text
    assert url not in client.get("/console/marketing/campaigns", params={"q": "winter"}).text

    edited = client.post(url, data={**base, "name": "Spring sale A/B", "template_b": "newsletter_b", "ab_percent": "20"},
                         follow_redirects=False)
    assert edited.status_code == 303
    api = client.get(f"/api/v1/campaigns/{cid}").json()
    assert (api["name"], api["template_b"], api["ab_test_fraction"], api["status"]) == (
        "Spring sale A/B", "newsletter_b", 0.2, "draft")

    past = client.post(f"{url}/start", data={"csrf_token": token, "at": "2020-01-01T09:00"})
    assert past.status_code == 422 and _field_error(past.text, "start.at")
    scheduled = client.post(f"{url}/start", data={"csrf_token": token, "at": "2099-03-01T09:00"},
                            follow_redirects=False)
    assert scheduled.status_code == 303
    api = client.get(f"/api/v1/campaigns/{cid}").json()
    assert api["status"] == "scheduled" and api["scheduled_at"].startswith("2099-03-01T09:00")
    shown = client.get(url).text
    assert "campaign-form" not in shown and "cancel-campaign" in shown  # no edit once scheduled
    late_edit = client.post(url, data={**base, "name": "Too late"})
    assert late_edit.status_code == 422 and "only a draft" in late_edit.text
    r = client.patch(f"/api/v1/campaigns/{cid}", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")

    assert client.post(f"{url}/cancel", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/campaigns/{cid}").json()["status"] == "cancelled"


def test_a_journey_is_switched_off_and_on(client, shop, db):
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/marketing/journeys").text)
    j = client.post("/api/v1/journeys", headers={"X-CSRF-Token": token}, json={
        "key": "thanks", "name": "Thank you", "trigger": "order.placed",
        "steps": [{"wait_hours": 24, "template": "post_purchase"}]}).json()
    assert f"/console/marketing/journeys/{j['id']}/active" in client.get("/console/marketing/journeys").text
    off = client.post(f"/console/marketing/journeys/{j['id']}/active", data={"csrf_token": token},
                      follow_redirects=False)
    assert off.status_code == 303
    assert next(x for x in client.get("/api/v1/journeys").json()["items"] if x["id"] == j["id"])["active"] is False
    client.post(f"/console/marketing/journeys/{j['id']}/active", data={"csrf_token": token, "active": "on"})
    assert next(x for x in client.get("/api/v1/journeys").json()["items"] if x["id"] == j["id"])["active"] is True


def test_campaign_pages_are_closed_to_sales_and_support(client, shop, db):
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/marketing/campaigns").text)
    seg = _segment(client, token)
    client.post("/console/marketing/campaigns", data={"csrf_token": token, "name": "Draft", "segment_id": str(seg),
                                                      "channel": "email", "template": "newsletter"})
    cid = client.get("/api/v1/campaigns").json()["items"][0]["id"]
    for role in ("sales_rep", "support_agent"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        assert client.get("/console/marketing/campaigns").status_code == 403
        assert client.get(f"/console/marketing/campaigns/{cid}").status_code == 403
        token = csrf_of(client.get("/console/password").text)
        assert client.post(f"/console/marketing/campaigns/{cid}/start", data={"csrf_token": token}).status_code == 403
        assert client.post(f"/console/marketing/campaigns/{cid}", data={"csrf_token": token, "name": "X"}).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert client.get(f"/api/v1/campaigns/{cid}").json()["status"] == "draft"


def test_an_ab_test_winner_is_not_picked_before_the_difference_is_significant(client, shop, db):
    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate
    from merx.marketing import campaigns

    with UnitOfWork(db) as uow:
        for n in range(4):
            customers.create_customer(uow, CustomerCreate(email=f"ab{n}@example.com"), commit=False)
        uow.commit()
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/marketing/campaigns").text)
    seg = _segment(client, token)
    made = client.post("/console/marketing/campaigns", follow_redirects=False, data={
        "csrf_token": token, "name": "Subject test", "segment_id": str(seg), "channel": "email",
        "template": "newsletter", "template_b": "newsletter_b", "ab_percent": "50"})
    url = made.headers["location"]
    cid = int(url.rsplit("/", 1)[1])
    client.post(f"{url}/start", data={"csrf_token": token, "at": ""})
    with UnitOfWork(db) as uow:  # the marketing.campaigns job's first batch: the test group
        campaigns.prepare_batch(uow, cid, utcnow())
    page = client.get(url).text
    assert client.get(f"/api/v1/campaigns/{cid}").json()["status"] == "testing" and "pick-winner" in page
    early = client.post(f"{url}/pick-winner", data={"csrf_token": token})
    assert early.status_code == 422 and "No significant difference yet" in early.text
    api = client.get(f"/api/v1/campaigns/{cid}").json()
    assert api["status"] == "testing" and api["winner"] is None and api["ab_result"]["significant"] is False
