"""A recipient's time zone: their own (the browser's at the storefront checkout, or set by
staff) before their country's, before the shop's default; marketing waits for their local
send window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from marketing_shop import make_customers, seed_products

NEW_YORK = ZoneInfo("America/New_York")


def test_own_zone_then_country_then_shop_default():
    from merx.marketing import rules

    assert rules.zone_for("PL", "Europe/Lisbon", "America/New_York") == NEW_YORK
    assert rules.zone_for("PL", "Europe/Lisbon", "Mars/Olympus") == ZoneInfo("Europe/Warsaw")  # unknown: ignored
    assert rules.zone_for("PL", "Europe/Lisbon", "../../etc/passwd") == ZoneInfo("Europe/Warsaw")
    assert rules.zone_for(None, "Europe/Lisbon", None) == ZoneInfo("Europe/Lisbon")


@pytest.mark.backends("sqlite", "postgresql")
def test_the_browsers_zone_from_checkout_and_stafs_choice_decide_the_send_window(client, db, settings, admin,
                                                                                smtp_server):
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers
    from merx.marketing import sending
    from merx.marketing.messages import insert_rows

    seed_products(db)
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "MUG-1", "quantity": "1"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "nina@example.com", "first_name": "Nina",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual",
                                       "timezone": "America/New_York"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    with UnitOfWork(db) as uow:
        nina = customers.customer_id_by_email(uow, "nina@example.com")
    got = client.get(f"/api/v1/recipients/{nina}", headers=admin).json()
    assert (got["timezone"], got["source"], got["basis"]) == ("America/New_York", "storefront", "own")

    # staff: a bad name is refused naming the field; a good one wins over later checkouts
    r = client.put(f"/api/v1/recipients/{nina}", headers=admin, json={"timezone": "Europe/Atlantis"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "timezone"
    [pl] = make_customers(db, 1, prefix="tz")  # a Polish customer with email consent
    r = client.put(f"/api/v1/recipients/{pl}", headers=admin, json={"timezone": "America/New_York"})
    assert r.status_code == 200 and r.json()["basis"] == "own" and r.json()["effective_timezone"] == "America/New_York"
    with UnitOfWork(db) as uow:
        from merx.marketing import public as marketing

        assert marketing.remember_timezone(uow, pl, "Asia/Tokyo") is False  # staff's choice stays
    assert client.get(f"/api/v1/recipients/{pl}", headers=admin).json()["timezone"] == "America/New_York"
    assert client.get("/api/v1/recipients/999999", headers=admin).status_code == 404

    sending.dispatch_until_idle(db, settings=settings)  # the order confirmation goes now (transactional)
    before = len(smtp_server.wait_for(1))
    # a marketing message due at 08:00 Warsaw: 02:00 in New York, the recipient's own zone
    warsaw_8 = dt.datetime(2026, 12, 10, 8, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    with UnitOfWork(db) as uow:
        insert_rows(uow, [{"idem_key": "tz-test", "kind": "marketing", "channel": "email", "customer_id": pl,
                           "address": "tz0@example.com", "locale": "en", "template_key": "newsletter",
                           "subject": "News", "body_text": "News", "body_html": None, "status": "queued",
                           "due_at": warsaw_8, "attempts": 0, "created_at": warsaw_8}])
        uow.commit()
    result = sending.dispatch_until_idle(db, now=warsaw_8.astimezone(dt.timezone.utc), settings=settings)
    assert result.sent == 0 and result.deferred == 1  # night in New York
    ny_8 = dt.datetime(2026, 12, 10, 8, 5, tzinfo=NEW_YORK)
    assert sending.dispatch_until_idle(db, now=ny_8.astimezone(dt.timezone.utc), settings=settings).sent == 1
    assert smtp_server.wait_for(before + 1)[-1]["To"] == "tz0@example.com"
