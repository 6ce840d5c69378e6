"""CRM benchmark: event ingestion through the batch endpoint, and rule-segment evaluation.

    python benchmarks/crm_bench.py                         # defaults: 20 s ingestion, 100,000 profiles
    python benchmarks/crm_bench.py --profiles 1000000      # the issue's full segment size
    python benchmarks/crm_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

1. Ingestion: a real Uvicorn server (separate process, one worker) over a fresh database; N
   client threads POST /api/v1/events batches of 1,000 events (8 event types, 20,000
   anonymous ids of which 300 already identified, so attribution work is included) for a
   fixed time. Reports sustained events/s and batch latency. Baseline in the same run: one
   event per request (what a tracking client without batching does), same server.
2. Segments: the issue's example expression and two more over synthetic profile facts
   (seeded), evaluated by Merx's compiled filter (numpy columns). Baselines in the same run:
   the same filter as SQL over an indexed SQLite table, pandas DataFrame.query, and a plain
   Python loop. Plus the end-to-end time of evaluating a segment in a real database
   (facts gathered from the customers/CRM tables) with --db-profiles profiles."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IDENTIFIED = 300  # of 20,000 anonymous ids
EXPRESSIONS = [
    'orders_count >= 3 and days_since_last_order <= 90 and country in ("PL", "RO")',
    'lifetime_value > 500 or (rfm_segment == "Champions" and email_consent == true)',
    'not (country in ("DE", "FR")) and days_since_last_order between 30 and 365 and orders_count is not null',
]
SQL_EQUIVALENTS = [
    "orders_count >= 3 AND days_since_last_order <= 90 AND country IN ('PL', 'RO')",
    "lifetime_value > 500 OR (rfm_segment = 'Champions' AND email_consent = 1)",
    "NOT (country IN ('DE', 'FR')) AND days_since_last_order BETWEEN 30 AND 365 AND orders_count IS NOT NULL",
]
PANDAS_EQUIVALENTS = [
    'orders_count >= 3 and days_since_last_order <= 90 and country in ["PL", "RO"]',
    'lifetime_value > 500 or (rfm_segment == "Champions" and email_consent == 1)',
    'not (country in ["DE", "FR"]) and days_since_last_order >= 30 and days_since_last_order <= 365 '
    'and orders_count == orders_count',
]


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average at start {load:.1f}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


# -- 1. ingestion ------------------------------------------------------------------------------------


def make_events(rng: random.Random, n: int, anon_pool: list[str]) -> list[dict]:
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for _ in range(n):
        kind = rng.random()
        anon = rng.choice(anon_pool)
        ts = (now - dt.timedelta(seconds=rng.randint(0, 86_400))).isoformat()
        if kind < 0.45:
            ev = {"type": "page_view", "properties": {"url": f"https://shop.example/p/{rng.randint(1, 5000)}",
                                                      "title": "Product page"}}
        elif kind < 0.70:
            ev = {"type": "product_view", "properties": {"sku": f"SKU-{rng.randint(1, 5000)}", "price": "19.90",
                                                         "currency": "EUR"}}
        elif kind < 0.80:
            ev = {"type": "search", "properties": {"query": rng.choice(["mug", "blue lamp", "socks", "gift"]),
                                                   "results": rng.randint(0, 80)}}
        elif kind < 0.90:
            ev = {"type": "add_to_cart", "properties": {"sku": f"SKU-{rng.randint(1, 5000)}", "quantity": 1}}
        elif kind < 0.94:
            ev = {"type": "remove_from_cart", "properties": {"sku": f"SKU-{rng.randint(1, 5000)}", "quantity": 1}}
        elif kind < 0.97:
            ev = {"type": "checkout_started", "properties": {"value": "39.80", "currency": "EUR"}}
        elif kind < 0.99:
            ev = {"type": "qr_scan", "properties": {"qr_id": f"QR-{rng.randint(1, 50)}"}, "source": "flyer",
                  "campaign": "autumn"}
        else:
            ev = {"type": "purchase", "properties": {"value": "39.80", "currency": "EUR"}}
        ev.update({"anonymous_id": anon, "timestamp": ts, "channel": "web"})
        out.append(ev)
    return out


def bench_ingestion(database_url: str, seconds: float, threads: int, baseline_seconds: float, workdir: Path,
                    workers: int = 1) -> dict:
    import httpx

    from merx.contexts import import_models
    from merx.core import accounts, migrate
    from merx.core.auth import Role
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    from merx.crm import identity

    import_models()
    db = Database(database_url)
    migrate.upgrade(db)
    with UnitOfWork(db) as uow:
        key = accounts.create_user_with_key(uow, name="bench", role=Role.staff).key
    anon_pool = [f"anon-{i:06d}" for i in range(20_000)]
    # Some visitors are already identified, so ingestion also does attribution work.
    t0 = time.perf_counter()
    for i in range(IDENTIFIED):
        with UnitOfWork(db) as uow:
            identity.identify(uow, anonymous_id=anon_pool[i], identifiers={"email": f"v{i}@example.com"})
    print(f"(setup: {IDENTIFIED} identify calls in-process, {(time.perf_counter() - t0) / IDENTIFIED * 1000:.0f} ms each)",
          flush=True)
    db.dispose()
    port = free_port()
    # A file, not a pipe: nobody reads a pipe while the benchmark runs, and a full one would
    # stall the server on its next log line.
    server_log = workdir / "server.log"
    env = {**os.environ, "MERX_DATABASE_URL": database_url, "MERX_DATA_DIR": str(workdir / "data"),
           "MERX_LOG_LEVEL": "WARNING", "MERX_MAX_BODY_BYTES": str(8 * 1024 * 1024)}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "merx.app:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
                               "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=server_log.open("wb"))
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("server did not start: " + server_log.read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        rng = random.Random(42)
        bodies = [json.dumps({"events": make_events(rng, 1000, anon_pool)}).encode() for _ in range(40)]

        def run(duration: float, make_body, per_request: int) -> tuple[int, list[float], int]:
            stop = time.monotonic() + duration
            latencies: list[float] = []
            counts = [0]
            errors = [0]
            lock = threading.Lock()

            def worker(seed: int) -> None:
                local = random.Random(seed)
                with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                    while time.monotonic() < stop:
                        body = make_body(local)
                        t0 = time.perf_counter()
                        r = client.post("/api/v1/events", content=body)
                        elapsed = time.perf_counter() - t0
                        with lock:
                            if r.status_code == 200:
                                counts[0] += r.json()["accepted"]
                                latencies.append(elapsed * 1000)
                            else:
                                errors[0] += 1
                                if errors[0] <= 3:  # say what failed, not just how often
                                    print(f"  error {r.status_code}: {r.text[:300]}", flush=True)
                                    os.environ.get("MERX_BENCH_KEEP_LOG") and print(server_log.read_text(errors="replace")[-3000:])

            started = time.monotonic()
            pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall = time.monotonic() - started
            return counts[0], latencies, errors[0], wall  # type: ignore[return-value]

        cpu_before = _server_cpu_seconds(server.pid)
        batch_n, batch_lat, batch_err, batch_wall = run(seconds, lambda r: r.choice(bodies), 1000)
        batch_cpu_us = (_server_cpu_seconds(server.pid) - cpu_before) * 1e6 / max(1, batch_n)
        singles = [json.dumps({"events": [e]}).encode() for e in make_events(rng, 5000, anon_pool)]
        single_n, single_lat, single_err, single_wall = run(baseline_seconds, lambda r: r.choice(singles), 1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {"batch_events_per_s": batch_n / batch_wall, "batch_events": batch_n, "batch_wall": batch_wall,
            "batch_p50": pct(batch_lat, 50), "batch_p95": pct(batch_lat, 95), "batch_errors": batch_err,
            "batch_cpu_us": batch_cpu_us,
            "single_events_per_s": single_n / single_wall, "single_events": single_n, "single_wall": single_wall,
            "single_p50": pct(single_lat, 50), "single_errors": single_err}


def _server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process and its worker processes (from /proc)."""
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


# -- 2. segments ---------------------------------------------------------------------------------------


def synthetic_facts(n: int, seed: int = 7):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(seed)
    countries = np.array(["PL", "RO", "DE", "FR", "IT", "ES", "CZ", "HU"])
    segments = np.array(["Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
                         "About to sleep", "At risk", "Can't lose", "Hibernating", "Lost"])
    orders = rng.poisson(2.0, n).astype(np.float64)
    has_orders = orders > 0
    days = np.where(has_orders, rng.integers(0, 720, n), np.nan).astype(np.float64)
    orders[~has_orders] = np.nan
    return {
        "customer_id": np.arange(1, n + 1, dtype=np.float64),
        "orders_count": orders,
        "days_since_last_order": days,
        "lifetime_value": np.where(has_orders, rng.gamma(2.0, 150.0, n), 0.0),
        "email_consent": rng.integers(0, 2, n).astype(np.float64),
        "country_codes": rng.integers(0, len(countries), n).astype(np.int32),
        "countries": list(countries),
        "rfm_codes": np.where(has_orders, rng.integers(0, len(segments), n), -1).astype(np.int32),
        "rfm_segments": list(segments),
    }


def timed(fn, repeat: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def bench_segments(n: int, workdir: Path) -> list[dict]:
    import numpy as np
    import pandas as pd

    from merx.crm.profiles import FIELDS
    from merx.crm.segments.lang import Columns, compile_expression, evaluate

    facts = synthetic_facts(n)
    cols = Columns(n)
    for name in ("customer_id", "orders_count", "days_since_last_order", "lifetime_value", "email_consent"):
        cols.add_number(name, facts[name])
    cols.add_codes("country", facts["country_codes"], facts["countries"])
    cols.add_codes("rfm_segment", facts["rfm_codes"], facts["rfm_segments"])

    country = np.array(facts["countries"], dtype=object)[facts["country_codes"]]
    rfm = np.where(facts["rfm_codes"] >= 0, np.array(facts["rfm_segments"], dtype=object)[facts["rfm_codes"]], None)
    frame = pd.DataFrame({"orders_count": facts["orders_count"], "days_since_last_order": facts["days_since_last_order"],
                          "lifetime_value": facts["lifetime_value"], "email_consent": facts["email_consent"],
                          "country": country, "rfm_segment": rfm})
    sqlite_path = workdir / "segments.db"
    con = sqlite3.connect(sqlite_path)
    con.execute("CREATE TABLE profiles (id INTEGER PRIMARY KEY, orders_count REAL, days_since_last_order REAL, "
                "lifetime_value REAL, email_consent INTEGER, country TEXT, rfm_segment TEXT)")
    con.executemany("INSERT INTO profiles VALUES (?, ?, ?, ?, ?, ?, ?)", (
        (i + 1, None if np.isnan(o) else float(o), None if np.isnan(d) else float(d), float(v), int(e), c, s)
        for i, (o, d, v, e, c, s) in enumerate(zip(facts["orders_count"], facts["days_since_last_order"],
                                                   facts["lifetime_value"], facts["email_consent"], country, rfm))))
    for column in ("orders_count", "days_since_last_order", "lifetime_value", "country", "rfm_segment"):
        con.execute(f"CREATE INDEX ix_{column} ON profiles ({column})")
    con.commit()

    records = frame.to_dict("records") if n <= 1_000_000 else None
    results = []
    for expr, sql, pq in zip(EXPRESSIONS, SQL_EQUIVALENTS, PANDAS_EQUIVALENTS):
        compile_ms, node = timed(lambda: compile_expression(expr, FIELDS), repeat=20)
        merx_ms, mask = timed(lambda: evaluate(node, cols))
        merx_count = int(mask.sum())  # type: ignore[union-attr]
        sql_ms, sql_rows = timed(lambda: con.execute(f"SELECT id FROM profiles WHERE {sql}").fetchall(), repeat=3)
        pandas_ms, pandas_frame = timed(lambda: frame.query(pq, engine="python"), repeat=3)
        loop_ms = float("nan")
        if records is not None:
            predicate = _python_predicate(expr)
            loop_ms, loop_count = timed(lambda: sum(1 for r in records if predicate(r)), repeat=1)
            assert loop_count == merx_count, (expr, loop_count, merx_count)
        assert len(sql_rows) == merx_count == len(pandas_frame), (expr, len(sql_rows), merx_count, len(pandas_frame))
        results.append({"expression": expr, "matches": merx_count, "compile_ms": compile_ms, "merx_ms": merx_ms,
                        "sqlite_ms": sql_ms, "pandas_ms": pandas_ms, "python_loop_ms": loop_ms})
    con.close()
    return results


def _python_predicate(expr: str):  # type: ignore[no-untyped-def]
    """The loop a developer would hand-write for each expression (the slow baseline)."""
    import math

    def present(v):  # type: ignore[no-untyped-def]
        return v is not None and not (isinstance(v, float) and math.isnan(v))

    if expr == EXPRESSIONS[0]:
        return lambda r: present(r["orders_count"]) and r["orders_count"] >= 3 and present(r["days_since_last_order"]) \
            and r["days_since_last_order"] <= 90 and r["country"] in ("PL", "RO")
    if expr == EXPRESSIONS[1]:
        return lambda r: r["lifetime_value"] > 500 or (r["rfm_segment"] == "Champions" and r["email_consent"] == 1)
    return lambda r: r["country"] not in ("DE", "FR") and present(r["days_since_last_order"]) \
        and 30 <= r["days_since_last_order"] <= 365 and present(r["orders_count"])


def bench_segment_in_database(database_url: str, profiles: int) -> dict:
    """End to end on real tables: customers + CRM facts, then matching_ids (facts query + evaluation)."""
    import numpy as np

    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.crm.models import OrderFact
    from merx.crm.segments import service as segments
    from merx.customers import service as customers

    import_models()
    db = Database(database_url)
    migrate.upgrade(db)
    rng = np.random.default_rng(3)
    now = dt.datetime.now(dt.timezone.utc)
    with UnitOfWork(db) as uow:
        rows = [{"external_ref": f"bench:{i}", "country": ["PL", "RO", "DE", "FR"][i % 4]} for i in range(profiles)]
        for i in range(0, profiles, 5000):
            customers.upsert_customers_by_external_ref(uow, rows[i:i + 5000])
        uow.commit()
        ids = sorted(customers.ids_by_external_refs(uow, [r["external_ref"] for r in rows]).values())
        facts = []
        order_id = 1
        for cid in ids:
            for _ in range(int(rng.poisson(2.0))):
                facts.append({"order_id": order_id, "customer_id": cid, "currency": "EUR", "status": "paid",
                              "total_minor": int(rng.integers(500, 20000)), "refunded_minor": 0,
                              "placed_at": now - dt.timedelta(days=int(rng.integers(0, 400)))})
                order_id += 1
        import sqlalchemy as sa

        for i in range(0, len(facts), 10000):
            uow.session.execute(sa.insert(OrderFact), facts[i:i + 10000])
        uow.commit()
    with UnitOfWork(db) as uow:
        ms, matched = timed(lambda: segments.matching_ids(uow, EXPRESSIONS[0]), repeat=3)
    db.dispose()
    return {"profiles": profiles, "orders": len(facts), "end_to_end_ms": ms, "matches": len(matched)}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="sustained ingestion time")
    parser.add_argument("--baseline-seconds", type=float, default=8, help="single-event baseline time")
    parser.add_argument("--threads", type=int, default=4, help="client threads posting batches")
    parser.add_argument("--workers", type=int, default=1, help="Uvicorn worker processes")
    parser.add_argument("--profiles", type=int, default=100_000, help="profiles for segment evaluation")
    parser.add_argument("--db-profiles", type=int, default=20_000, help="profiles for the end-to-end database run")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--skip-segments", action="store_true")
    args = parser.parse_args()

    print("# Merx CRM benchmark")
    print("machine:", machine())
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    workdir = Path(tempfile.mkdtemp(prefix="merx-crm-bench-"))
    pg_db = None
    try:
        def fresh_url(tag: str) -> str:
            nonlocal pg_db
            if args.database_url is None:
                return f"sqlite:///{workdir / (tag + '.db')}"
            import sqlalchemy as sa

            name = f"merx_crm_bench_{tag}_{os.getpid()}"
            admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            pg_db = (pg_db or []) + [name]  # type: ignore[operator]
            return sa.engine.make_url(args.database_url).set(database=name).render_as_string(hide_password=False)

        if not args.skip_ingestion:
            url = fresh_url("ingest")
            print(f"\n## Ingestion through POST /api/v1/events ({url.split(':')[0]}, {args.workers} Uvicorn worker(s), "
                  f"{args.threads} client threads, same machine)")
            r = bench_ingestion(url, args.seconds, args.threads, args.baseline_seconds, workdir, args.workers)
            print(f"batches of 1,000 : {r['batch_events_per_s']:>9,.0f} events/s sustained over {r['batch_wall']:.1f}s "
                  f"({r['batch_events']:,} events; batch latency p50 {r['batch_p50']:.0f} ms, p95 {r['batch_p95']:.0f} ms; "
                  f"{r['batch_errors']} errors; server CPU {r['batch_cpu_us']:.0f} µs/event)")
            print(f"baseline 1/request: {r['single_events_per_s']:>9,.0f} events/s over {r['single_wall']:.1f}s "
                  f"(p50 {r['single_p50']:.1f} ms; {r['single_errors']} errors)")
            print("target: >= 20,000 events/s ->", "met" if r["batch_events_per_s"] >= 20_000 else "NOT met")
        if not args.skip_segments:
            print(f"\n## Rule-segment evaluation over {args.profiles:,} profiles (median of repeats, ms)")
            print(f"{'expression':<100} {'matches':>9} {'merx':>8} {'sqlite':>8} {'pandas':>8} {'py loop':>8}")
            for row in bench_segments(args.profiles, workdir):
                print(f"{row['expression']:<100} {row['matches']:>9,} {row['merx_ms']:>8.1f} {row['sqlite_ms']:>8.1f} "
                      f"{row['pandas_ms']:>8.1f} {row['python_loop_ms']:>8.1f}   (parse+check {row['compile_ms']:.3f} ms)")
            if args.db_profiles:
                url = fresh_url("segments")
                r = bench_segment_in_database(url, args.db_profiles)
                print(f"\nend to end in the database ({url.split(':')[0]}): {r['profiles']:,} profiles, {r['orders']:,} orders "
                      f"-> facts + evaluation {r['end_to_end_ms']:.0f} ms ({r['matches']:,} matches)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_db and args.database_url:
            import sqlalchemy as sa

            admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in pg_db:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
