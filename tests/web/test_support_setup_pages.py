"""Support set-up from the console over the real ASGI stack: an agent writes down a phone
call as a ticket; a manager creates and changes teams (business hours), SLA policies (one
per customer tier), assignment rules, auto-replies and surveys; refused input comes back
next to its field; an agent may keep canned replies but not the rest of the set-up."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _post(client, url, data):  # type: ignore[no-untyped-def]
    page = client.get(url if not url.endswith(("/teams", "/sla-policies", "/assignment-rules", "/canned-replies",
                                               "/auto-replies", "/surveys")) else url + "/new")
    assert page.status_code == 200, page.text[:300]
    return client.post(url, data={**data, "csrf_token": csrf_of(page.text)}, follow_redirects=False)


def _error_next_to(html: str, field: str) -> str:
    match = re.search(rf'id="f-{field}"[^>]*aria-invalid="true"[^>]*>.*?<span class="field-error" id="err-{field}"'
                      rf' role="alert">([^<]+)</span>', html, re.S)
    if match is None:  # fieldsets (hours) carry the message without an input id
        match = re.search(rf'<span class="field-error" id="err-{field}" role="alert">([^<]+)</span>', html)
    assert match, f"an error is written next to {field}"
    return match.group(1)


def test_an_agent_opens_a_ticket_for_a_phone_call(client, shop) -> None:
    sign_in(client, shop.users["support_agent"])
    form = client.get("/console/support/new-ticket")
    assert form.status_code == 200 and 'name="subject"' in form.text
    refused = client.post("/console/support/new-ticket", data={
        "channel": "phone", "kind": "complaint", "subject": "", "requester_email": "buyer@shop.test",
        "body": "The lamp arrived broken", "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert refused.status_code == 422
    assert _error_next_to(refused.text, "subject") == "required"
    assert "The lamp arrived broken" in refused.text  # what the agent wrote is kept
    done = client.post("/console/support/new-ticket", data={
        "channel": "phone", "kind": "complaint", "subject": "Broken lamp (phone)", "requester_email": "buyer@shop.test",
        "body": "The lamp arrived broken", "priority": "high", "csrf_token": csrf_of(form.text)},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/console/support/tickets/")
    ticket = client.get(done.headers["location"])
    assert "Broken lamp (phone)" in ticket.text and "The lamp arrived broken" in ticket.text
    assert "phone" in ticket.text and "customer " in ticket.text  # linked to the buyer by the address
    listed = client.get("/console/support")
    assert "Broken lamp (phone)" in listed.text


@pytest.mark.backends("sqlite", "postgresql")
def test_a_manager_sets_up_teams_tiered_sla_policies_and_rules(client, shop, db) -> None:
    sign_in(client, shop.users["staff"])
    bad_hours = _post(client, "/console/support/setup/teams", {"code": "care", "name": "Customer care",
                                                                "timezone": "Europe/Warsaw", "hours_mon": "9 to 5"})
    assert bad_hours.status_code == 422 and "09:00-17:00" in _error_next_to(bad_hours.text, "hours")
    bad_zone = _post(client, "/console/support/setup/teams", {"code": "care", "name": "Customer care",
                                                               "timezone": "Mars/Olympus", "hours_mon": "09:00-17:00"})
    assert bad_zone.status_code == 422 and "time zone" in _error_next_to(bad_zone.text, "timezone")
    made = _post(client, "/console/support/setup/teams", {
        **{f"hours_{d}": "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        "code": "care", "name": "Customer care", "timezone": "Europe/Warsaw", "holidays": "2026-12-25, 2026-12-26"})
    assert made.status_code == 303
    setup = client.get("/console/support/setup")
    assert "Customer care" in setup.text and "mon 08:00–16:00" in setup.text
    team_id = int(re.search(r'href="/console/support/setup/teams/(\d+)"', setup.text).group(1))

    edit = client.get(f"/console/support/setup/teams/{team_id}")
    assert 'value="08:00-16:00"' in edit.text and "2026-12-25, 2026-12-26" in edit.text
    changed = client.post(f"/console/support/setup/teams/{team_id}", data={
        "code": "care", "name": "Customer care", "timezone": "Europe/Warsaw", "hours_sat": "10:00-14:00",
        "csrf_token": csrf_of(edit.text)}, follow_redirects=False)
    assert changed.status_code == 303
    assert "sat 10:00–14:00" in client.get("/console/support/setup").text

    short = _post(client, "/console/support/setup/sla-policies", {"name": "Gold", "customer_tier": "gold",
                                                                   "first_response_minutes": "60",
                                                                   "resolution_minutes": "30", "active": "1"})
    assert short.status_code == 422
    assert "shorter" in _error_next_to(short.text, "resolution_minutes")
    for name, tier, first, position in (("Gold", "gold", "30", "10"), ("Everyone", "", "240", "100")):
        r = _post(client, "/console/support/setup/sla-policies", {
            "name": name, "customer_tier": tier, "first_response_minutes": first, "resolution_minutes": "960",
            "position": position, "team_id": str(team_id), "active": "1"})
        assert r.status_code == 303
    rule = _post(client, "/console/support/setup/assignment-rules", {"channel": "phone", "team_id": str(team_id)})
    assert rule.status_code == 303
    setup = client.get("/console/support/setup")
    assert "tier gold" in setup.text and "channel phone" in setup.text

    # the console's policies are the ones a new ticket gets: a gold customer's, the tier's
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.support import public as support

    with UnitOfWork(db, SYSTEM) as uow:
        gold = support.create_ticket(uow, support.TicketCreate(kind="question", subject="Gold call", channel="phone",
                                                               customer_tier="gold"))
    with UnitOfWork(db, SYSTEM) as uow:
        plain = support.create_ticket(uow, support.TicketCreate(kind="question", subject="Plain call",
                                                                channel="phone"))
    with UnitOfWork(db, SYSTEM) as uow:
        names = {p.id: p.name for p in support.list_policies(uow)}
    assert names[gold.sla_policy_id] == "Gold" and names[plain.sla_policy_id] == "Everyone"
    assert gold.team_id == team_id  # the phone rule
    assert "Customer care" in client.get(f"/console/support/tickets/{gold.id}").text  # the team by name


def test_auto_replies_canned_replies_and_surveys_are_kept_in_the_console(client, shop) -> None:
    sign_in(client, shop.users["admin"])
    r = _post(client, "/console/support/setup/auto-replies", {"keyword": "intent:teleport", "reply": "No."})
    assert r.status_code == 422 and "unknown intent" in _error_next_to(r.text, "keyword")
    assert _post(client, "/console/support/setup/auto-replies", {"keyword": "Delivery",
                                                                  "reply": "We ship in 2 days."}).status_code == 303
    again = _post(client, "/console/support/setup/auto-replies", {"keyword": "delivery", "reply": "Twice"})
    assert again.status_code == 422 and "already exists" in _error_next_to(again.text, "keyword")
    assert _post(client, "/console/support/setup/surveys", {"name": "Quarterly NPS", "every_days": "0"}).status_code == 422
    assert _post(client, "/console/support/setup/surveys", {"name": "Quarterly NPS", "every_days": "90"}).status_code == 303
    setup = client.get("/console/support/setup")
    assert "We ship in 2 days." in setup.text and "Quarterly NPS" in setup.text
    survey_id = re.search(r'href="/console/support/setup/surveys/(\d+)"', setup.text).group(1)
    edit = client.get(f"/console/support/setup/surveys/{survey_id}")
    paused = client.post(f"/console/support/setup/surveys/{survey_id}", data={
        "name": "Quarterly NPS", "every_days": "91", "csrf_token": csrf_of(edit.text)}, follow_redirects=False)
    assert paused.status_code == 303
    assert re.search(r"Quarterly NPS.*?91 days.*?paused", client.get("/console/support/setup").text, re.S)

    client.cookies.clear()
    sign_in(client, shop.users["support_agent"])
    assert _post(client, "/console/support/setup/canned-replies", {"shortcut": "thanks", "title": "Thanks",
                                                                    "body": "Thank you for writing."}).status_code == 303
    assert "/thanks" in client.get("/console/support/setup").text
    # an agent reads the set-up but does not change it
    setup = client.get("/console/support/setup")
    assert 'href="/console/support/setup/teams/new"' not in setup.text
    assert client.get("/console/support/setup/teams/new").status_code == 403
    csrf = csrf_of(setup.text)
    refused = client.post("/console/support/setup/auto-replies", data={"keyword": "refund", "reply": "x",
                                                                       "csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 403


def test_other_roles_have_no_support_set_up(client, shop) -> None:
    sign_in(client, shop.users["sales_rep"])
    assert client.get("/console/support/setup").status_code == 403
    assert client.get("/console/support/new-ticket").status_code == 403
    client.cookies.clear()
    assert client.get("/console/support/setup", follow_redirects=False).status_code == 303  # to the login page
