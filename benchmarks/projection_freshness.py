"""Projection freshness: from an order's commit (its POST answered) to the order being visible
in the customer's CRM 360 (GET /api/v1/customers/{id}/overview), p50 and p99.

The CRM order facts are a durable subscriber (core/subscribers.py). For each backend this
script starts `merx serve` (background event handling, as in production) in two set-ups:
1. embedded: MERX_EMBEDDED_WORKER=on, the server's own runner thread, woken by its commits;
2. the baseline a user would otherwise pick for several machines: MERX_EMBEDDED_WORKER=off and
   a separate `merx worker`, which only sees other processes' commits by polling
   (MERX_SUBSCRIBER_POLL_SECONDS, default 0.5 s).
Orders are placed one after another (a guest customer each); after each answer the 360 is
polled every 5 ms until the order shows, so figures are accurate to about 5 ms.
Search is not measured: its index stays an in-process reaction (search/handlers.py says why).

Run:   python benchmarks/projection_freshness.py                  # both backends, 60 orders each
       python benchmarks/projection_freshness.py --orders 200 --backend sqlite
Needs PostgreSQL at MERX_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout_throughput import Backend, free_port, machine, percentile, seed  # noqa: E402


def admin_key(url: str) -> str:
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    db = Database(url)
    with UnitOfWork(db) as uow:
        key = accounts.create_user_with_key(uow, name="bench-admin", role=Role.admin).key
    db.dispose()
    return key


def wait_healthy(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("merx serve did not start")


def measure(url: str, skus: list[str], orders: int, data_dir: Path, *, embedded: bool) -> list[float]:
    merx = shutil.which("merx") or str(Path(sys.executable).parent / "merx")
    port = free_port()
    env = {**os.environ, "MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING",
           "MERX_EVENT_HANDLERS": "background", "MERX_EMBEDDED_WORKER": "on" if embedded else "off",
           # no built-in key, and on PostgreSQL the server refuses to start without one
           "MERX_SECRET_KEY": os.environ.get("MERX_SECRET_KEY") or secrets.token_urlsafe(32),
           # every simulated shopper calls from this one address
           "MERX_RATE_LIMITS": '{"guest_checkout": "100000000/minute"}', "MERX_GUEST_OPEN_HOLDS_PER_ADDRESS": "1000000"}
    procs = [subprocess.Popen([merx, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    if not embedded:
        procs.append(subprocess.Popen([merx, "worker", "--no-migrate"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    base = f"http://127.0.0.1:{port}"
    key = admin_key(url)
    try:
        wait_healthy(base, procs[0])
        headers = {"Authorization": f"Bearer {key}"}
        out: list[float] = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for n in range(orders + 5):
                tag = "e" if embedded else "w"
                r = client.post("/api/v1/orders", json={
                    "channel": "web", "customer": {"email": f"fresh-{tag}{n}@example.com"},
                    "lines": [{"sku": skus[n % len(skus)], "quantity": 1}], "payment": {"provider": "manual"}})
                r.raise_for_status()
                committed = time.perf_counter()
                order_id, customer_id = r.json()["id"], r.json()["customer_id"]
                while True:
                    view = client.get(f"/api/v1/customers/{customer_id}/overview", params={"timeline_limit": 1})
                    if view.status_code == 200 and any(o["order_id"] == order_id for o in view.json()["orders"]):
                        break
                    if time.perf_counter() - committed > 30:
                        raise SystemExit(f"order {order_id} never reached the CRM 360")
                    time.sleep(0.005)
                if n >= 5:  # the first few warm the server up
                    out.append(time.perf_counter() - committed)
        return out
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for name in backends:
        for embedded in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                backend = Backend(name, Path(tmp))
                try:
                    skus = seed(backend.url, 20)
                    lat = measure(backend.url, skus, args.orders, Path(tmp) / "data", embedded=embedded)
                finally:
                    backend.drop()
            label = "embedded runner (woken by commits)" if embedded else "separate merx worker (polling)"
            print(f"{name:10s} {label:36s} commit -> CRM 360: p50 {percentile(lat, 50) * 1000:7.1f} ms   "
                  f"p99 {percentile(lat, 99) * 1000:7.1f} ms   ({len(lat)} orders)")


if __name__ == "__main__":
    main()
