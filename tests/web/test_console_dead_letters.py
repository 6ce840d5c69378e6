"""The dead letters page: an admin sees the durable subscribers and the events they parked,
retries one once the cause is fixed, discards another with a reason (also through the new
`POST /api/v1/subscribers/dead-letters/{id}/discard`), and nobody else may."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from merx.core.events import bus as global_bus
from merx.core.models import AuditEntry
from merx.core.subscribers import SubscriberRunner
from merx.core.uow import UnitOfWork
from parcel_events import ParcelRegistered
from tests.web.conftest import csrf_of, form_sign_in as sign_in


@pytest.fixture
def parked(db, settings):  # type: ignore[no-untyped-def]
    """A subscriber that fails on parcels 2 and 3 until `broken` is emptied: two dead letters."""
    settings.subscriber_max_attempts = 2
    settings.subscriber_retry_base_seconds = 0.0
    broken = {2, 3}

    def picky(events, uow):  # type: ignore[no-untyped-def]
        for e in events:
            if e.payload["n"] in broken:
                raise ValueError(f"cannot count parcel {e.payload['n']}")
            uow.audit("parcel.counted", "parcel", e.payload["n"], after={"event_id": e.id})

    global_bus.subscribe("parcel.*", picky, batch=True, durable="test.console_picky")
    try:
        for n in (1, 2, 3):
            with UnitOfWork(db) as uow:
                uow.emit(ParcelRegistered(parcel_id=n, n=n), version=n)
                uow.commit()
        SubscriberRunner(db, global_bus).catch_up(["test.console_picky"])
        yield broken
    finally:
        global_bus.unsubscribe_durable("test.console_picky")


def _counted(db) -> list[int]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return sorted(int(x) for x in conn.scalars(sa.select(AuditEntry.entity_id)
                                                   .where(AuditEntry.action == "parcel.counted")))


def _letter_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="letter-(\d+)">', html)]


@pytest.mark.backends("sqlite", "postgresql")
def test_admin_retries_a_fixed_letter_and_discards_another_with_a_reason(db, client, shop, parked):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/dead-letters")
    assert page.status_code == 200 and "test.console_picky" in page.text
    assert "cannot count parcel 2" in page.text and "cannot count parcel 3" in page.text
    newest, oldest = _letter_ids(page.text)  # newest first: parcel 3, then parcel 2
    assert newest > oldest
    r = client.post(f"/console/dead-letters/{oldest}/retry", data={"csrf_token": csrf_of(page.text)},
                    follow_redirects=True)
    assert f"Dead letter {oldest} failed again" in r.text  # the bug is not fixed yet
    parked.discard(2)
    r = client.post(f"/console/dead-letters/{oldest}/retry", data={"csrf_token": csrf_of(r.text)},
                    follow_redirects=True)
    assert f"Dead letter {oldest} handled" in r.text and _counted(db) == [1, 2]
    long = client.post(f"/console/dead-letters/{newest}/discard",
                       data={"csrf_token": csrf_of(r.text), "reason": "x" * 501})
    assert long.status_code == 422 and re.search(rf'data-field="reason{newest}"[^>]*>is at most 500', long.text)
    r = client.post(f"/console/dead-letters/{newest}/discard",
                    data={"csrf_token": csrf_of(r.text), "reason": "parcel 3 was a test record"},
                    follow_redirects=True)
    assert f"Dead letter {newest} discarded" in r.text
    assert _letter_ids(r.text) == []  # nothing waits any more
    everything = client.get("/console/dead-letters?show=all").text
    assert _letter_ids(everything) == [newest, oldest] and "discarded" in everything and "retried" in everything
    again = client.post(f"/console/dead-letters/{newest}/discard", data={"csrf_token": csrf_of(r.text)},
                        follow_redirects=True)
    assert "Not discarded" in again.text and "already discarded" in again.text
    assert _counted(db) == [1, 2]  # a discarded event is never handled
    audit = client.get("/console/audit-log?action=subscriber.dead_letter_discarded").text
    assert "parcel 3 was a test record" in audit and "Admin" in audit


@pytest.mark.backends("sqlite", "postgresql")
def test_bulk_retry_counts_what_went_through_and_what_failed_again(db, client, shop, parked):
    parked.discard(3)  # parcel 3's cause is fixed, parcel 2's is not
    sign_in(client, shop.users["admin"])
    page = client.get("/console/dead-letters").text
    ids = _letter_ids(page)
    r = client.post("/console/dead-letters/bulk", data={"csrf_token": csrf_of(page), "id": ids, "action": "retry"},
                    follow_redirects=True)
    assert "1 handled, 1 failed again." in r.text
    assert _counted(db) == [1, 3] and len(_letter_ids(r.text)) == 1


def test_discard_api_is_admin_only_names_a_bad_reason_and_refuses_twice(db, client, shop, parked, admin, make_key):
    letters = client.get("/api/v1/subscribers", headers=admin).json()["dead_letters"]
    letter = next(d for d in letters if d["subscriber"] == "test.console_picky")
    url = f"/api/v1/subscribers/dead-letters/{letter['id']}/discard"
    assert client.post(url, headers=make_key("staff"), json={}).status_code == 403
    bad = client.post(url, headers=admin, json={"reason": "x" * 501})
    assert bad.status_code == 422 and "reason" in bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    done = client.post(url, headers={**admin, "Idempotency-Key": "discard-1"}, json={"reason": "test data"})
    assert done.status_code == 200 and done.json()["status"] == "discarded" and done.json()["resolved_at"]
    replay = client.post(url, headers={**admin, "Idempotency-Key": "discard-1"}, json={"reason": "test data"})
    assert replay.status_code == 200 and replay.json()["status"] == "discarded"  # the same answer, once
    twice = client.post(url, headers=admin, json={})
    assert twice.status_code == 409 and twice.headers["content-type"].startswith("application/problem+json")
    assert client.post("/api/v1/subscribers/dead-letters/999999/discard", headers=admin).status_code == 404
    waiting = client.get("/api/v1/subscribers", headers=admin).json()
    assert letter["id"] not in [d["id"] for d in waiting["dead_letters"]]


def test_only_admins_open_the_dead_letters_page(client, shop, parked):
    for role in ("staff", "support_agent"):
        sign_in(client, shop.users[role])
        assert client.get("/console/dead-letters").status_code == 403, role
        page = client.get("/console").text
        r = client.post("/console/dead-letters/bulk", data={"csrf_token": csrf_of(page), "id": ["1"],
                                                              "action": "discard"})
        assert r.status_code == 403, role
