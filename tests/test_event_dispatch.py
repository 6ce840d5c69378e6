"""The message bus's background dispatcher (what `merx serve` uses): the committing request
only queues events; handlers run soon after on one thread, in batches, in commit order; a
failing handler loses neither the change nor the other events. Also: `merx serve` with
several worker processes, and pooled connections that died while idle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from parcel_events import ParcelRegistered

from merx.core.events import DomainEvent, MessageBus


def _event(n: int) -> DomainEvent:
    return DomainEvent.of(ParcelRegistered(parcel_id=n, n=n))


def test_background_publish_returns_before_the_handlers_and_drain_waits_for_them():
    bus = MessageBus()
    bus.configure(background=True, batch_window=0.05)
    release = threading.Event()
    seen: list[int] = []

    def slow(events, _db):
        release.wait(5)
        seen.extend(e.payload["n"] for e in events)

    bus.subscribe("parcel.*", slow, batch=True)
    started = time.monotonic()
    bus.publish([_event(1), _event(2)])
    assert time.monotonic() - started < 1.0 and seen == []  # the publisher did not wait
    assert bus.pending() == 1
    release.set()
    assert bus.drain(10)
    assert seen == [1, 2] and bus.pending() == 0


def test_events_published_together_reach_a_batch_handler_in_one_call_in_commit_order():
    bus = MessageBus()
    bus.configure(background=True, batch_window=0.3)
    calls: list[list[int]] = []
    singles: list[int] = []
    bus.subscribe(ParcelRegistered, lambda events, _db: calls.append([e.payload["n"] for e in events]), batch=True)
    bus.subscribe("*", lambda event, _db: singles.append(event.payload["n"]))
    for n in range(1, 6):  # five commits, one after another
        bus.publish([_event(n)])
    assert bus.drain(10)
    assert calls == [[1, 2, 3, 4, 5]]  # one transaction's worth of work, not five
    assert singles == [1, 2, 3, 4, 5]  # a plain handler still gets each event, in order


def test_a_failing_batch_is_retried_one_event_at_a_time_so_only_the_bad_event_is_lost(caplog):
    bus = MessageBus()
    done: list[int] = []

    def picky(events, _db):
        if any(e.payload["n"] == 3 for e in events):
            raise ValueError("event 3 is malformed")
        done.extend(e.payload["n"] for e in events)

    bus.subscribe(ParcelRegistered, picky, batch=True)
    bus.dispatch([_event(n) for n in range(1, 6)])
    assert done == [1, 2, 4, 5]
    assert any("event handler failed" in r.getMessage() for r in caplog.records)


def test_a_handler_that_raises_does_not_stop_the_dispatcher():
    bus = MessageBus()
    bus.configure(background=True, batch_window=0.01)
    seen: list[int] = []

    def flaky(event, _db):
        if event.payload["n"] == 1:
            raise RuntimeError("boom")
        seen.append(event.payload["n"])

    bus.subscribe(ParcelRegistered, flaky)
    bus.publish([_event(1)])
    assert bus.drain(10)
    bus.publish([_event(2)])
    assert bus.drain(10)
    assert seen == [2]


def test_inline_mode_runs_handlers_before_publish_returns():
    bus = MessageBus()
    seen: list[int] = []
    bus.subscribe(ParcelRegistered, lambda event, _db: seen.append(event.payload["n"]))
    bus.publish([_event(7)])
    assert seen == [7] and bus.pending() == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_checkout_answers_first_and_the_crm_and_analytics_catch_up(db, tmp_path):
    """The server's mode end to end: an order placed over HTTP is in the CRM's order facts
    and analytics' sales lines once the dispatcher has drained."""
    from fastapi.testclient import TestClient

    from merx.analytics.models import SalesLine
    from merx.app import create_app
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.core.events import bus
    from merx.core.settings import Settings
    from merx.core.uow import UnitOfWork
    from merx.crm.models import OrderFact
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH-1", "name": "Main", "kind": "warehouse"})
    with UnitOfWork(db) as uow:
        catalog.bulk_create_products(uow, [ProductCreate(sku="TEA-1", name="Green tea",
                                                         price={"currency": "EUR", "amount": "4.50"})])
    with UnitOfWork(db) as uow:
        inventory.adjust(uow, sku="TEA-1", location="WH-1", delta=10, reason="receipt")
    settings = Settings(data_dir=tmp_path / "data", log_level="WARNING", event_handlers="background")
    try:
        with TestClient(create_app(settings, db)) as client:
            assert bus.background
            r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "ann@example.com"},
                                                    "lines": [{"sku": "TEA-1", "quantity": 2}],
                                                    "payment": {"provider": "manual"}})
            assert r.status_code == 201, r.text
            order_id = r.json()["id"]
            assert bus.drain(30)
            with UnitOfWork(db) as uow:
                fact = uow.session.get(OrderFact, order_id)
                assert fact is not None and fact.total_minor == 900 and fact.customer_id == r.json()["customer_id"]
                sold = uow.session.scalars(sa.select(SalesLine).where(SalesLine.order_ref == str(order_id))).all()
                assert [(s.sku, s.quantity) for s in sold] == [("TEA-1", 2)]
    finally:
        bus.configure(background=False)


@pytest.mark.backends("postgresql")
def test_a_pooled_connection_killed_while_idle_is_replaced_not_failed(db, monkeypatch):
    from merx.core import db as core_db

    monkeypatch.setattr(core_db, "IDLE_PING_SECONDS", 0.0)
    db.engine.dispose()
    with db.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    killer = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar() is True
    killer.dispose()
    time.sleep(0.2)
    with db.engine.connect() as conn:  # the dead one is pinged, discarded, and replaced
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid


def test_serve_with_two_workers_answers_and_stops_cleanly(tmp_path):
    """`merx serve --workers 2` runs two processes, each with its own SO_REUSEPORT socket
    on the same port; SIGTERM stops both."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MERX_DATA_DIR": str(tmp_path / "data"), "MERX_LOG_LEVEL": "WARNING"}
    env.pop("MERX_DATABASE_URL", None)
    merx = Path(sys.executable).parent / "merx"
    server = subprocess.Popen([str(merx), "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        answered = 0
        while time.monotonic() < deadline and answered < 20:
            try:
                # a new connection each time: the kernel spreads them over the workers
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    answered += 1
                    continue
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        assert answered == 20
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2  # two workers (and multiprocessing's resource tracker)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=30) is not None
        finally:
            if server.poll() is None:
                server.kill()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
