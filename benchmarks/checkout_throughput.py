"""Checkout throughput and latency over HTTP, beside a bare insert of the same rows.

For each backend (SQLite file, PostgreSQL database) this script:
1. creates a fresh, migrated database and seeds locations, products and plenty of stock;
2. starts `merx serve` in a subprocess against it (the real app: middlewares, all contexts'
   event handlers, in the server's background dispatch mode) and lets N concurrent clients
   POST /api/v1/orders (1-3 random lines, manual payment, guest customers from a pool of
   500 emails) until the order count is reached; reports orders/s, p50/p99 latency, and the
   server's CPU time per order (all its processes, from /proc). The clients are asyncio
   HTTP/1.1 keep-alive connections in this process, so the load generator itself costs
   little of the machine's two cores (a threaded httpx client took about a third of one);
3. as the baseline a user would otherwise pick, inserts the same rows one order per
   transaction (orders, lines, allocations, holds, ledger, stock UPDATE, outbox, audit)
   straight through the same driver (sqlite3 / psycopg) from N threads; reports rows/s;
4. prints the ratio checkout / bare insert.

Run:   python benchmarks/checkout_throughput.py                 # both backends, 1500 orders each
       python benchmarks/checkout_throughput.py --orders 3000 --backend postgresql --workers 2
       python benchmarks/checkout_throughput.py --compare-inline    # also: handlers in the request
       python benchmarks/checkout_throughput.py --taxes-shipping    # with VAT rates and a shipping zone
Needs PostgreSQL at MERX_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
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


def seed(url: str, skus: int, *, promotion: bool = False, taxes_shipping: bool = False) -> list[str]:
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
    if promotion:  # a shop-wide automatic promotion: every order redeems it
        from merx.pricing import service as pricing
        from merx.pricing.schemas import PromotionCreate

        with UnitOfWork(db) as uow:
            pricing.create_promotion(uow, PromotionCreate(name="5% off everything", kind="order_percent",
                                                          percent="5"))
    if taxes_shipping:  # VAT rates (PL, RO, DE, GB) and a PL zone priced by weight: every order computes both
        from merx.fiscal import public as fiscal
        from merx.fiscal.schemas import MethodIn, ZoneIn

        with UnitOfWork(db) as uow:
            fiscal.seed_default_rates(uow)
        with UnitOfWork(db) as uow:
            fiscal.create_zone(uow, ZoneIn(code="PL", name="Poland", countries=["PL"]))
        with UnitOfWork(db) as uow:
            fiscal.add_method(uow, "PL", MethodIn.model_validate({
                "code": "courier", "name": "Courier", "currency": "EUR", "basis": "weight",
                "brackets": [{"from": "0", "price": "9.90"}, {"from": "5", "price": "14.90"}], "free_over": "100.00"}))
    for s in names:
        for loc in ("WH-1", "WH-2"):
            with UnitOfWork(db) as uow:
                inventory.adjust(uow, sku=s, location=loc, delta=100_000, reason="receipt")
    db.dispose()
    return names


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker processes)."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    ticks = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def post_all(port: int, path: str, bodies: list[dict], clients: int) -> tuple[list[float], dict[int, int], float]:
    """`clients` keep-alive connections, each sending its next request when the previous
    answer is in. Returns the latencies of 201 answers, the count per other status, seconds."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    pending = iter(bodies)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for body in pending:
                data = json.dumps(body).encode()
                head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n").encode()
                started = time.perf_counter()
                writer.write(head + data)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


def run_http(url: str, skus: list[str], orders: int, clients: int, data_dir: Path, workers: int = 1,
             handlers: str = "background", taxes_shipping: bool = False) -> dict:
    port = free_port()
    env = {**os.environ, "MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING",
           "MERX_DB_POOL_SIZE": str(clients + 4), "MERX_RESERVATION_SWEEP_INTERVAL_SECONDS": "0",
           "MERX_EVENT_HANDLERS": handlers,
           # every simulated guest posts from this one address: lift the per-address guest checkout
           # limit and the cap on open pay-later holds
           "MERX_GUEST_OPEN_HOLDS_PER_ADDRESS": "1000000",
           "MERX_RATE_LIMITS": '{"guest_checkout": "100000000/minute"}',
           # No built-in key any more, and a PostgreSQL server refuses to start without one.
           "MERX_SECRET_KEY": os.environ.get("MERX_SECRET_KEY") or secrets.token_urlsafe(32)}
    merx = shutil.which("merx") or str(Path(sys.executable).parent / "merx")
    server = subprocess.Popen([merx, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate",
                               "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a shared, loaded machine starts slowly
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
        for n in range(orders + clients * 4):
            lines = [{"sku": s, "quantity": rng.randint(1, 3)} for s in rng.sample(skus, rng.randint(1, 3))]
            bodies.append({"channel": "web", "customer": {"email": f"bench{n % 500}@example.com"}, "lines": lines,
                           "payment": {"provider": "manual"}, **({"fulfilment": {"type": "ship", "address": {
                               "line1": "ul. Prosta 1", "city": "Warszawa", "postal_code": "00-838",
                               "country": "PL"}}} if taxes_shipping else {})})
        # warm-up: imports, caches, prepared statements, the connection pools of every worker
        asyncio.run(post_all(port, "/api/v1/orders", bodies[:clients * 4], clients))
        cpu_before, busy_before = server_cpu_seconds(server.pid), machine_busy_seconds()
        latencies, errors, elapsed = asyncio.run(post_all(port, "/api/v1/orders", bodies[clients * 4:], clients))
        time.sleep(1.0)  # the background handlers' share of the work lands in the CPU figure
        cpu = server_cpu_seconds(server.pid) - cpu_before
        busy = machine_busy_seconds() - busy_before
        return {"orders": len(latencies), "errors": errors, "seconds": elapsed, "per_second": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
                "cpu_ms": cpu * 1000 / max(1, len(latencies)), "busy_ms": busy * 1000 / max(1, len(latencies)),
                "workers": workers, "handlers": handlers}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
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
    ap.add_argument("--orders", type=int, default=1500, help="orders per backend")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None,
                    help="API worker processes (default: 2 on PostgreSQL, one per core; 1 on SQLite, one writer)")
    ap.add_argument("--taxes-shipping", action="store_true",
                    help="seed VAT rates and a shipping zone and ship every order to an address: checkout "
                         "computes tax lines and a shipping rate")
    ap.add_argument("--promotion", action="store_true",
                    help="run with a shop-wide automatic promotion active (every order redeems it)")
    ap.add_argument("--compare-inline", action="store_true",
                    help="also run with other contexts' event handlers inside the request (the old way)")
    args = ap.parse_args()
    print("machine:", machine())
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = []
    for name in backends:
        workers = args.workers or (2 if name == "postgresql" else 1)
        tmp = Path(tempfile.mkdtemp(prefix="merx-bench-"))
        try:
            backend = Backend(name, tmp)
        except Exception as e:  # noqa: BLE001 - reported, the other backend still runs
            print(f"{name}: skipped ({str(e).splitlines()[0]})")
            continue
        try:
            skus = seed(backend.url, args.skus, promotion=args.promotion, taxes_shipping=args.taxes_shipping)
            runs = [run_http(backend.url, skus, args.orders, args.clients, tmp / "data", workers,
                             taxes_shipping=args.taxes_shipping)]
            if args.compare_inline:
                runs.append(run_http(backend.url, skus, args.orders, args.clients, tmp / "data-inline", workers,
                                     handlers="inline"))
            bare = run_bare(backend.url, skus, args.orders, args.clients)
            rows.append((name, runs, bare))
        finally:
            backend.drop()
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("CPU ms/order: the merx server's processes / the whole machine (server, database, this client)")
    print(f"{'backend':<11}{'what':<58}{'orders':>7}{'orders/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/order':>16}")
    for name, runs, bare in rows:
        for http in runs:
            what = (f"POST /api/v1/orders, {args.clients} clients, {http['workers']} worker"
                    + ("s" if http["workers"] > 1 else "") + (", handlers inline" if http["handlers"] == "inline" else ""))
            print(f"{name:<11}{what:<58}{http['orders']:>7}"
                  f"{http['per_second']:>10.1f}{http['p50_ms']:>9.1f}{http['p99_ms']:>9.1f}"
                  f"{http['cpu_ms']:>8.1f} /{http['busy_ms']:>6.1f}"
                  + (f"   non-201: {http['errors']}" if http["errors"] else ""))
        print(f"{'':<11}{'bare insert of the same rows, same driver':<58}{bare['orders']:>7}{bare['per_second']:>10.1f}"
              f"{bare['p50_ms']:>9.1f}{bare['p99_ms']:>9.1f}")
        print(f"{'':<11}{'ratio checkout / bare insert':<58}{'':>7}{runs[0]['per_second'] / bare['per_second']:>10.2f}")
    print("\ntarget (issue #3): >= 300 orders/s on PostgreSQL with p99 <= 100 ms")


if __name__ == "__main__":
    main()
