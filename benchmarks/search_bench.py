"""Search benchmark: Merx's pipeline (tantivy + stages 3-4) against the full-text search a
shop would otherwise use, SQLite FTS5 (bm25) and PostgreSQL (tsvector / ts_rank), on the
same generated catalog and the same queries, in one run.

    python benchmarks/search_bench.py                      # 20,000 products (a few minutes)
    python benchmarks/search_bench.py --products 1000000   # the issue's full size (long!)

Reports: index build time and size, process memory, per-stage and end-to-end latency
(p50/p95/p99, single-threaded, in-process), HTTP queries/s with 2 Uvicorn workers, and the
baselines' latency at the same candidate depth (top 1,000 by text score plus the exact
match count). Queries: the generated shop queries plus the 480 real WANDS queries when
../shared/data/wands_queries.csv exists.

Hybrid (the semantic extra): the product vectors come from an on-disk embedding cache
(benchmarks/embedding_cache.py, ~/.cache/merx-bench, keyed by text hash) that a separate,
earlier run fills, since embedding a million texts takes far longer than the timed run:

    nice -n 10 python benchmarks/search_bench.py --products 1000000 --precompute-vectors
    # on an otherwise idle machine: MERX_BENCH_EMBED_THREADS=2 (onnxruntime threads) halves it
    python benchmarks/search_bench.py --products 1000000 --repeat 1 --skip-http

The hybrid section reports how many products got their own text's vector, the embedding cost
per product (measured in the run and in the precompute) and per query, the vector store's build
time and size (HNSW above MERX_SEARCH_ANN_THRESHOLD), ANN recall@100 against the exact scan,
and end-to-end latency per phase, cold (every query embedded: the query-vector cache emptied
before each search) and warm (the same queries repeated, their vectors cached).
benchmarks/hybrid_phases.py breaks the hybrid path down further (overlap on/off, ef sweep)."""

from __future__ import annotations

import argparse
import csv
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


sys.path.insert(0, str(Path(__file__).resolve().parent))  # the modules beside this file
from hybrid_bench import bench_hybrid, precompute_vectors, rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MERX_SHARED_DATA", ROOT.parent / "shared" / "data"))
PG_ADMIN_URL = os.environ.get("MERX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):7.2f}  p95 {pct(values, 95):7.2f}  p99 {pct(values, 99):7.2f} ms"


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}"
            f", load average at start {load:.1f}")


def load_queries(generated: list[str]) -> list[str]:
    queries = list(generated)
    path = SHARED / "wands_queries.csv"
    if path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            queries += [row["query"] for row in csv.DictReader(fh, delimiter="\t")]
    return queries


def product_text(p) -> str:  # type: ignore[no-untyped-def]
    return f"{p.style} {p.colour} {p.material} {p.type} by {p.brand} {p.type} {p.colour} {p.material}"


# -- Merx ----------------------------------------------------------------------------------------

def bench_merx(catalog, queries: list[str], base: Path, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    from merx.search.documents import build_record
    from merx.search.index import SearchIndex
    from merx.search.model import Ranker
    from merx.search.ranking import Engine, RankConfig, SearchRequest
    from merx.search.simulate import _doc

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    index = SearchIndex(base)
    rss_before = rss_mb()
    started = time.perf_counter()
    with Progress(TextColumn("indexing"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn()) as progress:
        task = progress.add_task("index", total=len(catalog.products))
        index.rebuild((build_record(_doc(p), p.signals) for p in catalog.products),
                      on_progress=lambda i: progress.update(task, completed=i) if i % 1000 == 0 else None)
    build_s = time.perf_counter() - started
    engine = Engine(index, Ranker(), RankConfig())
    for q in queries[:20]:  # warm caches (analysers, index pages)
        engine.search(SearchRequest(q=q, lang="en", facets=False))
    stages: dict[str, list[float]] = {}
    e2e: list[float] = []
    cpu: list[float] = []
    e2e_facets: list[float] = []
    totals: list[int] = []
    for _ in range(repeat):
        for q in queries:
            t, c = time.perf_counter(), time.process_time()
            out = engine.search(SearchRequest(q=q, lang="en", limit=20, facets=False))
            e2e.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            totals.append(out.total)
            for k, v in out.timings_ms.items():
                stages.setdefault(k, []).append(v)
    for q in queries:
        t = time.perf_counter()
        engine.search(SearchRequest(q=q, lang="en", limit=20, facets=True))
        e2e_facets.append((time.perf_counter() - t) * 1000)
    # stages 1-2 alone (candidate count + BM25 top 1,000), the part comparable to the baselines
    import tantivy

    from merx.search.analysis import analyze_query

    searcher = index.searcher()
    s12: list[float] = []
    for q in queries:
        t = time.perf_counter()
        groups = [[(tok,)] for tok in analyze_query(q, "en")]
        query = engine.build_query(searcher, groups, "and", engine_filters())
        res = searcher.search(query, 1000, count=True)
        if (res.count or 0) < 5 and len(groups) > 1:
            query = engine.build_query(searcher, groups, "or", engine_filters())
            res = searcher.search(query, 1000, count=True)
        searcher.fast_field_values("product_id", [h[1] for h in res.hits])
        s12.append((time.perf_counter() - t) * 1000)
    del tantivy
    return {"build_s": build_s, "size_mb": index.size_bytes() / 1e6, "rss_mb": rss_mb(), "rss_before_mb": rss_before,
            "stages": stages, "e2e": e2e, "cpu": cpu, "e2e_facets": e2e_facets, "s12": s12,
            "mean_total": statistics.mean(totals) if totals else 0}


def engine_filters():  # type: ignore[no-untyped-def]
    from merx.search.ranking import Filters

    return Filters()


# -- SQLite FTS5 ------------------------------------------------------------------------------

def fts5_query(q: str) -> str:
    import re

    words = [w for w in re.findall(r"[^\W_]+", q.lower()) if w]
    return " AND ".join(f'"{w}"' for w in words)


def bench_sqlite(catalog, queries: list[str], base: Path) -> dict:  # type: ignore[no-untyped-def]
    path = base / "fts.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE products USING fts5(name, body, tokenize='porter unicode61 remove_diacritics 2')")
    started = time.perf_counter()
    conn.executemany("INSERT INTO products(rowid, name, body) VALUES (?, ?, ?)",
                     ((p.product_id, f"{p.style} {p.colour} {p.material} {p.type} by {p.brand}", product_text(p))
                      for p in catalog.products))
    conn.commit()
    build_s = time.perf_counter() - started
    lat: list[float] = []
    for q in queries:
        match = fts5_query(q)
        if not match:
            continue
        t = time.perf_counter()
        count = conn.execute("SELECT count(*) FROM products WHERE products MATCH ?", (match,)).fetchone()[0]
        if count < 5:
            match = match.replace(" AND ", " OR ")
            count = conn.execute("SELECT count(*) FROM products WHERE products MATCH ?", (match,)).fetchone()[0]
        conn.execute("SELECT rowid, bm25(products, 3.0, 1.0) AS s FROM products WHERE products MATCH ? "
                     "ORDER BY s LIMIT 1000", (match,)).fetchall()
        lat.append((time.perf_counter() - t) * 1000)
    conn.close()
    return {"build_s": build_s, "size_mb": path.stat().st_size / 1e6, "lat": lat}


# -- PostgreSQL ---------------------------------------------------------------------------------

def bench_postgres(catalog, queries: list[str]) -> dict | str:  # type: ignore[no-untyped-def]
    try:
        import psycopg
        import sqlalchemy as sa

        url = sa.engine.make_url(PG_ADMIN_URL)
        dsn = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except Exception as e:  # noqa: BLE001
        return f"skipped: PostgreSQL not reachable ({str(e).splitlines()[0]})"
    name = f"merx_search_bench_{os.getpid()}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = psycopg.connect(dsn.replace(f"dbname={url.database}", f"dbname={name}"), autocommit=True)
        conn.execute("CREATE TABLE products (id bigint primary key, name text, body text, tsv tsvector)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY products (id, name, body) FROM STDIN") as copy:
            for p in catalog.products:
                copy.write_row((p.product_id, f"{p.style} {p.colour} {p.material} {p.type} by {p.brand}",
                                product_text(p)))
        conn.execute("UPDATE products SET tsv = setweight(to_tsvector('english', name), 'A') || "
                     "setweight(to_tsvector('english', body), 'B')")
        conn.execute("CREATE INDEX products_tsv ON products USING gin (tsv)")
        conn.execute("ANALYZE products")
        build_s = time.perf_counter() - started
        lat: list[float] = []
        for q in queries:
            t = time.perf_counter()
            count = conn.execute("SELECT count(*) FROM products WHERE tsv @@ plainto_tsquery('english', %s)",
                                 (q,)).fetchone()[0]
            tsq = "plainto_tsquery('english', %s)"
            if count < 5:
                tsq = "replace(plainto_tsquery('english', %s)::text, '&', '|')::tsquery"
                conn.execute(f"SELECT count(*) FROM products WHERE tsv @@ {tsq}", (q,)).fetchone()
            conn.execute(f"SELECT id, ts_rank(tsv, qq.q) AS r FROM products, (SELECT {tsq} AS q) qq "
                         "WHERE tsv @@ qq.q ORDER BY r DESC LIMIT 1000", (q,)).fetchall()
            lat.append((time.perf_counter() - t) * 1000)
        size = conn.execute("SELECT pg_total_relation_size('products')").fetchone()[0]
        conn.close()
        return {"build_s": build_s, "size_mb": size / 1e6, "lat": lat}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# -- HTTP ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_seconds(pid: int) -> float:
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


def bench_http(data_dir: Path, queries: list[str], seconds: float, clients: int) -> dict | str:
    import httpx

    env = {**os.environ, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING"}
    env.pop("MERX_DATABASE_URL", None)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "merx.cli", "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            return "skipped: the server did not start"
        # warm both workers (first requests load analysers and map the index)
        warm = [threading.Thread(target=lambda q=q: httpx.get(url + "/api/v1/search", params={"q": q, "lang": "en"},
                                                              timeout=60)) for q in queries[:16]]
        for th in warm:
            th.start()
        for th in warm:
            th.join()
        done: list[float] = []
        errors = [0]
        stop_at = time.time() + seconds
        lock = threading.Lock()

        def worker(offset: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                i = offset
                while time.time() < stop_at:
                    t = time.perf_counter()
                    r = c.get("/api/v1/search", params={"q": queries[i % len(queries)], "lang": "en"})
                    with lock:
                        if r.status_code == 200:
                            done.append((time.perf_counter() - t) * 1000)
                        else:
                            errors[0] += 1
                    i += clients

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        cpu_before = server_cpu_seconds(proc.pid)
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(proc.pid) - cpu_before
        return {"qps": len(done) / elapsed, "lat": done, "errors": errors[0], "clients": clients,
                "cpu_ms": cpu * 1000 / max(1, len(done))}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2, help="passes over the query set for the latency figures")
    ap.add_argument("--http-seconds", type=float, default=20.0)
    ap.add_argument("--http-clients", type=int, default=4)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-semantic", action="store_true")
    ap.add_argument("--precompute-vectors", action="store_true",
                    help="only embed the catalog's distinct texts into the cache (~/.cache/merx-bench), then stop")
    args = ap.parse_args()

    from merx.search.simulate import generate_catalog

    print(f"# search benchmark\nmachine: {machine()}\ncommand: python {' '.join(sys.argv)}\n")
    t = time.perf_counter()
    catalog = generate_catalog(args.products, 240, seed=11)
    queries = load_queries([q.text for q in catalog.queries])
    random.Random(1).shuffle(queries)
    print(f"generated {len(catalog.products):,} products in {time.perf_counter() - t:.1f} s; {len(queries)} queries\n")
    if args.precompute_vectors:
        precompute_vectors(catalog)
        return

    work = Path(tempfile.mkdtemp(prefix="merx-search-bench-"))
    try:
        data_dir = work / "data"
        merx = bench_merx(catalog, queries, data_dir / "search" / "index", args.repeat)
        print("## Merx (tantivy, analysed tokens; stages 3-4 in Python)")
        print(f"index build {merx['build_s']:.1f} s ({len(catalog.products) / merx['build_s']:,.0f} products/s), "
              f"index {merx['size_mb']:.1f} MB, peak RSS {merx['rss_mb']:.0f} MB")
        print(f"mean matches per query (total): {merx['mean_total']:,.0f}")
        for stage, values in merx["stages"].items():
            print(f"  {stage:<11} {summary(values)}")
        print(f"  end-to-end  {summary(merx['e2e'])}   (stages 1-5, page of 20, no facets)")
        print(f"  CPU/query   {summary(merx['cpu'])}   (process CPU time of the same searches: what load inflates least)")
        print(f"  with facets {summary(merx['e2e_facets'])}")
        print(f"  stages 1-2  {summary(merx['s12'])}   (count + BM25 top 1,000: comparable to the baselines)\n")

        if not args.skip_semantic:
            hy = bench_hybrid(catalog, queries, data_dir / "search" / "index", args.repeat)
            print("## Merx hybrid (lexical + semantic stage, fused)")
            if isinstance(hy, str):
                print(hy + "\n")
            else:
                n = len(catalog.products)
                print(f"vectors: {hy['real']:,} products with their own text's vector, {hy['borrowed']:,} with the "
                      f"vector of the same words and another brand (+noise), {hy['random']:,} with a random cached "
                      f"vector (+noise); {hy['distinct_cached']:,} of {hy['distinct']:,} distinct texts embedded")
                print(f"embedding cost per product: {hy['sample_ms']:.2f} ms wall, {hy['sample_cpu_ms']:.2f} ms CPU "
                      f"measured now (256 texts, one thread, batches of 64); {hy['cache_ms_per_text']:.2f} ms in the precompute ({hy['cache_texts']:,} texts, "
                      f"niced, machine shared); {n:,} products = {hy['distinct']:,} distinct texts "
                      f"~{hy['distinct'] * hy['sample_cpu_ms'] / 1000 / 60:.0f} min of one core at the CPU rate measured now")
                print(f"vector store ({hy['mode']}): built in {hy['store_s']:.1f} s ({os.cpu_count()} threads; snapshot + "
                      f"index), {hy['size_mb']:.0f} MB on disk of which the HNSW index {hy['index_mb']:.0f} MB; "
                      f"reload by another process {hy['reload_s']:.1f} s; one product edit (embed + index update "
                      f"+ log append) {hy['edit_ms']:.1f} ms; peak RSS {hy['rss_mb']:.0f} MB")
                print(f"ANN recall@100 against the exact scan at ef {hy['ef']}: mean {hy['recall']:.4f}, worst "
                      f"{hy['recall_min']:.3f}, {hy['recall_below']} below 0.99 ({hy['recall_n']} queries); at ef 1000: "
                      f"mean {hy['recall_1000']:.4f}, worst {hy['recall_1000_min']:.3f}, {hy['recall_1000_below']} below "
                      f"0.99, ANN {summary(hy['ann_1000'])}; the exact flat scan {summary(hy['flat_ms'])}")
                print(f"  query embedding {summary(hy['embed_q'])}")
                print(f"  query embedding CPU {summary(hy['embed_q_cpu'])}   ({len(hy['embed_q_cpu'])} queries, one at a time)")
                print(f"  vector search + candidates {summary(hy['scan'])}   (HNSW ef {hy['ef']})")
                for phase, values in hy["phases"].items():
                    print(f"    {phase:<19} {summary(values)}")
                print(f"  end-to-end  {summary(hy['e2e'])}   (hybrid, stages 1-5, page of 20, no facets; cold: "
                      f"every query embedded; MERX_SEARCH_SEMANTIC_OVERLAP={hy['overlap']}: {hy['overlapped']} of "
                      f"{len(hy['e2e'])} searches overlapped)")
                print(f"  end-to-end warm {summary(hy['warm'])}   (the same queries repeated: vectors from the "
                      f"query-vector cache)")
                for setting, values in hy["forced"].items():
                    print(f"  end-to-end cold, overlap forced {'on' if setting else 'off'} {summary(values)}")
                print(f"  CPU/query   {summary(hy['cpu'])}   (process CPU time of the same searches)\n")

        fts = {"lat": [], "build_s": 0.0, "size_mb": 0.0}
        if not args.skip_sqlite:
            fts = bench_sqlite(catalog, queries, work)
            print("## SQLite FTS5 (bm25), count + top 1,000")
            print(f"build {fts['build_s']:.1f} s, {fts['size_mb']:.1f} MB;  {summary(fts['lat'])}\n")

        pg: dict | str = "skipped (--skip-postgres)"
        if not args.skip_postgres:
            pg = bench_postgres(catalog, queries)
        print("## PostgreSQL full text (tsvector GIN, ts_rank), count + top 1,000")
        if isinstance(pg, str):
            print(pg + "\n")
        else:
            print(f"build {pg['build_s']:.1f} s, {pg['size_mb']:.1f} MB;  {summary(pg['lat'])}\n")

        if not args.skip_http:
            from merx.core.db import Database
            from merx.core.migrate import upgrade
            from merx.contexts import import_models

            import_models()
            db = Database(f"sqlite:///{data_dir / 'merx.db'}")
            upgrade(db)
            db.dispose()
            http = bench_http(data_dir, queries, args.http_seconds, args.http_clients)
            print(f"## HTTP: GET /api/v1/search, 2 Uvicorn workers, {args.http_clients} client threads, "
                  f"{args.http_seconds:.0f} s (each search also writes its log row)")
            if isinstance(http, str):
                print(http + "\n")
            else:
                print(f"{http['qps']:.1f} queries/s, {http['errors']} errors, server CPU {http['cpu_ms']:.1f} ms/query;  "
                      f"{summary(http['lat'])}\n")

        print("## side by side (p50 / p99 ms)")
        rows = [("Merx stages 1-2", merx["s12"]), ("Merx full pipeline", merx["e2e"]), ("SQLite FTS5", fts["lat"])]
        if not isinstance(pg, str):
            rows.append(("PostgreSQL FTS", pg["lat"]))
        for label, values in rows:
            print(f"  {label:<20} {pct(values, 50):8.2f} / {pct(values, 99):8.2f}")
        if not isinstance(pg, str):
            print(f"  PostgreSQL p50 / Merx full pipeline p50: {pct(pg['lat'], 50) / pct(merx['e2e'], 50):.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
