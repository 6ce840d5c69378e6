"""Browse-abandonment and replenishment journeys with a controlled clock. Product views go in
through CRM's real event ingestion (the producer), orders through the outbox with the orders
context's classes; the mail is read from the real local SMTP server."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from marketing_shop import make_customers, seed_products
from order_events import order_placed

WARSAW = ZoneInfo("Europe/Warsaw")


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=WARSAW).astimezone(dt.timezone.utc)


def _emit(db, event):  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        uow.emit(event)
        uow.commit()


def _view(db, customer_id: int, sku: str, name: str, at: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm

    with UnitOfWork(db) as uow:
        result = crm.ingest_events(uow, [{"type": "product_view", "customer": {"customer_id": customer_id},
                                          "channel": "web", "timestamp": at.isoformat(),
                                          "properties": {"sku": sku, "name": name}}], now=at)
    assert result.accepted == 1, result


def _tick(db, settings, now):  # type: ignore[no-untyped-def]
    """The scheduler at `now`, twice: journeys queue, then the sender's turn comes."""
    from merx.app import build_scheduler
    from merx.core.jobs import run_due_jobs

    for at in (now, now + dt.timedelta(seconds=10)):
        runs = run_due_jobs(db, build_scheduler(), now=at, settings=settings)
        assert not [r for r in runs if not r.succeeded]


def _sent(db, customer_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.marketing.models import Message

    with UnitOfWork(db) as uow:
        return sorted(m.subject for m in uow.session.scalars(sa.select(Message).where(
            Message.customer_id == customer_id, Message.status == "sent", Message.kind == "marketing")))


@pytest.mark.backends("sqlite", "postgresql")
def test_browse_abandonment_reminds_viewers_who_did_not_buy_once_a_day_in_their_window(app, db, settings,
                                                                                        smtp_server):
    seed_products(db)
    viewer, buyer, browser, refuser = make_customers(db, 4, consent_every=1, refuse_every=4)
    _tick(db, settings, local(3, 9, 0))  # the built-in journeys exist (browse abandonment: 2 hours)
    _view(db, viewer, "KETTLE-1", "Steel Kettle", local(3, 10, 0))
    _view(db, buyer, "MUG-1", "Ceramic Mug", local(3, 10, 0))
    _view(db, browser, "KETTLE-1", "Steel Kettle", local(3, 10, 0))
    _view(db, browser, "MUG-1", "Ceramic Mug", local(3, 10, 5))  # a second product the same day
    _view(db, refuser, "MUG-1", "Ceramic Mug", local(3, 10, 0))
    _emit(db, order_placed(7001, buyer, [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}],
                           placed_at=local(3, 11, 0)))

    _tick(db, settings, local(3, 11, 30))  # enrolled, but the 2 hours are not over
    assert _sent(db, viewer) == []
    _tick(db, settings, local(3, 12, 10))  # 12:00 window, 2 hours after the views
    assert _sent(db, viewer) == ["Still thinking about Steel Kettle?"]
    assert _sent(db, browser) == ["Still thinking about Steel Kettle?"]  # one a day: the first product
    assert _sent(db, buyer) == [] and _sent(db, refuser) == []  # bought / no consent
    for now in (local(3, 12, 20), local(3, 18, 30), local(4, 8, 10)):
        _tick(db, settings, now)  # the job rereads recent views: nobody enters twice
    assert len(_sent(db, viewer)) == 1 and len(_sent(db, browser)) == 1

    got = [m for m in smtp_server.wait_for(3) if "Still thinking" in m["Subject"]]
    assert sorted(m["To"] for m in got) == ["p0@example.com", "p2@example.com"]
    body = next(m for m in got if m["To"] == "p0@example.com").get_body(("plain",)).get_content()
    assert "you were looking at Steel Kettle" in body and "/m/c/" in body  # the tracked product link
    assert got[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # a view at night is reminded in the next morning's window, not at 03:00
    _view(db, viewer, "MUG-1", "Ceramic Mug", local(5, 0, 30))
    _tick(db, settings, local(5, 3, 0))
    assert len(_sent(db, viewer)) == 1
    _tick(db, settings, local(5, 8, 5))
    assert _sent(db, viewer) == ["Still thinking about Ceramic Mug?", "Still thinking about Steel Kettle?"]


@pytest.mark.backends("sqlite", "postgresql")
def test_replenishment_reminds_after_the_days_of_its_sku_or_category_and_restarts_on_a_new_purchase(
        client, db, admin, settings, smtp_server):
    seed_products(db)
    first, second = make_customers(db, 2, prefix="r")
    bad = client.post("/api/v1/journeys", headers=admin, json={
        "key": "refill", "name": "Refill", "trigger": "replenishment",
        "steps": [{"wait_hours": 0, "template": "replenishment", "stop_if_purchased": True,
                   "replenish": [{"sku": "MUG-1", "days": 10}]}]})
    assert bad.status_code == 422 and "steps[0].stop_if_purchased" in bad.text
    bad = client.post("/api/v1/journeys", headers=admin, json={
        "key": "refill", "name": "Refill", "trigger": "replenishment",
        "steps": [{"wait_hours": 0, "template": "replenishment", "replenish": [{"days": 10}]}]})
    assert bad.status_code == 422 and "steps[0].replenish[0]" in bad.text
    r = client.post("/api/v1/journeys", headers=admin, json={
        "key": "refill", "name": "Refill", "trigger": "replenishment",
        "steps": [{"wait_hours": 0, "template": "replenishment",
                   "replenish": [{"sku": "MUG-1", "days": 10}, {"category": "kitchen", "days": 20}]}]})
    assert r.status_code == 201, r.text
    jid = r.json()["id"]

    lines = [{"sku": "MUG-1", "quantity": 2, "unit_price": "9.90", "category": "kitchen"},
             {"sku": "KETTLE-1", "quantity": 1, "unit_price": "35.90", "category": "kitchen"}]
    _emit(db, order_placed(8001, first, lines, placed_at=local(1, 10)))
    _emit(db, order_placed(8002, second, lines[:1], placed_at=local(1, 10)))
    _emit(db, order_placed(8003, second, lines[:1], placed_at=local(6, 10)))  # bought again: the wait restarts

    _tick(db, settings, local(11, 9, 0))  # 10 days minus an hour: nothing yet
    assert _sent(db, first) == []
    _tick(db, settings, local(11, 12, 5))
    assert _sent(db, first) == ["Time to restock Ceramic Mug?"]  # the SKU rule (10 days) beats the category's
    assert _sent(db, second) == []
    _tick(db, settings, local(16, 12, 5))
    assert _sent(db, second) == ["Time to restock Ceramic Mug?"]
    _tick(db, settings, local(21, 12, 5))  # the kettle: its category's 20 days
    assert _sent(db, first) == ["Time to restock Ceramic Mug?", "Time to restock Steel Kettle?"]
    assert len(_sent(db, second)) == 1

    states = {(e["customer_id"], e["reference"].split(":")[1], e["state"], e["exit_reason"])
              for e in client.get(f"/api/v1/journeys/{jid}/enrolments", headers=admin).json()["items"]}
    assert (second, "MUG-1", "exited", "bought again") in states
    mail = [m for m in smtp_server.wait_for(4) if "restock" in m["Subject"]]
    assert sorted(m["To"] for m in mail) == ["r0@example.com", "r0@example.com", "r1@example.com"]
    assert "your Ceramic Mug may be running low" in mail[0].get_body(("plain",)).get_content()
