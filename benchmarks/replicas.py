"""Replicas behind a real load balancer: mixed-workload throughput and p99 through HAProxy with
1 and with 2 `merx serve` replicas on one PostgreSQL database, server CPU per operation, and
search freshness across replicas (commit through replica A -> searchable through replica B).

For each replica count the script starts the replicas (each with its own data dir and index)
and HAProxy (round robin, health checks on /healthz), seeds a small shop, then runs N client
threads for a fixed time, each doing a weighted mix: checkout with an Idempotency-Key (4),
product edit (2), stock adjustment (2), search (3), CRM event ingest (1). It reports
operations/s, p50/p99 latency per kind and overall, and the replicas' CPU seconds per
operation (from /proc: on 2 cores two replicas cannot double throughput; the per-operation
CPU shows what one core carries). With 2 replicas it then measures freshness: rename a product
through A directly, poll B's /search (every 10 ms) until it answers with the new name, under the
same load.

Run:   python benchmarks/replicas.py                       # 20 s per configuration, 4 clients
       python benchmarks/replicas.py --seconds 60 --clients 8 --freshness 100
Needs PostgreSQL at MERX_TEST_PG_URL and HAProxy (apt-get install -y haproxy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "scale"))
from cluster import Balancer, Replica, haproxy_path, wait_for  # noqa: E402

PG_ADMIN_URL = os.environ.get("MERX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORDS = ("amber", "birch", "cobalt", "denim", "ember", "fjord")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def make_database() -> tuple[str, str]:
    name = f"merx_bench_replicas_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database

    import_models()
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return name, url


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def admin_key(url: str) -> dict[str, str]:
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    db = Database(url)
    with UnitOfWork(db) as uow:
        issued = accounts.create_user_with_key(uow, name="bench", role=Role.admin)
    db.dispose()
    return {"Authorization": f"Bearer {issued.key}"}


def seed(base: str, admin: dict, products: int) -> tuple[list[str], list[int]]:
    with httpx.Client(timeout=60) as c:
        r = c.post(f"{base}/api/v1/locations", json={"code": "WH-1", "name": "Main", "kind": "warehouse"}, headers=admin)
        assert r.status_code in (201, 409), r.text
        skus, ids = [], []
        for i in range(products):
            sku = f"B-{i}"
            r = c.post(f"{base}/api/v1/products", json={"sku": sku, "name": f"Lamp {WORDS[i % len(WORDS)]} {i}",
                                                        "price": {"amount": "30.00", "currency": "EUR"}}, headers=admin)
            assert r.status_code == 201, r.text
            skus.append(sku)
            ids.append(r.json()["id"])
            c.post(f"{base}/api/v1/inventory/adjustments", json={"sku": sku, "location": "WH-1", "delta": 1_000_000,
                                                                 "reason": "receipt"}, headers=admin)
    return skus, ids


def one_op(c: httpx.Client, base: str, admin: dict, rng: random.Random, skus: list[str], ids: list[int]) -> tuple[str, bool]:
    op = rng.choices(("checkout", "edit", "stock", "search", "ingest"), (4, 2, 2, 3, 1))[0]
    if op == "checkout":
        r = c.post(f"{base}/api/v1/orders", headers={**admin, "Idempotency-Key": str(uuid.uuid4())}, json={
            "channel": "web", "customer": {"email": f"b{rng.randint(1, 200)}@example.com"},
            "lines": [{"sku": s, "quantity": 1} for s in rng.sample(skus, 2)], "payment": {"provider": "manual"}})
        return op, r.status_code == 201
    if op == "edit":
        pid = rng.choice(ids)
        r = c.patch(f"{base}/api/v1/products/{pid}", headers=admin, json={"name": f"Lamp {rng.choice(WORDS)} {pid}"})
    elif op == "stock":
        r = c.post(f"{base}/api/v1/inventory/adjustments", headers=admin,
                   json={"sku": rng.choice(skus), "location": "WH-1", "delta": 1, "reason": "receipt"})
    elif op == "search":
        r = c.get(f"{base}/api/v1/search", params={"q": f"lamp {rng.choice(WORDS)}", "lang": "en"})
    else:
        r = c.post(f"{base}/api/v1/events", headers=admin, json={"events": [
            {"type": "page_view", "anonymous_id": f"d{rng.randint(1, 50)}", "properties": {"url": "https://shop/"}}]})
    return op, r.status_code == 200


def run_load(base: str, admin: dict, skus: list[str], ids: list[int], clients: int, seconds: float,
             stop: threading.Event | None = None) -> dict:
    lat: dict[str, list[float]] = {}
    failed = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(seed_: int) -> None:
        rng = random.Random(seed_)
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < end and not (stop and stop.is_set()):
                t0 = time.perf_counter()
                try:
                    op, ok = one_op(c, base, admin, rng, skus, ids)
                except httpx.HTTPError:
                    op, ok = "error", False
                dt_ = time.perf_counter() - t0
                with lock:
                    if ok:
                        lat.setdefault(op, []).append(dt_)
                    else:
                        failed[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    every = [x for v in lat.values() for x in v]
    return {"ops": len(every), "failed": failed[0], "seconds": elapsed, "per_second": len(every) / elapsed,
            "p50_ms": percentile(every, 50) * 1000, "p99_ms": percentile(every, 99) * 1000,
            "by_kind": {k: (len(v), percentile(v, 50) * 1000, percentile(v, 99) * 1000) for k, v in sorted(lat.items())}}


def freshness(a: Replica, b: Replica, admin: dict, ids: list[int], samples: int) -> tuple[list[float], list[float]]:
    """Rename a product through A, poll B's search for the new word: seconds until B's answer
    shows the product under its new name (B's index holds the change). Only the name counts:
    in hybrid mode the semantic stage returns the product for a query like its old name
    ("fresh1a2b3c" against "fresh9f8e7d") before B has indexed the change. Returns those
    seconds, and the seconds until the product id alone was in B's answer (the old measure)."""
    out, by_id = [], []
    with httpx.Client(timeout=60) as c:
        for n in range(samples):
            pid = ids[n % len(ids)]
            word = f"fresh{secrets.token_hex(3)}"
            r = c.patch(f"{a.url}/api/v1/products/{pid}", headers=admin, json={"name": f"Lamp {word} {pid}"})
            assert r.status_code == 200, r.text
            committed = time.perf_counter()  # the answer comes after the commit
            seen_id = None
            while True:
                r = c.get(f"{b.url}/api/v1/search", params={"q": word, "lang": "en"})
                if seen_id is None and r.status_code == 200 and any(i["product_id"] == pid for i in r.json()["items"]):
                    seen_id = time.perf_counter() - committed
                if r.status_code == 200 and any(i["product_id"] == pid and word in i["name"]
                                                for i in r.json()["items"]):
                    break
                if time.perf_counter() - committed > 30:
                    raise SystemExit(f"product {pid} not searchable on B after 30 s")
                time.sleep(0.01)
            out.append(time.perf_counter() - committed)
            by_id.append(seen_id if seen_id is not None else out[-1])
            time.sleep(0.05)
    return out, by_id


def follower_passes(log_path: Path, offset: int) -> list[dict]:
    """Replica B's index follower passes logged since `offset` (MERX_SEARCH_FOLLOW_TIMINGS)."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    marker = "follower pass "
    out = []
    for line in text.splitlines():
        if marker not in line:
            continue
        try:  # a JSON log line (MERX_LOG_JSON, the default) carries the message in "msg"
            line = json.loads(line)["msg"]
        except (ValueError, KeyError, TypeError):
            pass
        out.append(json.loads(line[line.index(marker) + len(marker):]))
    return out


def print_passes(passes: list[dict]) -> None:
    """p50/p99 per phase of B's follower passes that applied events, during the freshness probe."""
    print(f"\nreplica B's index follower during the freshness probe: {len(passes)} passes that applied events "
          "(ms per pass; a phase a pass skipped counts 0)")
    rows = {"total": [p["total_ms"] for p in passes],
            "newest event age at pass end": [p["newest_event_age_ms"] or 0 for p in passes],
            "oldest event age at pass end": [p["oldest_event_age_ms"] or 0 for p in passes],
            "events per pass": [p["events"] for p in passes]}
    for name in sorted({k for p in passes for k in p["phases_ms"]}):
        rows[name] = [p["phases_ms"].get(name, 0.0) for p in passes]
    print(f"{'phase':>32} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, values in rows.items():
        print(f"{name:>32} {percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f} {max(values):>8.1f}")


def run(replicas: int, args: argparse.Namespace, tmp: Path) -> dict:
    name, url = make_database()
    admin = admin_key(url)
    env = {"MERX_SEARCH_FOLLOW_TIMINGS": "true"} if args.phase_timings else {}
    reps = [Replica(n, url, tmp / f"{replicas}-{n}" / "data", env=env) for n in ("a", "b")[:replicas]]
    lb = Balancer(reps, tmp / f"{replicas}-haproxy")
    try:
        for r in reps:
            r.start()
        for r in reps:
            r.wait_healthy()
        lb.start()
        skus, all_ids = seed(lb.url, admin, args.products)
        # the freshness probe renames products the load never edits (else a load edit could
        # overwrite the probe's name before B indexes it)
        probe_ids, ids = all_ids[:5], all_ids[5:]
        run_load(lb.url, admin, skus, ids, args.clients, min(5.0, args.seconds / 4))  # warm-up
        cpu0 = sum(r.cpu_seconds() for r in reps)
        result = run_load(lb.url, admin, skus, ids, args.clients, args.seconds)
        time.sleep(1.0)  # background work (followers, subscribers) lands in the CPU figure
        result["cpu_ms_per_op"] = (sum(r.cpu_seconds() for r in reps) - cpu0) * 1000 / max(1, result["ops"])
        if replicas == 2 and args.freshness:
            stop = threading.Event()
            bg = threading.Thread(target=run_load, args=(lb.url, admin, skus, ids, max(1, args.clients // 2), 3600, stop))
            bg.start()
            log_from = reps[1].log_path.stat().st_size if reps[1].log_path.exists() else 0
            try:
                fresh, by_id = freshness(reps[0], reps[1], admin, probe_ids, args.freshness)
            finally:
                stop.set()
                bg.join()
            result["freshness"] = (len(fresh), percentile(fresh, 50) * 1000, percentile(fresh, 99) * 1000, max(fresh) * 1000)
            result["freshness_by_id"] = (percentile(by_id, 50) * 1000, percentile(by_id, 99) * 1000)
            if args.phase_timings:
                result["passes"] = follower_passes(reps[1].log_path, log_from)
        return result
    finally:
        lb.stop()
        for r in reps:
            r.stop()
        drop_database(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="measured load per configuration")
    p.add_argument("--clients", type=int, default=4, help="client threads through the balancer")
    p.add_argument("--products", type=int, default=30)
    p.add_argument("--freshness", type=int, default=40, help="A->B freshness samples under load (0: skip)")
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="configurations to run")
    p.add_argument("--phase-timings", action="store_true",
                   help="replicas log their index follower's phases; print B's p50/p99 per phase")
    args = p.parse_args()
    if haproxy_path() is None:
        raise SystemExit("haproxy is not installed (apt-get install -y haproxy)")
    os.environ.setdefault("MERX_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("MERX_PAYMENT_PROVIDERS", "manual,test")
    print(f"machine: {platform.platform()} | {os.cpu_count()} CPUs | Python {platform.python_version()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    tmp = Path(tempfile.mkdtemp(prefix="merx-replicas-"))
    try:
        results = {n: run(n, args, tmp) for n in args.replicas}
    except BaseException:
        print(f"replica logs kept in {tmp}")
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmixed workload through HAProxy, {args.clients} clients, {args.seconds:.0f} s "
          "(checkout 4 : edit 2 : stock 2 : search 3 : ingest 1)")
    print(f"{'replicas':>8} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/op':>10} {'failed':>7}")
    for n, r in results.items():
        print(f"{n:>8} {r['per_second']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['cpu_ms_per_op']:>10.1f} "
              f"{r['failed']:>7}")
    for n, r in results.items():
        print(f"  {n} replica(s) by kind (count, p50 ms, p99 ms): "
              + ", ".join(f"{k} {c} {a:.0f}/{b:.0f}" for k, (c, a, b) in r["by_kind"].items()))
    fresh = results.get(2, {}).get("freshness")
    if fresh:
        print(f"\nsearch freshness, commit through A -> searchable through B, under load ({fresh[0]} samples): "
              f"p50 {fresh[1]:.0f} ms, p99 {fresh[2]:.0f} ms, max {fresh[3]:.0f} ms (target p99 <= 1000 ms)")
        by_id = results[2]["freshness_by_id"]
        print(f"  (until the product id alone was in B's answer, new name or not: p50 {by_id[0]:.0f} ms, "
              f"p99 {by_id[1]:.0f} ms)")
    if results.get(2, {}).get("passes"):
        print_passes(results[2]["passes"])
    print(f"load average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
