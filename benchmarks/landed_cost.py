"""What landing the cost on each order line adds to checkout, beside what checkout already
reads: `catalog.costs_at` (the cost in force per SKU, from a cost history) next to
`catalog.lookup_skus` (the SKU lookup every checkout makes), on the same database.

For each backend it seeds N products with a variant each, two currencies of prices and a cost
history of H entries per product and currency (some per variant), then times both calls for
random 1-3 SKU baskets (the checkout's shape) and prints microseconds per call (median, p99)
and the ratio. The baseline a user would otherwise pick: keeping one current cost column and
reading it with the SKU (no history, so no cost at the time of sale): that is what
`lookup_skus` costs, since it already reads the variant's row.

Run:   python benchmarks/landed_cost.py                         # SQLite and PostgreSQL
       python benchmarks/landed_cost.py --products 20000 --history 6 --calls 5000 --backend sqlite
Needs PostgreSQL at MERX_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _seed(db, products: int, history: int) -> list[str]:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from merx.catalog.models import Product, ProductCost, Variant, VariantPrice

    now = dt.datetime.now(dt.timezone.utc)
    rng = random.Random(7)
    skus = [f"B-{i:06d}" for i in range(products)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Product.__table__), [
            {"id": i + 1, "status": "active", "name": f"Product {i}", "attributes": {}, "translations": {}, "media": [],
             "version": 1, "created_at": now, "updated_at": now} for i in range(products)])
        conn.execute(sa.insert(Variant.__table__), [
            {"id": i + 1, "product_id": i + 1, "sku": s, "options": {}, "position": 0, "created_at": now}
            for i, s in enumerate(skus)])
        conn.execute(sa.insert(VariantPrice.__table__), [
            {"variant_id": i + 1, "currency": c, "amount_minor": rng.randint(500, 50000)}
            for i in range(products) for c in ("EUR", "PLN")])
        rows = []
        for i in range(products):
            for c in ("EUR", "PLN"):
                for h in range(history):
                    rows.append({"product_id": i + 1, "variant_id": (i + 1) if h % 3 == 2 else None, "currency": c,
                                 "amount_minor": rng.randint(200, 30000), "source": "erp",
                                 "effective_from": now - dt.timedelta(days=30 * (history - h)), "created_at": now})
        for start in range(0, len(rows), 20000):
            conn.execute(sa.insert(ProductCost.__table__), rows[start:start + 20000])
    return skus


def _time(fn, baskets) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for basket in baskets:
        t = time.perf_counter()
        fn(basket)
        out.append((time.perf_counter() - t) * 1e6)
    return out


def run(backend: str, products: int, history: int, calls: int) -> None:
    from merx.catalog import public as catalog
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    import_models()
    pg_name = None
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="merx-landed-")
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.conftest import create_pg_database, pg_url_for

        pg_name = create_pg_database("merx_landed")
        url = pg_url_for(pg_name)
    db = Database(url)
    try:
        migrate.upgrade(db)
        t0 = time.perf_counter()
        skus = _seed(db, products, history)
        seeded = time.perf_counter() - t0
        rng = random.Random(11)
        baskets = [rng.sample(skus, rng.randint(1, 3)) for _ in range(calls)]
        now = dt.datetime.now(dt.timezone.utc)
        with UnitOfWork(db, readonly=True) as uow:
            lookup = _time(lambda b: catalog.lookup_skus(uow, b), baskets[:200] + baskets)[200:]
            costs = _time(lambda b: catalog.costs_at(uow, b, "EUR", now), baskets[:200] + baskets)[200:]
        q = lambda xs, p: sorted(xs)[int(len(xs) * p) - 1]  # noqa: E731
        print(f"{backend}: {products} products, {history} cost entries per product and currency "
              f"({products * history * 2} rows, seeded in {seeded:.1f} s), {calls} baskets of 1-3 SKUs")
        print(f"  lookup_skus (baseline, every checkout): median {statistics.median(lookup):7.0f} us, "
              f"p99 {q(lookup, 0.99):7.0f} us")
        print(f"  costs_at (the landed cost):             median {statistics.median(costs):7.0f} us, "
              f"p99 {q(costs, 0.99):7.0f} us")
        print(f"  costs_at / lookup_skus: {statistics.median(costs) / statistics.median(lookup):.2f}")
    finally:
        db.dispose()
        if pg_name:
            from tests.conftest import drop_pg_database

            drop_pg_database(pg_name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--products", type=int, default=10000)
    ap.add_argument("--history", type=int, default=4)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"load {open('/proc/loadavg').read().split()[:3]}")
    print(f"command: python benchmarks/landed_cost.py --products {args.products} --history {args.history} "
          f"--calls {args.calls} --backend {args.backend}")
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run(backend, args.products, args.history, args.calls)


if __name__ == "__main__":
    main()
