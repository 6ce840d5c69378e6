"""The abandoned-cart journey with a controlled clock (run_due_jobs(now=...)): a reminder
after N hours inside the recipient's send window, none after a purchase, none twice, none
at 03:00 local time, none beyond the daily cap. Events are built with the orders context's
classes and go through the outbox to marketing's durable subscriber."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from marketing_shop import make_customers
from order_events import order_placed

WARSAW = ZoneInfo("Europe/Warsaw")


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=WARSAW).astimezone(dt.timezone.utc)


def _emit(db, event, at: dt.datetime):  # type: ignore[no-untyped-def]
    """Commits the event as its producer would have at `at`: a transactional mail it calls for
    is due from then, whatever the real clock says."""
    from merx.core.db import simulated_clock
    from merx.core.uow import UnitOfWork

    with simulated_clock(at), UnitOfWork(db) as uow:
        uow.emit(event)
        uow.commit()


def _abandon(db, customer_id: int, cart_id: int, at: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    from merx.orders.events import CartAbandoned

    _emit(db, CartAbandoned(cart_id=cart_id, customer_id=customer_id, email=None, currency="EUR", total="35.90",
                            last_activity_at=at), at)


def _tick(db, app, settings, now):  # type: ignore[no-untyped-def]
    from merx.app import build_scheduler
    from merx.core.jobs import run_due_jobs

    runs = run_due_jobs(db, build_scheduler(), now=now, settings=settings)
    failed = [r for r in runs if not r.succeeded]
    assert not failed, failed


def _sent(db, customer_id: int) -> list[tuple[str, dt.datetime]]:  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.marketing.models import Message

    with UnitOfWork(db) as uow:
        return [(m.template_key, m.sent_at) for m in uow.session.scalars(
            sa.select(Message).where(Message.customer_id == customer_id, Message.status == "sent",
                                     Message.kind == "marketing"))]


def _journey_state(db, customer_id: int) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.marketing.models import JourneyEnrolment

    with UnitOfWork(db) as uow:
        e = uow.session.scalar(sa.select(JourneyEnrolment).where(JourneyEnrolment.customer_id == customer_id))
        return e.state, e.exit_reason


@pytest.mark.backends("sqlite", "postgresql")
def test_abandoned_cart_reminder_waits_for_the_window_stops_on_purchase_and_respects_the_cap(
        app, db, settings, smtp_server):
    late, buyer, capped, refuser = make_customers(db, 4, consent_every=1)
    from merx.core.uow import UnitOfWork
    from merx.crm.models import Consent

    with UnitOfWork(db) as uow:  # the fourth withdrew consent later (the latest record wins)
        uow.session.add(Consent(customer_id=refuser, channel="email", granted=False, source="preference centre",
                                recorded_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)))
        uow.commit()
    _tick(db, app, settings, local(3, 19, 0))  # creates the built-in journeys (abandoned cart: 4 hours)

    # 20:30 local: carts abandoned; the buyer orders an hour later
    for cid, cart in ((late, 1), (buyer, 2), (capped, 3), (refuser, 4)):
        _abandon(db, cid, cart, local(3, 20, 30))
    _emit(db, order_placed(9001, buyer, [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}],
                           placed_at=local(3, 21, 30)), local(3, 21, 30))
    assert _journey_state(db, buyer) == ("exited", "purchased")

    # 00:30 local: 4 hours have passed; the reminder is queued but it is night
    _tick(db, app, settings, local(4, 0, 30))
    _tick(db, app, settings, local(4, 3, 0))
    assert _sent(db, late) == []  # none at 03:00 local time
    assert [m["Subject"] for m in smtp_server.wait_for(1)] == ["Your order M-9001 is confirmed"]  # transactional only

    # the capped customer gets another marketing message (a newsletter) in the 08:00 window,
    # ahead of the reminder: the reminder must then wait for the next local day
    from merx.marketing.messages import insert_rows
    with UnitOfWork(db) as uow:
        insert_rows(uow, [{"idem_key": "campaign:0:capped", "kind": "marketing", "channel": "email",
                           "customer_id": capped, "address": "p2@example.com", "locale": "en",
                           "template_key": "newsletter", "subject": "Earlier news", "body_text": "News",
                           "body_html": None, "status": "queued", "due_at": local(4, 0, 0), "attempts": 0,
                           "created_at": local(4, 0, 0)}])
        uow.commit()
    with UnitOfWork(db) as uow:
        from merx.marketing.models import Message
        uow.session.execute(sa.update(Message).where(Message.customer_id == capped, Message.template_key ==
                                                     "abandoned_cart").values(due_at=local(4, 8, 1)))
        uow.commit()

    _tick(db, app, settings, local(4, 8, 0))  # 08:00 local: inside the first window
    assert [t for t, _ in _sent(db, late)] == ["abandoned_cart"]
    assert [t for t, _ in _sent(db, capped)] == ["newsletter"]
    _tick(db, app, settings, local(4, 8, 5))  # the capped reminder is due, but today's one is used up
    assert [t for t, _ in _sent(db, capped)] == ["newsletter"]
    _tick(db, app, settings, local(4, 12, 10))  # 12:00 window: still the same local day, still capped
    _tick(db, app, settings, local(4, 19, 0))
    assert [t for t, _ in _sent(db, capped)] == ["newsletter"]
    _tick(db, app, settings, local(5, 3, 0))  # the next day, but at night
    assert [t for t, _ in _sent(db, capped)] == ["newsletter"]
    _tick(db, app, settings, local(5, 8, 0))
    assert sorted(t for t, _ in _sent(db, capped)) == ["abandoned_cart", "newsletter"]

    # none twice, none to the buyer, none without consent; nothing ever sent at night
    for hour in (9, 12, 18, 23):
        _tick(db, app, settings, local(5, hour, 30))
    assert [t for t, _ in _sent(db, late)] == ["abandoned_cart"]
    assert _sent(db, buyer) == [] and _sent(db, refuser) == []
    received = [m for m in smtp_server.wait_for(4) if "M-9001" not in m["Subject"]]
    assert sorted(m["To"] for m in received) == ["p0@example.com", "p2@example.com", "p2@example.com"]
    for _, at in _sent(db, late) + _sent(db, capped):
        hour = at.astimezone(WARSAW).hour
        assert 8 <= hour < 21
    reminder = next(m for m in received if m["To"] == "p0@example.com")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder["List-Unsubscribe"].startswith("<http")


def test_send_windows_and_quiet_hours_rule():
    from merx.marketing import rules

    policy = rules.policy_from("08:00-09:00,12:00-13:00,18:00-20:00", "21:00-08:00", 1, {})
    cases = {  # local now -> local time of the next allowed moment
        (3, 3, 0): (3, 8, 0), (3, 8, 30): (3, 8, 30), (3, 9, 0): (3, 12, 0), (3, 13, 0): (3, 18, 0),
        (3, 19, 59): (3, 19, 59), (3, 20, 0): (4, 8, 0), (3, 23, 0): (4, 8, 0)}
    for (d, h, m), (ed, eh, em) in cases.items():
        got = policy.next_send_time(local(d, h, m), WARSAW)
        assert got == local(ed, eh, em), ((d, h, m), got.astimezone(WARSAW))
    # quiet hours stricter than a window: a window 07:00-09:00 opens at 08:00 only
    strict = rules.policy_from("07:00-09:00", "22:00-08:00", 1, {})
    assert strict.next_send_time(local(3, 6, 0), WARSAW) == local(3, 8, 0)
    # the strictest cap applies
    capped = rules.policy_from("08:00-09:00", "", 3, {"sms": 1})
    assert capped.cap_for("sms") == 1 and capped.cap_for("email") == 3


def test_win_back_journey_from_a_segment_through_the_api(client, db, admin, settings, smtp_server):
    """A journey created through the API on a CRM segment (e.g. RFM "At risk"): members enter
    once per month, get the step's message in their window; positions are listed per person."""
    from marketing_shop import static_segment

    ids = make_customers(db, 3, prefix="risk")
    segment = static_segment(db, "At risk", ids[:2])
    r = client.post("/api/v1/journeys", headers=admin, json={
        "key": "win_back_at_risk", "name": "Win-back", "trigger": "segment", "segment_id": segment,
        "steps": [{"wait_hours": 0, "template": "win_back"}]})
    assert r.status_code == 201, r.text
    jid = r.json()["id"]
    bad = client.post("/api/v1/journeys", headers=admin, json={"key": "x", "name": "x", "trigger": "segment",
                                                              "steps": [{"wait_hours": 1, "template": "win_back"}]})
    assert bad.status_code == 422 and "segment_id" in bad.text
    for hour in (12, 13):  # the job runs twice: nobody enters twice, nobody gets two messages
        _tick(db, None, settings, local(7, hour, 10))
    page = client.get(f"/api/v1/journeys/{jid}/enrolments", headers=admin, params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = client.get(f"/api/v1/journeys/{jid}/enrolments", headers=admin,
                      params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert {e["customer_id"] for e in page["items"] + rest["items"]} == set(ids[:2])
    assert all(e["state"] == "completed" for e in page["items"] + rest["items"])
    got = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in got) == ["risk0@example.com", "risk1@example.com"]
    assert all(m["Subject"] == "We miss you" for m in got)
