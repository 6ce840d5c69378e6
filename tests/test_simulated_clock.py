"""core.db.simulated_clock: `merx demo` replays a year through the real use cases; rows and
events carry the simulated time, in this context only."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from merx.core.db import simulated_clock, utcnow


def test_inside_the_block_now_is_the_simulated_moment_and_other_threads_keep_the_wall_clock() -> None:
    moment = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    seen_elsewhere: list[dt.datetime] = []
    with simulated_clock(moment):
        assert utcnow() == moment and utcnow().utcoffset() == dt.timedelta(0)
        worker = threading.Thread(target=lambda: seen_elsewhere.append(utcnow()))
        worker.start()
        worker.join()
    assert seen_elsewhere[0].year >= 2026
    assert utcnow().year >= 2026


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError):
        with simulated_clock(dt.datetime(2025, 1, 1)):
            pass


def test_an_order_placed_under_the_simulated_clock_is_dated_then(client, admin, db) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    assert client.post("/api/v1/locations", json={"code": "W", "name": "W", "kind": "warehouse"},
                       headers=admin).status_code == 201
    assert client.post("/api/v1/products", json={"name": "Mug", "sku": "M-1", "price": {"amount": "5.00",
                                                                                      "currency": "EUR"}},
                       headers=admin).status_code == 201
    client.post("/api/v1/inventory/adjustments", json={"sku": "M-1", "location": "W", "delta": 5}, headers=admin)
    then = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.timezone.utc)
    with simulated_clock(then), UnitOfWork(db, actor=SYSTEM) as uow:
        placed = orders.place_order(uow, orders.OrderCreate.model_validate({
            "customer": {"email": "a@example.com"}, "lines": [{"sku": "M-1", "quantity": 1}],
            "payment": {"provider": "manual"}}))
    got = client.get(f"/api/v1/orders/{placed['id']}", headers=admin).json()
    assert dt.datetime.fromisoformat(got["created_at"]) == then
