"""A deal's console page and `PATCH /api/v1/deals/{id}`: a rep edits their own deal (title, amount,
close date, stage) with refusals beside the field, cannot open or give away another's, a
manager hands a deal to another rep, an edit made on a stale page is refused; a lead's page
shows where it came from and converts it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _csrf(client: Any) -> dict[str, str]:
    """The header the API wants of a signed-in console session's writes."""
    return {"X-CSRF-Token": csrf_of(client.get("/console").text)}


def _rep_deal(client: Any, shop: Any) -> dict:
    """An account and a deal made by the shop's sales rep (signed in on `client`)."""
    sign_in(client, shop.users["sales_rep"])
    account = client.post("/api/v1/accounts", json={"name": "Nowak Hardware"}, headers=_csrf(client))
    assert account.status_code == 201, account.text
    deal = client.post("/api/v1/deals", json={"title": "Shelving", "account_id": account.json()["id"],
                                              "amount": {"amount": "4800.00", "currency": "EUR"}},
                       headers=_csrf(client))
    assert deal.status_code == 201, deal.text
    return deal.json()


def test_a_rep_edits_their_deal_and_refusals_are_named_beside_the_field(client, shop):
    deal = _rep_deal(client, shop)
    assert f'href="/console/sales/deals/{deal["id"]}"' in client.get("/console/sales").text
    page = client.get(f"/console/sales/deals/{deal['id']}")
    assert page.status_code == 200 and "Nowak Hardware" in page.text and 'name="owner_user_id"' not in page.text
    token = csrf_of(page.text)
    form = {"csrf_token": token, "title": "Shelving and racks", "amount": "5200,50", "expected_close": "2027-03-31",
            "stage": "needs_analysis", "version": str(deal["version"])}
    bad = client.post(f"/console/sales/deals/{deal['id']}", data={**form, "amount": "12.345"})
    assert bad.status_code == 422 and _field_error(bad.text, "amount") and 'value="Shelving and racks"' in bad.text
    jump = client.post(f"/console/sales/deals/{deal['id']}", data={**form, "stage": "signed"})
    assert jump.status_code == 422 and "reached only from negotiation" in _field_error(jump.text, "stage")
    lost = client.post(f"/console/sales/deals/{deal['id']}", data={**form, "stage": "lost"})
    assert lost.status_code == 422 and "lost_reason" in _field_error(lost.text, "lost_reason")
    assert client.get(f"/api/v1/deals/{deal['id']}").json()["title"] == "Shelving"  # nothing half-written
    r = client.post(f"/console/sales/deals/{deal['id']}", data=form, follow_redirects=True)
    assert "Deal Shelving and racks saved (needs analysis)." in r.text
    saved = client.get(f"/api/v1/deals/{deal['id']}").json()
    assert (saved["title"], saved["amount"]["amount"], saved["expected_close"], saved["stage"]) == (
        "Shelving and racks", "5200.50", "2027-03-31", "needs_analysis")
    assert [h["to_stage"] for h in saved["history"]] == ["visit", "needs_analysis"]
    stale = client.post(f"/console/sales/deals/{deal['id']}", data={**form, "title": "Old page"})
    assert stale.status_code == 422 and "changed meanwhile" in _field_error(stale.text, "_form")


@pytest.mark.backends("sqlite", "postgresql")
def test_patch_deal_keeps_reps_to_their_own_deals(client, shop, make_key, admin):
    deal = _rep_deal(client, shop)
    other_rep = make_key("sales_rep")
    assert client.patch(f"/api/v1/deals/{deal['id']}", headers=other_rep, json={"title": "Mine"}).status_code == 404
    other_id = client.get("/api/v1/me", headers=other_rep).json()["user_id"]
    give = client.patch(f"/api/v1/deals/{deal['id']}", json={"owner_user_id": other_id},
                        headers=_csrf(client))  # the owner rep's session
    assert give.status_code == 403 and "owner_user_id" in give.text
    assert give.headers["content-type"].startswith("application/problem+json")
    bad = client.patch(f"/api/v1/deals/{deal['id']}", json={"amount": {"amount": "10", "currency": "USD"}},
                       headers=_csrf(client))
    assert bad.status_code == 422 and "amount.currency" in bad.text
    moved = client.patch(f"/api/v1/deals/{deal['id']}", headers=admin, json={"owner_user_id": other_id,
                                                                             "expected_close": "2027-05-01"})
    assert moved.status_code == 200 and moved.json()["owner_user_id"] == other_id
    assert client.get(f"/api/v1/deals/{deal['id']}").status_code == 404  # the first rep no longer sees it
    assert client.get(f"/console/sales/deals/{deal['id']}").status_code == 404
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=other_rep).json()["expected_close"] == "2027-05-01"
    events = client.get(f"/api/v1/events?type=deal.updated&aggregate_id={deal['id']}", headers=admin).json()["items"]
    assert [e["payload"]["changes"] for e in events] == [["expected_close", "owner_user_id"]]  # for integrations


def test_staff_gives_a_deal_to_another_rep_from_the_page_and_support_cannot_open_it(client, shop, make_key):
    deal = _rep_deal(client, shop)
    other_rep = make_key("sales_rep", name="Rita Rep")
    other_id = client.get("/api/v1/me", headers=other_rep).json()["user_id"]
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/sales/deals/{deal['id']}").text
    assert 'name="owner_user_id"' in page and "Rita Rep" in page
    r = client.post(f"/console/sales/deals/{deal['id']}", data={
        "csrf_token": csrf_of(page), "title": "Shelving", "amount": "4800.00", "stage": "visit",
        "owner_user_id": str(other_id), "version": str(deal["version"])}, follow_redirects=True)
    assert "Deal Shelving saved" in r.text and "Rita Rep" in r.text
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=other_rep).status_code == 200
    sign_in(client, shop.users["support_agent"])
    assert client.get(f"/console/sales/deals/{deal['id']}").status_code == 403
    page = client.get("/console").text
    assert client.post(f"/console/sales/deals/{deal['id']}", data={"csrf_token": csrf_of(page),
                                                                   "title": "x"}).status_code == 403


def test_a_lead_page_shows_its_score_and_converts_it_into_a_deal(client, shop):
    sign_in(client, shop.users["sales_rep"])
    r = client.post("/api/v1/leads", json={"source": "trade_fair", "company": "Kowalski Lights", "contact_name": "Jan",
                                           "email": "jan@kowalski.example", "country": "PL", "campaign": "Fair 2026"},
                    headers=_csrf(client))
    assert r.status_code == 201, r.text
    lead = r.json()["lead"]
    listing = client.get("/console/sales/leads").text
    assert f'href="/console/sales/leads/{lead["id"]}"' in listing
    page = client.get(f"/console/sales/leads/{lead['id']}")
    assert page.status_code == 200 and "Kowalski Lights" in page.text and "Fair 2026" in page.text
    assert f"Score {lead['score']}" in page.text
    bad = client.post(f"/console/sales/leads/{lead['id']}", data={"csrf_token": csrf_of(page.text),
                                                                  "title": "Lamps", "amount": "abc"})
    assert bad.status_code == 422 and _field_error(bad.text, "amount") and 'value="Lamps"' in bad.text
    r = client.post(f"/console/sales/leads/{lead['id']}", data={"csrf_token": csrf_of(page.text), "title": "Lamps",
                                                                "amount": "900"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sales/deals/")
    deal = client.get(r.headers["location"])
    assert "Lamps" in deal.text and f'href="/console/sales/leads/{lead["id"]}"' in deal.text
    assert "Converted" in client.get(f"/console/sales/leads/{lead['id']}").text
    sign_in(client, shop.users["support_agent"])
    assert client.get(f"/console/sales/leads/{lead['id']}").status_code == 403
