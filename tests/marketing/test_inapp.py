"""The in-app/web channel: a campaign on `inapp` to a segment; the message is shown on the
storefront to the browser that ordered as that customer (banner + inbox), read and unread;
another browser sees nothing; nobody without `inapp` consent gets one."""

from __future__ import annotations

import re

import pytest

from marketing_shop import make_customers, seed_products, static_segment


@pytest.fixture
def all_day(monkeypatch):  # type: ignore[no-untyped-def]
    from merx.marketing.settings import get_marketing_settings

    monkeypatch.setenv("MERX_MARKETING_SEND_WINDOWS", "00:00-00:00")
    monkeypatch.setenv("MERX_MARKETING_QUIET_HOURS", "")
    get_marketing_settings.cache_clear()
    yield
    get_marketing_settings.cache_clear()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


@pytest.mark.backends("sqlite", "postgresql")
def test_an_inapp_campaign_is_shown_to_the_shoppers_browser_with_read_and_unread(app, client, db, settings, admin,
                                                                                all_day):
    from fastapi.testclient import TestClient

    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm
    from merx.marketing import jobs, sending

    seed_products(db)
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "MUG-1", "quantity": "1"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "ina@example.com", "first_name": "Ina",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    assert client.cookies.get("merx_mkt")  # the browser got its marketing id at checkout
    sending.dispatch_until_idle(db, settings=settings)  # the order confirmation (email)
    with UnitOfWork(db) as uow:
        from merx.customers import public as customers

        ina = customers.customer_id_by_email(uow, "ina@example.com")
        crm.record_consent(uow, ina, channel="inapp", granted=True, source="storefront preferences")
    others = make_customers(db, 2, prefix="noinapp")  # email consent only: no in-app consent
    segment = static_segment(db, "inbox test", [ina, *others])

    assert "inbox-banner" not in client.get("/").text
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "In-app news", "segment_id": segment,
                                                             "template": "newsletter", "channel": "inapp"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/start", headers=admin).status_code == 200
    jobs.prepare_campaigns(db, utcnow())
    result = sending.dispatch_until_idle(db, settings=settings)
    assert result.sent == 1, str(result)

    home = client.get("/").text
    assert "You have 1 new message from the shop." in home and "Messages (1)" in home
    page = client.get("/inbox").text
    assert "New this week at" in page and "Mark as read" in page and "Hello Ina" in page
    message_id = int(re.search(r'action="/inbox/(\d+)/read"', page).group(1))

    # another browser sees no messages and cannot mark this one
    with TestClient(app) as stranger:
        assert "No messages yet" in stranger.get("/inbox").text
        stranger.get("/")
        r = stranger.post(f"/inbox/{message_id}/read", data={"csrf_token": stranger.cookies.get("merx_csrf")},
                          follow_redirects=False)
        assert r.status_code == 404

    r = client.post(f"/inbox/{message_id}/read", data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303
    home = client.get("/").text
    assert "inbox-banner" not in home and "Messages (" not in home
    page = client.get("/inbox").text
    assert "Mark as unread" in page and "New</span>" not in page
    report = client.get(f"/api/v1/campaigns/{cid}/report", headers=admin).json()["counts"]
    assert report["sent"] == 1 and report["opened"] == 1  # a read counts as an open
    # nobody without in-app consent got one
    r = client.get("/api/v1/messages", headers=admin, params={"campaign_id": cid})
    skipped = [m for m in r.json()["items"] if m["status"] == "skipped"]
    assert len(skipped) == 2 and all("consent" in m["reason"] for m in skipped)

    # unread again
    r = client.post(f"/inbox/{message_id}/read", data={"csrf_token": _csrf(page), "read": "0"}, follow_redirects=False)
    assert r.status_code == 303 and "Messages (1)" in client.get("/").text

    # signed in, a shopper's inbox is their own messages on any browser, and on a browser
    # another customer ordered from before, none of that customer's
    from merx.marketing import public as marketing

    visitor = client.cookies.get("merx_mkt")
    with UnitOfWork(db) as uow:
        assert [m["id"] for m in marketing.inbox(uow, None, customer_id=ina)] == [message_id]
        assert marketing.inbox(uow, visitor, customer_id=others[0]) == []
        assert marketing.unread_count(uow, visitor, customer_id=others[0]) == 0
        assert marketing.mark_read(uow, visitor, message_id, customer_id=others[0]) is False
