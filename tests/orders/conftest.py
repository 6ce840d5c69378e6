"""Fixtures for commerce tests: a small shop (locations, products, stock) built through the
real API (locations, stock) and the catalog's service (products)."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any, Iterator

import pytest


class Shop:
    def __init__(self, client: Any, admin: dict[str, str], db: Any) -> None:
        self.client, self.admin, self.db = client, admin, db

    def location(self, code: str, kind: str = "warehouse", **fields: Any) -> dict[str, Any]:
        body = {"code": code, "name": fields.pop("name", code.title()), "kind": kind, **fields}
        r = self.client.post("/api/v1/locations", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    def product(self, sku: str, price: str = "10.00", currency: str = "EUR", **fields: Any) -> None:
        from merx.catalog import service as catalog
        from merx.catalog.schemas import ProductCreate
        from merx.core.uow import UnitOfWork

        with UnitOfWork(self.db) as uow:
            catalog.create_product(uow, ProductCreate(sku=sku, name=fields.pop("name", f"Product {sku}"),
                                                      price={"currency": currency, "amount": price}, **fields))

    def stock(self, sku: str, location: str, qty: int) -> dict[str, Any]:
        r = self.client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": location, "delta": qty,
                                                                     "reason": "receipt"}, headers=self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def levels(self, sku: str) -> dict[str, dict[str, Any]]:
        r = self.client.get("/api/v1/inventory/stock", params={"sku": sku}, headers=self.admin)
        assert r.status_code == 200, r.text
        return {row["location"]: row for row in r.json()}

    def order(self, lines: list[tuple[str, int]], *, headers: dict[str, str] | None = None, email: str = "buyer@example.com",
              **body: Any) -> Any:
        payload = {"channel": "web", "customer": {"email": email},
                   "lines": [{"sku": s, "quantity": q} for s, q in lines], **body}
        return self.client.post("/api/v1/orders", json=payload, headers=headers or {})


@pytest.fixture
def shop(client, admin, db) -> Shop:  # type: ignore[no-untyped-def]
    return Shop(client, admin, db)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The same app served by uvicorn on a free 127.0.0.1 port (real HTTP, real threads)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           limit_concurrency=1000, backlog=2048))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


os.environ.setdefault("MERX_RESERVATION_SWEEP_INTERVAL_SECONDS", "0")  # sweeps are explicit in tests


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """These tests play many guests from one address (checkout storms, coupon races): the
    per-address guest checkout limit would answer 429 before the behaviour under test."""
    return settings.model_copy(update={"rate_limits": {"guest_checkout": "1000000/minute"}})
