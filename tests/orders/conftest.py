"""Fixtures for commerce tests: a small shop (locations, products, stock) built through the
real API (locations, stock) and the catalog's service (products)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
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
        return {row["location"]: row for row in r.json()["items"]}

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


class ServerProcess:
    """`merx serve --no-migrate` with the default settings, except those given."""

    def __init__(self, db_url: str, data_dir: Path, **settings: str) -> None:
        self.db_url, self.data_dir, self.settings = db_url, data_dir, settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        # defaults, not the test suite's choices (conftest sets some MERX_* for in-process apps)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MERX_")}
        env.update({"MERX_DATABASE_URL": self.db_url, "MERX_DATA_DIR": str(self.data_dir),
                    "MERX_SECRET_KEY": "test-secret-key-for-a-server-subprocess-0123456789",
                    "MERX_LOG_LEVEL": "WARNING",
                    # every simulated shopper calls from 127.0.0.1: lift the per-address guest
                    # checkout limit and open pay-later cap (tests/test_rate_limits.py and
                    # test_order_expiry.py cover them), keep every other default
                    "MERX_RATE_LIMITS": '{"guest_checkout": "1000000/minute"}',
                    "MERX_GUEST_OPEN_HOLDS_PER_ADDRESS": "1000000", **self.settings})
        self.starts += 1
        log = open(self.data_dir / f"server-{self.starts}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "merx.cli", "serve", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--no-migrate"],
                                     env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"merx serve exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"merx serve did not answer /healthz within {timeout} s:\n{self.logs()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, then the exit code (None: it did not stop in time and was killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None

    def logs(self) -> str:
        return "\n".join((self.data_dir / f"server-{i}.log").read_text(errors="replace")[-3000:]
                         for i in range(1, self.starts + 1))


@pytest.fixture
def server_process(db, tmp_path) -> Iterator[Callable[..., "ServerProcess"]]:  # type: ignore[no-untyped-def]
    """A real `merx serve` subprocess on the test's database (see ServerProcess); stopped at the end."""
    made: list[ServerProcess] = []

    def _make(**settings: str) -> ServerProcess:
        server = ServerProcess(db.url, tmp_path, **settings)
        made.append(server)
        return server

    yield _make
    for server in made:
        server.stop()


os.environ.setdefault("MERX_RESERVATION_SWEEP_INTERVAL_SECONDS", "0")  # sweeps are explicit in tests


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """These tests play many guests from one address (checkout storms, coupon races): the
    per-address guest checkout limit would answer 429 before the behaviour under test."""
    return settings.model_copy(update={"rate_limits": {"guest_checkout": "1000000/minute"}})
