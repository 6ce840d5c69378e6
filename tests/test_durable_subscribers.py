"""Durable subscribers (core/subscribers.py): fed from the outbox with a cursor each, at least
once and applied once (writes and cursor commit together), in commit order, with retries and
a dead-letter list that staff can see and retry."""

from __future__ import annotations

import collections
import random
import threading

import pytest
import sqlalchemy as sa

from merx.core.events import MessageBus, bus as global_bus
from merx.core.db import utcnow
from merx.core.models import AuditEntry, OutboxEvent, SubscriberCursor
from merx.core.subscribers import SubscriberRunner, reset_cursor
from merx.core.uow import UnitOfWork
from parcel_events import ParcelPicked, ParcelRegistered


def _emit(db, n: int, start: int = 1, aggregate: str | None = None) -> None:
    for i in range(start, start + n):
        with UnitOfWork(db) as uow:
            uow.emit(ParcelRegistered(parcel_id=aggregate or i, n=i), version=i)
            uow.commit()


def _count_into_audit(events, uow) -> None:
    """The projection under test: one audit row per event handled (a table every test empties)."""
    for e in events:
        uow.audit("parcel.counted", "parcel", e.payload["n"], after={"event_id": e.id})


def _counted(db) -> collections.Counter:
    with db.engine.connect() as conn:
        return collections.Counter(int(x) for x in conn.scalars(
            sa.select(AuditEntry.entity_id).where(AuditEntry.action == "parcel.counted")))


def _cursor(db, name: str) -> SubscriberCursor:
    with db.read_sessions() as s:
        c = s.get(SubscriberCursor, name)
        assert c is not None
        return c


@pytest.mark.backends("sqlite", "postgresql")
def test_a_batch_that_dies_midway_is_handled_again_and_each_event_counts_once(db):
    bus = MessageBus()
    calls: list[list[int]] = []
    crash = {"armed": True}

    def count(events, uow):
        calls.append([e.payload["n"] for e in events])
        _count_into_audit(events, uow)
        if crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("the worker died before its commit")

    bus.subscribe("parcel.*", count, batch=True, durable="test.parcels")
    _emit(db, 5)
    runner = SubscriberRunner(db, bus)
    assert runner.catch_up() == 5
    assert calls[0] == [1, 2, 3, 4, 5]  # one batch, rolled back with its cursor ...
    assert calls[1:] == [[1], [2], [3], [4], [5]]  # ... then redone event by event
    assert runner.catch_up() == 0  # a replay finds nothing left: nothing is applied twice
    assert _counted(db) == {n: 1 for n in range(1, 6)}
    assert _cursor(db, "test.parcels").last_seq == 5


@pytest.mark.backends("sqlite", "postgresql")
def test_a_handler_that_commits_itself_moves_the_cursor_in_that_same_commit(db):
    bus = MessageBus()

    def commit_then_die(events, uow):
        _count_into_audit(events, uow)
        uow.commit()
        raise RuntimeError("died right after its own commit")

    bus.subscribe("parcel.*", commit_then_die, batch=True, durable="test.parcels")
    _emit(db, 3)
    runner = SubscriberRunner(db, bus)
    runner.catch_up()
    runner.catch_up()
    assert _counted(db) == {1: 1, 2: 1, 3: 1}  # committed once, never handed over again
    assert _cursor(db, "test.parcels").last_seq == 3


@pytest.mark.backends("sqlite", "postgresql")
def test_two_runners_racing_on_one_subscriber_apply_each_event_once(db, settings):
    bus = MessageBus()
    bus.subscribe("parcel.*", _count_into_audit, batch=True, durable="test.parcels")
    _emit(db, 120)
    previous, db.settings = db.settings, settings.model_copy(update={"subscriber_batch_size": 7})
    try:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                SubscriberRunner(db, bus).catch_up(max_rounds=1000)
            except BaseException as e:  # noqa: BLE001 - reported by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        db.settings = previous
    assert errors == []
    assert _counted(db) == {n: 1 for n in range(1, 121)}


@pytest.mark.backends("sqlite", "postgresql")
def test_each_aggregate_s_events_arrive_in_order_from_concurrent_producers(db):
    bus = MessageBus()
    seen: list[tuple[str, int]] = []
    bus.subscribe("parcel.*", lambda events, uow: seen.extend((e.aggregate_id, e.aggregate_version) for e in events),
                  batch=True, durable="test.parcels")
    runner = SubscriberRunner(db, bus)

    def produce(thread_no: int) -> None:
        rng = random.Random(thread_no)
        for step in range(1, 9):
            for parcel in (f"{thread_no}-a", f"{thread_no}-b"):
                with UnitOfWork(db) as uow:
                    uow.emit(ParcelPicked(parcel_id=parcel, n=step), version=step)
                    uow.commit()
            if rng.random() < 0.5:
                runner.catch_up()  # consumers run while producers still commit

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runner.catch_up()
    by_parcel: dict[str, list[int]] = collections.defaultdict(list)
    for parcel, version in seen:
        by_parcel[parcel].append(version)
    assert len(by_parcel) == 6
    assert all(v == list(range(1, 9)) for v in by_parcel.values()), by_parcel


@pytest.mark.backends("postgresql")
def test_a_subscriber_never_passes_a_row_whose_transaction_is_still_open(db):
    bus = MessageBus()
    seen: list[int] = []
    bus.subscribe("parcel.*", lambda events, uow: seen.extend(e.payload["n"] for e in events), batch=True,
                  durable="test.parcels")
    runner = SubscriberRunner(db, bus)
    slow = UnitOfWork(db)
    slow.__enter__()
    try:
        slow.emit(ParcelRegistered(parcel_id="slow", n=0), version=1)
        slow.flush_records()  # seq 1 taken, not committed
        _emit(db, 3)  # seqs 2..4 commit first
        runner.catch_up()
        assert seen == []  # 1 may still commit: nothing after it is handed over
        slow.commit()
    finally:
        slow.__exit__(None, None, None)
    runner.catch_up()
    assert seen == [0, 1, 2, 3]  # commit order is seq order, the late row first


@pytest.mark.backends("sqlite", "postgresql")
def test_an_event_that_keeps_failing_is_dead_lettered_shown_and_retried(db, client, admin, make_key, settings):
    settings.subscriber_max_attempts = 3
    settings.subscriber_retry_base_seconds = 0.0
    broken = {"n": 2}

    def picky(events, uow):
        for e in events:
            if e.payload["n"] == broken["n"]:
                raise ValueError(f"cannot count parcel {e.payload['n']}")
        _count_into_audit(events, uow)

    global_bus.subscribe("parcel.*", picky, batch=True, durable="test.picky")
    try:
        _emit(db, 3)  # inline mode: each commit catches the subscriber up (and tries 2 again)
        assert _counted(db) == {1: 1}  # 3 waits behind 2: commit order is kept
        assert _cursor(db, "test.picky").attempts == 2
        SubscriberRunner(db, global_bus).catch_up(["test.picky"])  # the third try parks it
        assert _counted(db) == {1: 1, 3: 1}  # ... and the subscriber goes on

        assert client.get("/api/v1/subscribers", headers=make_key("staff")).status_code == 403
        body = client.get("/api/v1/subscribers", headers=admin).json()
        sub = next(s for s in body["subscribers"] if s["name"] == "test.picky")
        assert sub["dead_letters"] == 1 and sub["lag"] == 0 and sub["registered"]
        [letter] = [d for d in body["dead_letters"] if d["subscriber"] == "test.picky"]
        assert letter["attempts"] == 3 and "cannot count parcel 2" in letter["error"] and letter["status"] == "dead"

        again = client.post(f"/api/v1/subscribers/dead-letters/{letter['id']}/retry", headers=admin)
        assert again.status_code == 200 and again.json()["status"] == "dead" and again.json()["attempts"] == 4

        broken["n"] = None  # the bug is fixed
        fixed = client.post(f"/api/v1/subscribers/dead-letters/{letter['id']}/retry", headers=admin)
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["status"] == "retried"
        assert _counted(db) == {1: 1, 2: 1, 3: 1}
        twice = client.post(f"/api/v1/subscribers/dead-letters/{letter['id']}/retry", headers=admin)
        assert twice.status_code == 409 and twice.headers["content-type"].startswith("application/problem+json")
        assert client.post("/api/v1/subscribers/dead-letters/999999/retry", headers=admin).status_code == 404
        assert client.get("/api/v1/subscribers", headers=admin).json()["dead_letters"] == []
    finally:
        global_bus.unsubscribe_durable("test.picky")


@pytest.mark.backends("sqlite", "postgresql")
def test_a_reset_cursor_hands_the_whole_outbox_over_again(db):
    bus = MessageBus()
    bus.subscribe("parcel.*", _count_into_audit, batch=True, durable="test.parcels")
    _emit(db, 4)
    runner = SubscriberRunner(db, bus)
    runner.catch_up()
    with db.engine.begin() as conn:  # the owner clears its projection before a rebuild
        conn.execute(sa.delete(AuditEntry).where(AuditEntry.action == "parcel.counted"))
    assert reset_cursor(db, "test.parcels") == 4
    assert runner.catch_up() == 4
    assert _counted(db) == {n: 1 for n in range(1, 5)}


def test_a_durable_subscriber_must_take_batches_and_one_name_one_handler():
    bus = MessageBus()
    with pytest.raises(ValueError):
        bus.subscribe("parcel.*", lambda event, uow: None, durable="test.single")
    bus.subscribe(ParcelRegistered, _count_into_audit, batch=True, durable="test.parcels")
    with pytest.raises(ValueError):
        bus.subscribe(ParcelPicked, lambda events, uow: None, batch=True, durable="test.parcels")


def test_the_cli_lists_subscribers_and_dead_letters_and_retries_one(tmp_path):
    """`merx subscribers ...` as an operator runs it, against a shop whose analytics subscriber
    parked a malformed order event."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from merx.app import register_handlers
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.settings import Settings

    register_handlers()
    db = Database(f"sqlite:///{tmp_path / 'merx.db'}")
    migrate.upgrade(db)
    db.settings = Settings(data_dir=tmp_path, subscriber_max_attempts=1)
    try:
        # An outbox row no handler can read (as an older release might have written it; a typed
        # emit refuses such a payload), committed and not yet handled by anyone.
        with db.engine.begin() as conn:
            conn.execute(sa.insert(OutboxEvent.__table__).values(
                id="01BADPAYLOAD0000000000000A", type="order.placed", aggregate_type="order", aggregate_id="1",
                aggregate_version=1, schema_version=1, occurred_at=utcnow(),
                payload={"order_id": 1, "currency": "EUR", "customer_id": None,
                         "lines": [{"sku": "X", "quantity": "two", "unit_price": "1"}]}))
        SubscriberRunner(db, global_bus).catch_up(["analytics.sales"])
    finally:
        db.dispose()

    def merx(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MERX_DATA_DIR": str(tmp_path), "MERX_LOG_LEVEL": "WARNING"}
        env.pop("MERX_DATABASE_URL", None)
        return subprocess.run([str(Path(sys.executable).parent / "merx"), "subscribers", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    listed = {row["name"]: row for row in map(json.loads, merx("list").stdout.splitlines())}
    assert listed["analytics.sales"]["dead_letters"] == 1 and listed["analytics.sales"]["lag"] == 0
    assert listed["crm.orders"]["registered"] and listed["crm.orders"]["last_seq"] is None  # never ran yet
    [letter] = map(json.loads, merx("dead-letters").stdout.splitlines())
    assert letter["subscriber"] == "analytics.sales" and "two" in letter["error"]
    again = merx("retry", str(letter["id"]))
    assert again.returncode == 1 and "failed again" in again.stderr  # the event is still malformed
    assert merx("retry", "999").returncode == 1
    reset = merx("reset", "analytics.sales", "--to", "0")
    assert reset.returncode == 0, reset.stderr
    assert {r["name"]: r for r in map(json.loads, merx("list").stdout.splitlines())}["analytics.sales"]["lag"] == 1
