"""Transactional notifications from real orders: the storefront checkout and the orders API
drive the producer; the messages arrive at a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import re

import pytest

from marketing_shop import seed_products


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def _send(db, settings):  # type: ignore[no-untyped-def]
    from merx.marketing import sending

    return sending.dispatch_until_idle(db, settings=settings)


@pytest.mark.backends("sqlite", "postgresql")
def test_storefront_order_is_confirmed_by_email_in_the_shoppers_language(client, db, settings, smtp_server):
    seed_products(db)
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "KETTLE-1", "quantity": "2"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "anna@example.com", "first_name": "Anna",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual"},
                    headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.8"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    page = client.get(r.headers["location"]).text
    # a mail server is configured, so the page may promise the email
    assert "we email you at anna@example.com when it is ready" in page
    result = _send(db, settings)
    assert result.sent == 1, str(result)
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "anna@example.com"
    assert msg["Subject"].startswith("Potwierdzenie zamówienia")
    body = msg.get_body(("plain",)).get_content()
    assert "Dzień dobry Anna" in body and "2 x KETTLE-1: 71.80 EUR" in body
    assert msg.get_body(("html",)) is not None
    assert msg["List-Unsubscribe"] is None  # transactional: no marketing unsubscribe
    # sending again sends nothing: the message is recorded as sent
    assert _send(db, settings).sent == 0
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


def test_ready_for_pickup_and_shipped_notices_follow_their_events(client, db, settings, smtp_server, admin):
    seed_products(db)
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "ann@example.com", "locale": "en"},
                                            "lines": [{"sku": "KETTLE-1", "quantity": 1}],
                                            "fulfilment": {"type": "pickup", "location": "ST-WAW"},
                                            "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text
    pickup_id = r.json()["id"]
    assert client.post(f"/api/v1/orders/{pickup_id}/ready-for-pickup", headers=admin).status_code == 200
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "bob@example.com"},
                                            "lines": [{"sku": "MUG-1", "quantity": 3}],
                                            "fulfilment": {"type": "ship", "address": {
                                                "line1": "Main 1", "city": "Berlin", "country": "DE"}},
                                            "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text
    ship_id = r.json()["id"]
    r = client.post(f"/api/v1/orders/{ship_id}/fulfil", headers=admin,
                    json={"carrier": "DHL", "tracking_number": "JD0001", "tracking_url": "https://dhl.example/JD0001"})
    assert r.status_code == 200, r.text
    _send(db, settings)
    got = smtp_server.wait_for(6)
    subjects = sorted((m["To"], m["Subject"]) for m in got)
    by_to: dict[str, list[str]] = {}
    for to, subject in subjects:
        by_to.setdefault(to, []).append(subject)
    assert len(by_to["ann@example.com"]) == 3  # confirmation, payment received, ready for pickup
    pickup = next(m for m in got if m["Subject"].endswith("is ready for pickup"))
    text = pickup.get_body(("plain",)).get_content()
    assert "Warsaw store" in text and "ul. Marszałkowska 1, Warszawa" in text and "Mon 09:00-18:00; Sat 10:00-14:00" in text
    shipped = next(m for m in got if m["Subject"].endswith("is on its way"))
    assert shipped["To"] == "bob@example.com"
    text = shipped.get_body(("plain",)).get_content()
    assert "DHL" in text and "JD0001" in text and "https://dhl.example/JD0001" in text


def test_a_redelivered_event_records_its_notification_once(db, settings):
    """The idempotency key is the event id + template: handling the same event twice (a
    durable subscriber redoing a batch after a crash) queues one message."""
    import sqlalchemy as sa

    from merx.core.uow import UnitOfWork
    from merx.core.events import DomainEvent
    from merx.marketing import notifications
    from merx.marketing.models import Message
    from order_events import order_placed

    event = order_placed(7001, None, [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}], email="x@example.com")
    envelope = DomainEvent.of(event)  # the envelope the outbox would carry
    for _ in range(2):
        with UnitOfWork(db) as uow:
            notifications.queue_for_events(uow, [envelope])
            uow.commit()
    with UnitOfWork(db) as uow:
        rows = uow.session.scalars(sa.select(Message)).all()
        assert [(m.template_key, m.address, m.status) for m in rows] == [("order_confirmation", "x@example.com", "queued")]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_confirmation_handled_late_is_due_from_when_its_order_was_placed(db, settings, smtp_server):
    """An order placed at 10:00 of a replayed (simulated) day whose event the subscriber
    handles only later, outside that clock: the confirmation is due at 10:00, so the sender
    running at 10:01 of that day sends it (it was due at the subscriber's real "now", after it)."""
    import datetime as dt

    from merx.core.db import simulated_clock
    from merx.core.events import DomainEvent
    from merx.core.uow import UnitOfWork
    from merx.marketing import notifications, sending
    from order_events import order_placed

    placed = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
    with simulated_clock(placed):
        envelope = DomainEvent.of(order_placed(7002, None, [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}],
                                               email="late@example.com", placed_at=placed))
    with UnitOfWork(db) as uow:  # the subscriber catches up after the clock moved on
        notifications.queue_for_events(uow, [envelope])
        uow.commit()
    result = sending.dispatch_until_idle(db, now=placed + dt.timedelta(minutes=1), settings=settings)
    assert result.sent == 1, str(result)
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "late@example.com" and msg["Subject"] == "Your order M-7002 is confirmed"


def test_erasing_a_customer_blanks_their_messages(client, db, settings, smtp_server, admin):
    import sqlalchemy as sa

    from merx.core.uow import UnitOfWork
    from merx.marketing.models import Message

    seed_products(db)
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "gone@example.com"},
                                            "lines": [{"sku": "MUG-1", "quantity": 1}]})
    assert r.status_code == 201, r.text
    customer_id = r.json()["customer_id"]
    _send(db, settings)
    r = client.post(f"/api/v1/customers/{customer_id}/erase", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["erased"]["messages"] == 1
    with UnitOfWork(db) as uow:
        [m] = uow.session.scalars(sa.select(Message)).all()
        assert (m.address, m.subject, m.body_text, m.customer_id, m.status) == (None, None, None, None, "sent")
