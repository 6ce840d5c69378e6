"""Web console and storefront: server time per page on the demo shop.

    python benchmarks/web_pages.py                    # 600 demo products, 20 requests per page
    python benchmarks/web_pages.py --products 2400    # the full `merx demo` size
    python benchmarks/web_pages.py --repeat 50

1. `merx demo --no-serve --products N` into a temporary data directory (a fresh SQLite
   database), plus a console admin with a password, the search index, and a few dozen
   orders placed through the orders service so the order and analytics pages have content.
2. The app runs under Uvicorn in a background thread on 127.0.0.1; a signed-in client
   requests every page `--repeat` times (after one warm-up request) and records the time to
   the last byte. On localhost that is the server's time plus well under a millisecond.
3. Baseline in the same run: the JSON API calls a script or SPA would make instead of the
   page (product list, product, orders, customers), and /healthz as the floor.

Target (issue #8): every page under 300 ms of server time. Nothing here is asserted."""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_shop(data_dir: Path, products: int) -> None:
    env = dict(os.environ, MERX_DATA_DIR=str(data_dir), MERX_LOG_LEVEL="WARNING")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "merx.cli", "demo", "--no-serve", "--products", str(products)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    print(f"demo shop with {products} products built in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def extra_data(db, settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A console admin, the search index, some stock and orders (demo data may lack them)."""
    from merx.core import accounts
    from merx.core.auth import ANONYMOUS, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        accounts.create_user(uow, name="Bench Admin", role=Role.admin, email="bench@example.com", password="bench-pass")
        uow.commit()
    counts = {"orders": 0}
    try:
        from merx.search import service as search

        search.register_data_dir(db, settings.data_dir, settings.default_currency)
        search.rebuild_index(db, settings.data_dir)
    except ImportError:
        pass
    try:
        from merx.catalog import service as catalog
        from merx.inventory import service as inventory
        from merx.orders import service as orders
        from merx.orders.schemas import OrderCreate
    except ImportError:
        return counts
    with UnitOfWork(db, readonly=True) as uow:
        stores, _ = inventory.list_locations(uow, limit=20)
        skus = [d.variants[0]["sku"] for d in catalog.iter_product_documents(uow, product_ids=range(1, 41))
                if d.variants and d.status == "active"]
    if not stores:
        with UnitOfWork(db) as uow:
            inventory.create_location(uow, {"code": "ST-BENCH", "name": "Bench store", "kind": "store",
                                            "lat": 52.2, "lon": 21.0, "pickup": True, "accepts_returns": True})
        stores = [{"code": "ST-BENCH", "pickup": True}]
    store = next(s["code"] for s in stores if s.get("pickup")) if any(s.get("pickup") for s in stores) else None
    for sku in skus:
        with UnitOfWork(db) as uow:
            inventory.adjust(uow, sku=sku, location=store or stores[0]["code"], delta=50)
    for i, sku in enumerate(skus * 2):
        fulfilment = ({"type": "pickup", "location": store} if store and i % 2 else
                      {"type": "ship", "address": {"line1": "Main St 1", "city": "Warsaw", "country": "PL"}})
        with UnitOfWork(db, ANONYMOUS) as uow:
            orders.place_order(uow, OrderCreate(channel="web", customer={"email": f"bench{i % 25}@example.com"},
                                                lines=[{"sku": sku, "quantity": 1 + i % 3}], fulfilment=fulfilment,
                                                payment={"provider": "test", "behaviour": "succeed"}))
        counts["orders"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import httpx
    import uvicorn

    from merx.app import create_app
    from merx.contexts import import_models
    from merx.core.db import Database
    from merx.core.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="merx-web-bench-"))
    build_shop(tmp, args.products)
    settings = Settings(data_dir=tmp, log_level="WARNING", log_json=True)
    import_models()
    db = Database(settings.effective_database_url)
    db.settings = settings
    counts = extra_data(db, settings)
    app = create_app(settings, db)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    login = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    r = client.post("/console/login", data={"email": "bench@example.com", "password": "bench-pass",
                                            "csrf_token": token, "next": "/console"})
    assert "Signed in as" in r.text, "login failed"
    product_id = 1
    order_id = 1
    customer_id = 1
    pages = [
        ("storefront", "/"), ("storefront", "/search?q=lamp"), ("storefront", "/search?category=home"),
        ("storefront", "/search/suggest?q=la"), ("storefront", f"/product/{product_id}"), ("storefront", "/cart"),
        ("console", "/console"), *[("console", f"/console/tiles/{t}") for t in ("sales", "funnel", "top", "stock")],
        ("console", "/console/catalog"), ("console", f"/console/catalog/{product_id}"),
        ("console", "/console/inventory"), ("console", "/console/orders"), ("console", f"/console/orders/{order_id}"),
        ("console", "/console/customers"), ("console", f"/console/customers/{customer_id}"),
        ("console", "/console/segments"), ("console", "/console/search?q=lamp"),
        *[("console", f"/console/analytics/{s}") for s in ("funnel", "cohorts", "sales", "portfolio", "inventory",
                                                           "forecast")],
        ("console", "/console/integration"),
        ("baseline API", "/healthz"), ("baseline API", "/api/v1/products?limit=25"),
        ("baseline API", f"/api/v1/products/{product_id}"), ("baseline API", "/api/v1/orders?limit=25"),
        ("baseline API", "/api/v1/customers?limit=50"), ("baseline API", "/api/v1/search?q=lamp"),
    ]
    rows = []
    for group, path in pages:
        first = client.get(path)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            resp = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        rows.append((group, path, resp.status_code, first.status_code, statistics.median(times), p95, len(resp.content)))
    server.should_exit = True
    thread.join(timeout=10)

    print("# Merx web pages: server time per page (time to last byte over localhost HTTP)")
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/web_pages.py --products {args.products} --repeat {args.repeat}")
    print(f"data: merx demo with {args.products} products; {counts['orders']} extra orders; SQLite; "
          f"{args.repeat} requests per page after a warm-up request; target p50 < {TARGET_MS:.0f} ms")
    print(f"{'group':<13} {'page':<34} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>7}  target")
    for group, path, status, _, p50, p95, size in rows:
        ok = "ok" if p50 < TARGET_MS else "SLOW"
        print(f"{group:<13} {path[:34]:<34} {status:>6} {p50:>8.1f} {p95:>8.1f} {size / 1024:>7.1f}  "
              f"{ok if group != 'baseline API' else ''}")
    pages_only = [r for r in rows if r[0] != "baseline API"]
    slow = [r[1] for r in pages_only if r[4] >= TARGET_MS]
    print(f"pages under {TARGET_MS:.0f} ms (p50): {len(pages_only) - len(slow)}/{len(pages_only)}"
          + (f"; over: {', '.join(slow)}" if slow else ""))


if __name__ == "__main__":
    main()
