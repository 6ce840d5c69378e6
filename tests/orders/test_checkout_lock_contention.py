"""Done-when for the PostgreSQL hang: 50 concurrent orders for a SKU with 2 units against one
real `merx serve` worker with its default settings (8 request threads). A refused order used
to keep its transaction, and the stock row lock, open until a request thread was free to roll
it back, while every request thread waited for that lock: nothing answered, not even
/healthz. Now 2 orders succeed, 48 are refused with 409, every request is answered, and
/healthz answers throughout."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

ANSWER_WITHIN_SECONDS = 10  # a bound that turns a hang into a failure, not a speed check
ORDERS = 50


@pytest.mark.backends("postgresql")
def test_fifty_concurrent_orders_for_two_units_all_answer(shop, db, server_process):
    shop.location("WH")
    shop.product("LAST", price="99.00")
    shop.stock("LAST", "WH", 2)
    server = server_process()
    server.start()

    health: list[int | str] = []
    storm_over = threading.Event()

    def watch_health() -> None:
        with httpx.Client(base_url=server.url, timeout=ANSWER_WITHIN_SECONDS) as http:
            while not storm_over.is_set():
                try:
                    health.append(http.get("/healthz").status_code)
                except httpx.HTTPError as e:
                    health.append(type(e).__name__)
                storm_over.wait(0.2)

    def order(n: int) -> int | str:
        body = {"channel": "web", "customer": {"email": f"buyer{n}@example.com"},
                "lines": [{"sku": "LAST", "quantity": 1}], "payment": {"provider": "manual"}}
        try:
            return http.post("/api/v1/orders", json=body).status_code
        except httpx.HTTPError as e:  # a time-out: the hang
            return type(e).__name__

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    try:
        with httpx.Client(base_url=server.url, timeout=ANSWER_WITHIN_SECONDS,
                          limits=httpx.Limits(max_connections=ORDERS)) as http:
            barrier = threading.Barrier(ORDERS)

            def at_once(n: int) -> int | str:
                barrier.wait()
                return order(n)

            with ThreadPoolExecutor(max_workers=ORDERS) as pool:
                outcomes = Counter(pool.map(at_once, range(ORDERS)))
    finally:
        storm_over.set()
        watcher.join()

    assert outcomes == {201: 2, 409: ORDERS - 2}, f"{outcomes}\n{server.logs()}"
    assert health and set(health) == {200}, health
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 2
    assert server.stop() is not None, "SIGTERM stops the server"


@pytest.mark.backends("postgresql")
def test_an_order_waiting_past_the_lock_timeout_gets_503_and_its_retry_goes_through(shop, db, settings):
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.db import Database

    shop.location("WH")
    shop.product("LAST", price="99.00")
    shop.stock("LAST", "WH", 2)
    timed = Database(db.url, lock_timeout=0.3, statement_timeout=30)
    body = {"channel": "web", "customer": {"email": "late@example.com"}, "lines": [{"sku": "LAST", "quantity": 1}],
            "payment": {"provider": "manual"}}
    try:
        with timed.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar_one() == "300ms"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "30s"
        with TestClient(create_app(settings, timed), raise_server_exceptions=False) as client:
            with db.engine.connect() as holder:  # another transaction holds the stock row
                holder.execute(sa.text("SELECT * FROM inventory_stock WHERE sku = 'LAST' FOR UPDATE"))
                busy = client.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "busy"})
                assert busy.status_code == 503, busy.text
                assert busy.headers["content-type"] == "application/problem+json"
                assert busy.headers["retry-after"] == "1"
                holder.rollback()
            retry = client.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "busy"})
            assert retry.status_code == 201, retry.text
    finally:
        timed.dispose()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT reserved FROM inventory_stock WHERE sku = 'LAST'")).scalar_one() == 1
