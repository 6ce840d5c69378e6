"""Checkout throughput and latency over HTTP, beside a bare insert of the same rows.

For each backend (SQLite file, PostgreSQL database) this script:
1. creates a fresh, migrated database and seeds locations, products and plenty of stock;
2. starts `merx serve` in a subprocess against it (the real app: middlewares, all contexts'
   event handlers) and lets N concurrent clients POST /api/v1/orders (1-3 random lines,
   manual payment) until the order count is reached; reports orders/s and p50/p99 latency;
3. as the baseline a user would otherwise pick, inserts the same rows one order per
   transaction (orders, lines, allocations, holds, ledger, stock UPDATE, outbox, audit)
   straight through the same driver (sqlite3 / psycopg) from N threads; reports rows/s;
4. prints the ratio checkout / bare insert.

Run:   python benchmarks/checkout_throughput.py                 # both backends, 300 orders each
       python benchmarks/checkout_throughput.py --orders 3000 --backend postgresql
Needs PostgreSQL at MERX_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("MERX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{platform.platform()} | {os.cpu_count()} CPUs | Python {platform.python_version()} | "
            f"load average {load[0]:.2f} at start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


class Backend:
    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.pg_name = None
        if name == "sqlite":
            self.url = f"sqlite:///{tmp / 'bench.db'}"
        else:
            self.pg_name = f"merx_bench_{secrets.token_hex(4)}"
            admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.pg_name}"'))
            admin.dispose()
            self.url = sa.engine.make_url(PG_ADMIN_URL).set(database=self.pg_name).render_as_string(
                hide_password=False)

    def drop(self) -> None:
        if self.pg_name:
            admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            admin.dispose()


def seed(url: str, skus: int) -> list[str]:
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.inventory import service as inventory

    import_models()
    db = Database(url)
    migrate.upgrade(db)
    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH-1", "name": "Main", "kind": "warehouse", "priority": 1})
    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH-2", "name": "Second", "kind": "warehouse", "priority": 2})
    names = [f"BENCH-{i:04d}" for i in range(skus)]
    with UnitOfWork(db) as uow:
        catalog.bulk_create_products(uow, [ProductCreate(sku=s, name=f"Bench product {s}",
                                                         price={"currency": "EUR", "amount": "19.99"})
                                           for s in names])
    for s in names:
        for loc in ("WH-1", "WH-2"):
            with UnitOfWork(db) as uow:
                inventory.adjust(uow, sku=s, location=loc, delta=100_000, reason="receipt")
    db.dispose()
    return names


def run_http(url: str, skus: list[str], orders: int, clients: int, data_dir: Path, workers: int = 1) -> dict:
    port = free_port()
    env = {**os.environ, "MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING",
           "MERX_DB_POOL_SIZE": str(clients + 4), "MERX_RESERVATION_SWEEP_INTERVAL_SECONDS": "0"}
    merx = shutil.which("merx") or str(Path(sys.executable).parent / "merx")
    server = subprocess.Popen([merx, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate",
                               "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("merx serve did not start: " + (server.stderr.read().decode()[-2000:]
                                                                 if server.poll() is not None else "timeout"))
            time.sleep(0.2)
        rng = random.Random(7)
        bodies = []
        for n in range(orders + clients * 2):
            lines = [{"sku": s, "quantity": rng.randint(1, 3)} for s in rng.sample(skus, rng.randint(1, 3))]
            bodies.append({"channel": "web", "customer": {"email": f"bench{n % 500}@example.com"}, "lines": lines,
                           "payment": {"provider": "manual"}})
        http = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients * 2))
        for body in bodies[:clients * 2]:  # warm-up: imports, caches, connection pool
            http.post("/api/v1/orders", json=body)
        latencies: list[float] = []
        errors: dict[int, int] = {}
        lock = threading.Lock()

        def one(body: dict) -> None:
            t = time.perf_counter()
            r = http.post("/api/v1/orders", json=body)
            dt_ = time.perf_counter() - t
            with lock:
                if r.status_code == 201:
                    latencies.append(dt_)
                else:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one, bodies[clients * 2:]))
        elapsed = time.perf_counter() - start
        http.close()
        return {"orders": len(latencies), "errors": errors, "seconds": elapsed, "per_second": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def run_bare(url: str, skus: list[str], orders: int, clients: int) -> dict:
    """The same rows an order writes, inserted one order per transaction through the raw
    driver, with nothing else: no validation, pricing, allocation logic, HTTP or events."""
    parsed = sa.engine.make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        import sqlite3

        def connect():  # type: ignore[no-untyped-def]
            conn = sqlite3.connect(parsed.database, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        ph = "?"
    else:
        import psycopg

        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

        def connect():  # type: ignore[no-untyped-def]
            return psycopg.connect(dsn, autocommit=True)
        ph = "%s"
    rng = random.Random(11)
    # sorted by SKU: unordered row updates from concurrent transactions deadlock on PostgreSQL
    plans = [sorted((s, rng.randint(1, 3)) for s in rng.sample(skus, rng.randint(1, 3))) for _ in range(orders)]
    with connect() as conn:
        loc_id = conn.execute("SELECT id FROM inventory_locations WHERE code = 'WH-1'").fetchone()[0]
    now = "2026-01-01 00:00:00"
    q = lambda sql: sql.replace("?", ph)  # noqa: E731
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()

    def one(plan: list[tuple[str, int]]) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect()
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
        cur = conn.execute(q(
            "INSERT INTO orders (status, payment_status, channel, email, currency, subtotal_minor, discount_minor, "
            "shipping_minor, shipping_discount_minor, total_minor, refunded_minor, fulfilment_type, payment_provider, "
            "version, created_at, updated_at) VALUES ('confirmed', 'awaiting', 'web', 'b@example.com', 'EUR', 1999, 0, "
            "0, 0, 1999, 0, 'ship', 'manual', 1, ?, ?) RETURNING id"), (now, now))
        order_id = cur.fetchone()[0]
        for i, (sku, qty) in enumerate(plan):
            conn.execute(q("INSERT INTO order_lines (order_id, line_no, sku, name, quantity, unit_price_minor, "
                           "subtotal_minor, discount_minor, total_minor, returned_quantity) "
                           "VALUES (?, ?, ?, 'x', ?, 1999, 1999, 0, 1999, 0)"), (order_id, i + 1, sku, qty))
            conn.execute(q("INSERT INTO order_allocations (order_id, line_no, sku, location_id, quantity) "
                           "VALUES (?, ?, ?, ?, ?)"), (order_id, i + 1, sku, loc_id, qty))
            conn.execute(q("UPDATE inventory_stock SET reserved = reserved + ? WHERE sku = ? AND location_id = ?"),
                         (qty, sku, loc_id))
            conn.execute(q("INSERT INTO inventory_reservations (owner, sku, location_id, quantity, state, created_at) "
                           "VALUES (?, ?, ?, ?, 'active', ?)"), (f"order:{order_id}", sku, loc_id, qty, now))
            conn.execute(q("INSERT INTO inventory_movements (sku, location_id, reason, on_hand_delta, reserved_delta, "
                           "incoming_delta, reference, at) VALUES (?, ?, 'reservation', 0, ?, 0, ?, ?)"),
                         (sku, loc_id, qty, f"order:{order_id}", now))
        conn.execute(q("INSERT INTO outbox_events (id, type, aggregate_type, aggregate_id, occurred_at, "
                       "schema_version, payload) VALUES (?, 'order.placed', 'order', ?, ?, 1, ?)"),
                     (secrets.token_hex(13), str(order_id), now, json.dumps({"order_id": order_id})))
        conn.execute(q("INSERT INTO audit_log (at, action, entity_type, entity_id) VALUES (?, 'place', 'order', ?)"),
                     (now, str(order_id)))
        conn.execute("COMMIT")
        with lock:
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, plans))
    elapsed = time.perf_counter() - start
    return {"orders": len(latencies), "seconds": elapsed, "per_second": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--orders", type=int, default=300, help="orders per backend (the issue's target run: 3000)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes serving the API")
    args = ap.parse_args()
    print("machine:", machine())
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = []
    for name in backends:
        tmp = Path(tempfile.mkdtemp(prefix="merx-bench-"))
        try:
            backend = Backend(name, tmp)
        except Exception as e:  # noqa: BLE001 - reported, the other backend still runs
            print(f"{name}: skipped ({str(e).splitlines()[0]})")
            continue
        try:
            skus = seed(backend.url, args.skus)
            http = run_http(backend.url, skus, args.orders, args.clients, tmp / "data", args.workers)
            bare = run_bare(backend.url, skus, args.orders, args.clients)
            rows.append((name, http, bare))
        finally:
            backend.drop()
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'backend':<11}{'what':<34}{'orders':>7}{'orders/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, http, bare in rows:
        what = f"POST /api/v1/orders, {args.clients} clients" + (f", {args.workers} workers" if args.workers > 1 else "")
        print(f"{name:<11}{what:<34}{http['orders']:>7}"
              f"{http['per_second']:>10.1f}{http['p50_ms']:>9.1f}{http['p99_ms']:>9.1f}"
              + (f"   non-201: {http['errors']}" if http["errors"] else ""))
        print(f"{'':<11}{'bare insert of the same rows':<34}{bare['orders']:>7}{bare['per_second']:>10.1f}"
              f"{bare['p50_ms']:>9.1f}{bare['p99_ms']:>9.1f}")
        print(f"{'':<11}{'ratio checkout / bare insert':<34}{'':>7}{http['per_second'] / bare['per_second']:>10.2f}")
    print("\ntarget (issue #3): >= 300 orders/s on PostgreSQL with p99 <= 100 ms")


if __name__ == "__main__":
    main()
