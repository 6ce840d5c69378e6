"""Issue 13, worker pool: two `merx worker` processes share the relay's partitions, the durable
subscribers and the scheduled jobs; SIGKILL the one holding partitions and the other takes
its work over within the lease time (MERX_RELAY_LEASE_SECONDS=3 here): every event of the
dead worker's partitions still reaches the webhook receiver, the subscribers catch up and
due jobs run. Polls for each condition; no timing is asserted."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from merx.core.models import OutboxEvent, ScheduledJob, SubscriberCursor
from merx.core.uow import UnitOfWork


def _wait(condition: Callable[[], Any], what: str, workers: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")
        time.sleep(0.1)


def _owners(db) -> dict[int, str | None]:
    from merx.integration.models import RelayLease

    now = dt.datetime.now(dt.timezone.utc)
    with db.read_sessions() as s:
        rows = s.execute(sa.select(RelayLease.partition, RelayLease.owner, RelayLease.expires_at)).all()
    out = {}
    for p, owner, expires in rows:
        expires = expires.replace(tzinfo=dt.timezone.utc) if expires.tzinfo is None else expires
        out[p] = owner if owner and expires > now else None
    return out


def _pid_of(owner: str | None) -> int | None:
    return int(owner.split(":")[1]) if owner else None


def _product(db, sku: str) -> int:
    from merx.catalog.public import ProductCreate, bulk_create_products

    with UnitOfWork(db) as uow:
        bulk_create_products(uow, [ProductCreate(sku=sku, name=f"Pool product {sku}",
                                                 price={"currency": "EUR", "amount": "10.00"})])
    with db.read_sessions() as s:
        return int(s.scalar(sa.select(sa.func.max(OutboxEvent.seq))))


def _created_events(db, after_seq: int) -> dict[str, tuple[str, str]]:
    with db.read_sessions() as s:
        rows = s.execute(sa.select(OutboxEvent.id, OutboxEvent.aggregate_type, OutboxEvent.aggregate_id)
                         .where(OutboxEvent.seq > after_seq)).all()
    return {r.id: (r.aggregate_type, r.aggregate_id) for r in rows}


def _subscribers_caught_up(db, names: list[str]) -> bool:
    with db.read_sessions() as s:
        newest = int(s.scalar(sa.select(sa.func.max(OutboxEvent.seq))) or 0)
        cursors = dict(s.execute(sa.select(SubscriberCursor.name, SubscriberCursor.last_seq)
                                 .where(SubscriberCursor.name.in_(names))).all())
    return len(cursors) == len(names) and all(v >= newest for v in cursors.values())


@pytest.mark.backends("sqlite", "postgresql")
def test_two_workers_share_the_work_and_a_killed_ones_moves_to_the_other(db, receiver, workers):
    from merx.app import register_handlers
    from merx.core.events import bus
    from merx.integration import service
    from merx.integration.relay import partition_of
    from merx.integration.schemas import WebhookCreate

    register_handlers()
    subscriber_names = sorted(s.name for s in bus.durable_subscribers())
    with UnitOfWork(db) as uow:
        created = service.create_endpoint(uow, WebhookCreate(url=receiver.url, events=["product.*"]))
    receiver.secret = created.secret  # every delivery's signature is verified
    pool = workers()
    a, b = pool.start(), pool.start()

    # both hold a share of the partitions (ceil(16 / 2) at most each)
    def split() -> dict[int, str | None] | None:
        owners = _owners(db)
        pids = {_pid_of(o) for o in owners.values()}
        return owners if {a.pid, b.pid} <= pids and None not in owners.values() else None

    owners = _wait(split, "the two workers to split the partitions", pool)
    partitions = len(owners)
    held_by_a = {p for p, o in owners.items() if _pid_of(o) == a.pid}
    assert held_by_a and len(held_by_a) < partitions

    # work flows through both
    start_seq = _product(db, "POOL-0") - 1
    _wait(lambda: set(_created_events(db, start_seq)) <= receiver.ids(), "delivery before the kill", pool)

    pool.kill(a)
    killed_at = dt.datetime.now(dt.timezone.utc)
    # events in the dead worker's partitions, committed after its death
    after_kill_seq = _product(db, "POOL-1") - 1
    n = 2
    while True:
        events = _created_events(db, after_kill_seq)
        orphaned = [e for e, agg in events.items() if partition_of(*agg, partitions) in held_by_a]
        if len(orphaned) >= 2 or n > 40:
            break
        _product(db, f"POOL-{n}")
        n += 1
    assert len(orphaned) >= 2, "no event fell in the killed worker's partitions"

    # the survivor takes every partition once the dead worker's leases have expired ...
    _wait(lambda: {_pid_of(o) for o in _owners(db).values()} == {b.pid}, "the survivor to hold every partition", pool)
    # ... and delivers what the dead one would have
    _wait(lambda: set(events) <= receiver.ids(), "every event after the kill to reach the receiver", pool)
    # the durable subscribers (CRM, analytics, search...) are run by the survivor alone now
    _wait(lambda: _subscribers_caught_up(db, subscriber_names), "the durable subscribers to catch up", pool)

    # a job that comes due now is run by the survivor, the only runner left
    t = ScheduledJob.__table__

    def jobs_listed() -> bool:
        with db.read_sessions() as s:
            return bool(s.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.name == "core.purge_idempotency_keys")))

    _wait(jobs_listed, "the scheduler to list its jobs", pool)
    with db.write_sessions() as s:
        s.execute(sa.update(t).where(t.c.name == "core.purge_idempotency_keys")
                  .values(next_run_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        s.commit()

    def job_ran_after_kill() -> bool:
        with db.read_sessions() as s:
            row = s.execute(sa.select(t.c.last_run_at, t.c.lease_owner, t.c.last_status)
                            .where(t.c.name == "core.purge_idempotency_keys")).first()
        if row is None or row.last_run_at is None:
            return False
        ran = row.last_run_at.replace(tzinfo=dt.timezone.utc) if row.last_run_at.tzinfo is None else row.last_run_at
        return ran > killed_at and row.lease_owner is None and row.last_status == "succeeded"

    _wait(job_ran_after_kill, "the survivor to run the due job", pool)
    assert b.poll() is None, pool.logs()
    assert not receiver.bad_signatures
