"""Done-when: orders, returns and customer merges are committed through the real services while
the only process running the durable subscribers (`merx worker`) is SIGKILLed and restarted
again and again. Afterwards every projection (CRM order facts, timeline and profile stats,
loyalty points, analytics sales lines) matches the source and a rebuild from the outbox, and no
event was applied twice."""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from decimal import ROUND_DOWN, Decimal

import pytest
import sqlalchemy as sa

from merx.core.models import OutboxEvent, SubscriberCursor

SUBSCRIBERS = ("crm.orders", "crm.identities", "analytics.sales")
TIMELINE_TYPES = ("order.placed", "order.paid", "order.cancelled", "order.refunded", "order.returned",
                  "order.fulfilled")
PRICE = Decimal("12.50")


def _caught_up(db) -> bool:
    with db.read_sessions() as s:
        newest = int(s.scalar(sa.select(sa.func.max(OutboxEvent.seq))) or 0)
        cursors = dict(s.execute(sa.select(SubscriberCursor.name, SubscriberCursor.last_seq)
                                 .where(SubscriberCursor.name.in_(SUBSCRIBERS))).all())
    return len(cursors) == len(SUBSCRIBERS) and all(v >= newest for v in cursors.values())


def _applied(db) -> int:
    """Rows the subscribers' handlers have written so far (grows with each committed batch)."""
    with db.engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT (SELECT count(*) FROM crm_events) "
                                        "+ (SELECT count(*) FROM analytics_sales_lines)")) or 0)


def _projections(db) -> dict[str, object]:
    """What the subscribers built, in comparable form."""
    with db.engine.connect() as conn:
        facts = {r.order_id: (r.customer_id, r.total_minor, r.refunded_minor, r.status) for r in conn.execute(sa.text(
            "SELECT order_id, customer_id, total_minor, refunded_minor, status FROM crm_order_facts"))}
        lines = {r.line_key: (r.kind, r.quantity, str(Decimal(str(r.unit_price)).normalize()), r.customer_id)
                 for r in conn.execute(sa.text(
                     "SELECT line_key, kind, quantity, unit_price, customer_id FROM analytics_sales_lines"))}
        timeline = collections.Counter()
        for customer_id, properties in conn.execute(sa.text(
                "SELECT customer_id, properties FROM crm_events WHERE type LIKE 'order_%'")):
            props = properties if isinstance(properties, dict) else json.loads(properties)
            timeline[(customer_id, int(props["order_id"]))] += 1
    return {"facts": facts, "lines": lines, "timeline": timeline}


@pytest.mark.backends("sqlite", "postgresql")
def test_sigkilled_worker_loses_no_reaction_and_applies_none_twice(db, tmp_path, workers, make_key):
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.core.events import bus
    from merx.core.settings import Settings
    from merx.core.subscribers import SubscriberRunner, reset_cursor
    from merx.core.uow import UnitOfWork

    admin = make_key("admin")
    # This process commits like `merx serve` with MERX_EMBEDDED_WORKER=off: reactions are left
    # to the worker subprocesses alone.
    settings = Settings(data_dir=tmp_path / "data", log_level="WARNING", event_handlers="background",
                        embedded_worker="off")
    pool = workers(MERX_SUBSCRIBER_POLL_SECONDS="0.05", MERX_SUBSCRIBER_BATCH_SIZE="5",
                   MERX_SUBSCRIBER_RETRY_BASE_SECONDS="0.05")
    rng = random.Random(12)
    try:
        with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
            assert client.post("/api/v1/locations", json={"code": "wh", "name": "Warehouse", "kind": "warehouse",
                                                               "accepts_returns": True},
                               headers=admin).status_code == 201
            with UnitOfWork(db) as uow:
                catalog.create_product(uow, ProductCreate(sku="MUG-1", name="Mug",
                                                          price={"currency": "EUR", "amount": str(PRICE)}))
            assert client.post("/api/v1/inventory/adjustments", headers=admin, json={
                "sku": "MUG-1", "location": "wh", "delta": 10_000, "reason": "receipt"}).status_code == 200
            r = client.post("/api/v1/loyalty/programs", headers=admin, json={
                "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.01",
                "tiers": [{"name": "member", "threshold": 0}]})
            assert r.status_code == 201, r.text
            customers = []
            for i in range(8):
                r = client.post("/api/v1/customers", json={"email": f"c{i}@example.com"}, headers=admin)
                assert r.status_code == 201, r.text
                customers.append(r.json()["id"])

            ordered: dict[int, int] = {}  # order id -> quantity
            returned: dict[int, int] = collections.Counter()
            merged: list[tuple[int, int]] = []

            failures: list[BaseException] = []

            def produce() -> None:
                try:
                    _produce()
                except BaseException as e:  # noqa: BLE001 - the test fails on it below
                    failures.append(e)

            def _produce() -> None:
                for step in range(36):
                    live = [c for c in customers if c not in {d for _, d in merged}]
                    qty = rng.randint(1, 3)
                    r = client.post("/api/v1/orders", headers=admin, json={
                        "channel": "web", "customer": {"id": rng.choice(live)},
                        "lines": [{"sku": "MUG-1", "quantity": qty}],
                        "payment": {"provider": "test", "behaviour": "succeed"}})
                    assert r.status_code == 201, r.text
                    order_id = r.json()["id"]
                    ordered[order_id] = qty
                    if step % 4 == 1:  # fulfilled, then one unit comes back and is refunded
                        assert client.post(f"/api/v1/orders/{order_id}/fulfil", headers=admin,
                                           json={"carrier": "dhl", "tracking_number": f"T{order_id}"}).status_code == 200
                        r = client.post(f"/api/v1/orders/{order_id}/returns", headers=admin,
                                        json={"lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]})
                        assert r.status_code == 201, r.text
                        r = client.post(f"/api/v1/returns/{r.json()['id']}/receive", headers=admin,
                                        json={"location": "wh"})
                        assert r.status_code == 200, r.text
                        returned[order_id] += 1
                    if step % 9 == 8:  # two profiles found to be one person
                        keep, dupe = rng.sample([c for c in customers if c not in {d for _, d in merged}], 2)
                        r = client.post(f"/api/v1/customers/{keep}/merge", json={"duplicate_id": dupe}, headers=admin)
                        assert r.status_code == 200, r.text
                        merged.append((keep, dupe))
                    time.sleep(rng.uniform(0.02, 0.12))

            producer = threading.Thread(target=produce)
            producer.start()
            kills = 0
            while producer.is_alive() or kills < 6:
                # a worker is killed while it is working through a backlog: a moment after its
                # first batch committed, so the kill lands inside or between its transactions
                proc = pool.start()
                before, started = _applied(db), time.time()
                while time.time() - started < 20 and _applied(db) == before and not _caught_up(db):
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.06))
                pool.kill(proc)
                kills += 1
            pool.start()  # the last one finishes the work
            producer.join()
            assert failures == []
            deadline = time.time() + 120
            while time.time() < deadline and not _caught_up(db):
                time.sleep(0.2)
            assert _caught_up(db), f"subscribers never caught up; worker logs:\n{pool.logs()}"
            pool.stop_all()
            assert kills >= 6

            orders = {oid: client.get(f"/api/v1/orders/{oid}", headers=admin).json() for oid in ordered}
            loyalty = {c: sum(a["balance"] for a in client.get(f"/api/v1/customers/{c}/loyalty",
                                                                headers=admin).json()["accounts"])
                       for c in customers}
    finally:
        bus.configure(background=False)

    live = _projections(db)
    # -- against the source ------------------------------------------------------------------------
    assert set(live["facts"]) == set(ordered)
    for oid, order in orders.items():
        customer_id, total_minor, _refunded, _status = live["facts"][oid]
        assert customer_id == order["customer_id"]  # merged customers' orders follow the survivor
        assert total_minor == int(Decimal(order["totals"]["total"]) * 100)
    sold = collections.Counter()
    back = collections.Counter()
    for key, (kind, quantity, _price, _customer) in live["lines"].items():
        oid = int(key.split(":")[0])
        (sold if kind == "sale" else back)[oid] += quantity
    assert sold == collections.Counter(ordered)  # each order's lines once, not twice
    assert {k: -v for k, v in back.items()} == {k: v for k, v in returned.items()}
    with db.engine.connect() as conn:
        outbox = collections.Counter(int(p["order_id"]) for t, p in conn.execute(
            sa.select(OutboxEvent.type, OutboxEvent.payload).where(OutboxEvent.type.in_(TIMELINE_TYPES))))
        stats = dict(conn.execute(sa.text("SELECT customer_id, events_count FROM crm_profile_stats")).all())
        events_per_customer = dict(conn.execute(sa.text(
            "SELECT customer_id, count(*) FROM crm_events GROUP BY customer_id")).all())
    timeline_per_order = collections.Counter()
    for (_customer, oid), n in live["timeline"].items():
        timeline_per_order[oid] += n
    assert timeline_per_order == outbox  # one timeline entry per order event: none lost, none doubled
    assert {c: n for c, n in stats.items() if n} == events_per_customer
    points = collections.Counter()
    for oid, order in orders.items():
        earned = int((PRICE * ordered[oid]).to_integral_value(ROUND_DOWN))
        # a returned unit takes back its share of the order's points, rounded down (crm/loyalty.py)
        taken = int((earned * Decimal(returned[oid]) / Decimal(ordered[oid])).to_integral_value(ROUND_DOWN))
        points[order["customer_id"]] += earned - taken
    assert {c: p for c, p in loyalty.items() if p} == dict(points)

    # -- against a rebuild from the outbox ---------------------------------------------------------
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM crm_order_facts"))
        conn.execute(sa.text("DELETE FROM crm_events WHERE type LIKE 'order_%'"))
        conn.execute(sa.text("DELETE FROM analytics_sales_lines"))
    for name in ("crm.orders", "analytics.sales"):
        reset_cursor(db, name, 0)
    SubscriberRunner(db, bus).catch_up(["crm.orders", "analytics.sales"], max_rounds=10_000)
    rebuilt = _projections(db)
    assert rebuilt["facts"] == live["facts"]
    assert rebuilt["lines"] == live["lines"]
    assert rebuilt["timeline"] == live["timeline"]
