"""Done-when: events committed while `merx worker` processes are SIGKILLed and restarted reach
a real HTTP receiver at least once, every signature verifies (standardwebhooks), and after
dedup by id each aggregate's events arrive in order."""

from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa

from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from parcel_events import ParcelDelivered, ParcelInTransit, ParcelPicked, ParcelRegistered

ORDERS_PER_THREAD = 15
STEPS = (ParcelRegistered, ParcelPicked, ParcelInTransit, ParcelDelivered)


def _produce(db, thread_no: int) -> None:
    """Moves aggregates through a four-step life cycle like an order's, several interleaved, from
    several threads at once (so PostgreSQL commits seqs out of order). A neutral "parcel"
    aggregate stands in for orders so that other contexts' order handlers are not fed fakes."""
    rng = random.Random(thread_no)
    open_orders: dict[int, int] = {}
    next_id = thread_no * 100_000
    placed = 0
    while placed < ORDERS_PER_THREAD or open_orders:
        if placed < ORDERS_PER_THREAD and (len(open_orders) < 5 or rng.random() < 0.3):
            next_id += 1
            order_id, step = next_id, 0
            placed += 1
        else:
            order_id = rng.choice(list(open_orders))
            step = open_orders[order_id]
        with UnitOfWork(db) as uow:
            uow.emit(STEPS[step](parcel_id=order_id, step=step), version=step + 1)
            if rng.random() < 0.05:
                uow.rollback()  # an abandoned transaction leaves a hole in the seq on PostgreSQL
            else:
                uow.commit()
                step += 1
        if step >= len(STEPS):
            open_orders.pop(order_id, None)
        else:
            open_orders[order_id] = step
        time.sleep(rng.random() * 0.01)


def _diagnose(db) -> str:
    with db.engine.connect() as conn:
        deliveries = conn.execute(sa.text("SELECT status, count(*) FROM integration_webhook_deliveries GROUP BY status")).all()
        errors = conn.execute(sa.text("SELECT outcome, status_code, error FROM integration_webhook_attempts "
                                      "WHERE outcome <> 'succeeded' LIMIT 5")).all()
        cursors = conn.execute(sa.text("SELECT partition, last_seq, retry_at FROM integration_relay_cursors")).all()
        leases = conn.execute(sa.text("SELECT partition, owner, expires_at FROM integration_relay_leases")).all()
    return f"deliveries={deliveries} errors={errors} cursors={cursors} leases={leases}"


@pytest.mark.backends("sqlite", "postgresql")
def test_sigkilled_workers_lose_nothing_and_keep_order(db, client, admin, receiver, workers):
    r = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["parcel.*"]}, headers=admin)
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    # a few transient failures force retries (and duplicates after kills) on top of the kills
    receiver.status_for = lambda event_id, attempt: 503 if attempt == 1 and hash(event_id) % 17 == 0 else 200

    pool = workers()
    pool.start()
    pool.start()
    threads = [threading.Thread(target=_produce, args=(db, n)) for n in range(1, 4)]
    for t in threads:
        t.start()
    rng = random.Random(7)
    kills = 0
    while any(t.is_alive() for t in threads) or kills < 4:
        time.sleep(rng.uniform(0.8, 1.6))
        alive = pool.alive()
        if alive:
            pool.kill(rng.choice(alive))
            kills += 1
        pool.start()
    for t in threads:
        t.join()

    with db.engine.connect() as conn:
        expected = {row.id: row for row in conn.execute(sa.select(OutboxEvent.id, OutboxEvent.aggregate_id,
                                                                   OutboxEvent.aggregate_version))}
    assert len(expected) > ORDERS_PER_THREAD * 3 * 3  # every order went through all steps, minus rollbacks
    deadline = time.time() + 90
    while time.time() < deadline and not set(expected) <= receiver.ids():
        time.sleep(0.2)
    missing = set(expected) - receiver.ids()
    assert not missing, f"{len(missing)} events never arrived; {_diagnose(db)}; worker logs:\n{pool.logs()}"
    assert kills >= 4
    assert receiver.bad_signatures == []
    assert receiver.concurrent_duplicates == []

    first_seen: dict[str, dict] = {}
    for event in receiver.received:
        first_seen.setdefault(event["id"], event)
    versions: dict[str, list[int]] = {}
    for event in first_seen.values():  # dict keeps first-arrival order
        versions.setdefault(event["aggregate"]["id"], []).append(event["aggregate"]["version"])
    for order_id, seen in versions.items():
        assert seen == list(range(1, len(STEPS) + 1)), (order_id, seen)
    assert set(first_seen) == set(expected)
