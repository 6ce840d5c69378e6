"""Funnel + cohorts: Merx (DuckDB over Parquet events and the sales-lines fact store) against
the same computation written in pandas, side by side in one run.

    python benchmarks/analytics_bench.py            # 1,000,000 events, 100,000 orders
    python benchmarks/analytics_bench.py --full     # 10,000,000 events, 1,000,000 orders (the issue's size)
    python benchmarks/analytics_bench.py --events 2000000 --orders 200000

Data is generated with a fixed seed: people who first touch the shop (page view, ad click or
QR scan), view products, add to cart, buy and sometimes buy again, as Parquet files in the
event-store layout; and orders (one sales line each) loaded into a real SQLite fact store
through the same bulk path the importers use. Timed for Merx: the funnel report straight from
the Parquet files, and the cohort report over the fact store (the first call reads the table
into the columnar snapshot, reported separately as "cold"; later calls reuse it). Timed for
pandas: reading the same Parquet files / the same orders and computing the same figures.
Both sides' results are compared before timings are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = dt.datetime(2025, 1, 1)


def generate_events(n_events: int, directory: Path, seed: int = 42) -> int:
    rng = np.random.default_rng(seed)
    people = max(n_events // 8, 1)
    first = rng.integers(0, 365 * 86_400, people)  # seconds after START
    views = rng.poisson(3, people) * (rng.random(people) < 0.7)
    cart = (views > 0) & (rng.random(people) < 0.35)
    checkout = cart & (rng.random(people) < 0.6)
    buy = cart & (rng.random(people) < 0.5)
    rebuy = buy & (rng.random(people) < 0.3)
    fixed = people + views.sum() + cart.sum() + checkout.sum() + buy.sum() + rebuy.sum()
    extra_pages = np.bincount(rng.integers(0, people, max(n_events - fixed, 0)), minlength=people)

    parts = []

    def add(who: np.ndarray, kind: str, offset: np.ndarray) -> None:
        parts.append((who, kind, first[who] + offset))

    everyone = np.arange(people)
    add(everyone, "awareness", np.zeros(people, dtype=np.int64))
    who = np.repeat(everyone, views)
    add(who, "product_view", 30 + rng.integers(0, 1800, len(who)))
    who = np.repeat(everyone, extra_pages)
    add(who, "page_view", rng.integers(0, 3600, len(who)))
    add(everyone[cart], "add_to_cart", 2000 + rng.integers(0, 600, cart.sum()))
    add(everyone[checkout], "checkout_started", 2700 + rng.integers(0, 300, checkout.sum()))
    add(everyone[buy], "purchase", 3100 + rng.integers(0, 600, buy.sum()))
    add(everyone[rebuy], "purchase", 86_400 * rng.integers(2, 80, rebuy.sum()))

    who = np.concatenate([p[0] for p in parts])
    at = np.concatenate([p[2] for p in parts])
    kinds = np.concatenate([np.full(len(p[0]), i, dtype=np.int8) for i, p in enumerate(parts)])
    names = [p[1] for p in parts]
    first_touch = ["page_view", "ad_click", "qr_scan"]
    touch_kind = rng.integers(0, 3, people)
    type_names = np.array(names + first_touch, dtype=object)
    type_index = np.where(kinds == 0, len(names) + touch_kind[who], kinds)
    order = np.argsort(at, kind="stable")
    who, at, type_index = who[order], at[order], type_index[order]
    known = who % 2 == 0  # half the people are identified customers, half anonymous visitors
    channels = np.array(["web", "app", "store", "marketplace"], dtype=object)
    sources = np.array(["google", "newsletter", "flyer", "direct", "partner"], dtype=object)
    directory.mkdir(parents=True, exist_ok=True)
    chunk = 2_000_000
    for n, s in enumerate(range(0, len(who), chunk)):
        w = who[s:s + chunk]
        table = pa.table({
            "event_id": pa.array(np.arange(s, s + len(w)).astype(str)),
            "type": pa.array(type_names[type_index[s:s + chunk]].tolist()).dictionary_encode(),
            "occurred_at": pa.array((np.datetime64(START) + at[s:s + chunk].astype("timedelta64[s]")).astype("datetime64[us]")),
            "customer_id": pa.array(np.where(known[s:s + chunk], w, 0), mask=~known[s:s + chunk]),
            "anonymous_id": pa.array(np.char.add("v", w.astype(str)).astype(object), mask=known[s:s + chunk]),
            "channel": pa.array(channels[w % 4].tolist()).dictionary_encode(),
            "source": pa.array(sources[w % 5].tolist()).dictionary_encode(),
        })
        pq.write_table(table, directory / f"events-{n:03d}.parquet")
    return len(who)


def generate_orders(n_orders: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    customers = max(n_orders // 3, 1)
    # half the orders come from a loyal tenth of the customers, half from anyone
    loyal = rng.random(n_orders) < 0.5
    customer = np.where(loyal, rng.integers(0, max(customers // 10, 1), n_orders), rng.integers(0, customers, n_orders))
    at = rng.integers(0, 2 * 365 * 86_400, n_orders)
    minor = rng.integers(500, 20_000, n_orders)
    return {"customer": customer, "at": at, "minor": minor}


def load_orders(db, orders: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    from merx.analytics import facts
    from merx.core.uow import UnitOfWork

    started = time.perf_counter()
    n = len(orders["customer"])
    when = [dt.datetime.fromtimestamp(START.timestamp() + int(s), dt.timezone.utc)
            for s in (orders["at"] - orders["at"] % 60)]
    step = 100_000
    for s in range(0, n, step):
        part = slice(s, min(s + step, n))
        with UnitOfWork(db) as uow:
            facts.insert_columns(uow, {
                "source": "bench", "line_key": [str(i) for i in range(part.start, part.stop)],
                "order_ref": [str(i) for i in range(part.start, part.stop)], "kind": "sale", "sku": "SKU",
                "product_id": None, "product_name": None,
                "customer_id": [int(c) + 1 for c in orders["customer"][part]], "customer_ref": None, "quantity": 1,
                "unit_price": [str(m / 100) for m in orders["minor"][part]], "currency": "EUR",
                "line_total_minor": [int(m) for m in orders["minor"][part]], "line_cost_minor": None,
                "occurred_at": when[part], "channel": "web", "country": None, "region": None, "location": None,
                "sales_rep_user_id": None, "category": None, "brand": None,
            }, part.stop - part.start)
            uow.commit()
    return time.perf_counter() - started


# -- pandas: what an analyst would otherwise write -------------------------------------------------------


def pandas_funnel(directory: Path) -> list[int]:
    import pandas as pd

    df = pd.read_parquet(directory, columns=["type", "occurred_at", "customer_id", "anonymous_id"])
    df["type"] = df["type"].astype(str)
    df["person"] = np.where(df["customer_id"].notna(), "c:" + df["customer_id"].astype("Int64").astype(str),
                            "a:" + df["anonymous_id"].astype(str))
    aware = df[df["type"].isin(["page_view", "ad_click", "qr_scan", "product_view"])].groupby("person")["occurred_at"].min()

    def next_stage(prev: pd.Series, types: list[str], strict: bool = False, within: pd.Timedelta | None = None) -> pd.Series:
        ev = df[df["type"].isin(types)][["person", "occurred_at"]].merge(prev.rename("prev"), left_on="person",
                                                                        right_index=True)
        keep = ev["occurred_at"] > ev["prev"] if strict else ev["occurred_at"] >= ev["prev"]
        if within is not None:
            keep &= ev["occurred_at"] <= ev["prev"] + within
        return ev[keep].groupby("person")["occurred_at"].min()

    interest = next_stage(aware, ["product_view"])
    decision = next_stage(interest, ["add_to_cart", "checkout_started"])
    purchase = next_stage(decision, ["purchase"])
    retention = next_stage(purchase, ["purchase"], strict=True, within=pd.Timedelta(days=90))
    _ = [(b - a.reindex(b.index)).dt.total_seconds().median() for a, b in
         ((aware, interest), (interest, decision), (decision, purchase), (purchase, retention))]
    return [len(aware), len(interest), len(decision), len(purchase), len(retention)]


def pandas_cohorts(orders: dict[str, np.ndarray]) -> tuple[int, float, list[float]]:
    import pandas as pd

    df = pd.DataFrame({"customer": orders["customer"] + 1,
                       "at": pd.to_datetime(START) + pd.to_timedelta(orders["at"] - orders["at"] % 60, unit="s"),
                       "minor": orders["minor"]})
    first = df.groupby("customer")["at"].min()
    cohort = (first.dt.year * 12 + first.dt.month).rename("cohort")
    df = df.join(cohort, on="customer")
    df["k"] = df["at"].dt.year * 12 + df["at"].dt.month - df["cohort"]
    sizes = cohort.value_counts()
    active = df.groupby(["cohort", "k"])["customer"].nunique()
    retention = (active / sizes.reindex(active.index.get_level_values(0)).values).unstack(fill_value=0)
    _revenue = df.groupby(["cohort", "k"])["minor"].sum()
    repeat = (df.groupby("customer").size() >= 2).mean()
    first_cohort = retention.iloc[0]
    return len(first), float(repeat), [float(x) for x in first_cohort.values[:6]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="10,000,000 events and 1,000,000 orders")
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated data in this folder")
    args = parser.parse_args()
    if args.full:
        args.events, args.orders = 10_000_000, 1_000_000

    import duckdb
    import pandas as pd

    from merx.analytics import service
    from merx.analytics.funnel import FunnelDefinition
    from merx.analytics.scope import SalesScope
    from merx.analytics.store import ParquetEventSource
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"DuckDB {duckdb.__version__}, pandas {pd.__version__}, load average {os.getloadavg()[0]:.1f}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="merx-analytics-bench-"))
    try:
        t = time.perf_counter()
        n_events = generate_events(args.events, work / "events")
        orders = generate_orders(args.orders)
        print(f"generated {n_events:,} events (Parquet) and {args.orders:,} orders in {time.perf_counter() - t:.1f}s")

        import_models()
        db = Database(f"sqlite:///{work / 'bench.db'}")
        migrate.upgrade(db)
        load = load_orders(db, orders)
        print(f"loaded {args.orders:,} orders into the SQLite fact store in {load:.1f}s (setup, not timed below)")

        definition = FunnelDefinition(awareness=("page_view", "ad_click", "qr_scan", "product_view"))
        with UnitOfWork(db, readonly=True) as uow:
            t = time.perf_counter()
            funnel = service.funnel_report(uow, data_dir=None, events=ParquetEventSource(work / "events"),
                                           definition=definition)
            merx_funnel = time.perf_counter() - t
            t = time.perf_counter()
            cohorts_cold = service.cohort_report(uow, SalesScope())
            merx_cohorts_cold = time.perf_counter() - t
            t = time.perf_counter()
            cohorts = service.cohort_report(uow, SalesScope())
            merx_cohorts = time.perf_counter() - t
        assert cohorts == cohorts_cold

        t = time.perf_counter()
        pd_funnel = pandas_funnel(work / "events")
        pandas_funnel_s = time.perf_counter() - t
        t = time.perf_counter()
        pd_customers, pd_repeat, pd_first = pandas_cohorts(orders)
        pandas_cohorts_s = time.perf_counter() - t

        merx_counts = [s["count"] for s in funnel["stages"]]
        assert merx_counts == pd_funnel, (merx_counts, pd_funnel)
        assert cohorts["customers"] == pd_customers
        assert abs(cohorts["repeat_purchase_rate"] - pd_repeat) < 1e-6
        first_curve = [p["retention"] for p in cohorts["cohorts"][0]["retention"][:6]]
        assert np.allclose(first_curve, pd_first, atol=1e-6), (first_curve, pd_first)
        print(f"results agree: funnel {merx_counts}; {pd_customers:,} customers, repeat rate {pd_repeat:.4f}")
        print()
        print(f"{'':34}{'Merx':>10}{'pandas':>10}")
        print(f"{'funnel (' + format(n_events, ',') + ' events)':34}{merx_funnel:>9.2f}s{pandas_funnel_s:>9.2f}s")
        print(f"{'cohorts (' + format(args.orders, ',') + ' orders)':34}{merx_cohorts:>9.2f}s{pandas_cohorts_s:>9.2f}s")
        print(f"{'funnel + cohorts':34}{merx_funnel + merx_cohorts:>9.2f}s{pandas_funnel_s + pandas_cohorts_s:>9.2f}s")
        print(f"{'cohorts, cold (reads the fact table)':34}{merx_cohorts_cold:>9.2f}s")
        print("target: funnel + cohorts <= 5 s for Merx")
        db.dispose()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
