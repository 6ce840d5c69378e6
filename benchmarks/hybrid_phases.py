"""Where a hybrid search spends its time, phase by phase, at a given catalog size (issue #22:
hybrid p50 <= 15 ms, p99 <= 40 ms in process at 1,000,000 products).

    nice -n 10 python benchmarks/search_bench.py --products 100000 --precompute-vectors   # vectors first
    nice -n 10 python benchmarks/hybrid_phases.py --products 100000

The index and the vector store are built once into --data (default
/tmp/merx-hybrid-phases-<products>) and reused by later runs (--rebuild to start over), so a
change to the query path is measured in minutes. Same catalog (seed 11), queries (the
generated ones plus the WANDS queries when present) and vectors as benchmarks/search_bench.py.

Passes, each over every query (single-threaded caller, in process, page of 20, no facets):
- cold: the query-vector cache emptied before every search, so every query is embedded (what
  a query nobody typed recently costs);
- warm: every query searched once, then timed again (a head query shoppers repeat);
- cold with the other MERX_SEARCH_SEMANTIC_OVERLAP setting (default off: the embedding and
  ANN after the lexical stage; on: beside it), to show what the overlap buys on this machine;
- lexical: retrieval=lexical, the path that must not get slower.
Each prints end-to-end and process-CPU p50/p99 and p50/p99 of every phase in `timings_ms`.
Then --ef-sweep: recall@100 of the HNSW candidates against the exact flat scan (tie-aware, as
search_bench.py counts it) and the ANN's own latency at each ef.

Works against an older tree too (no cache, no overlap setting): the passes it cannot tell
apart are skipped, so a before/after comparison runs the same script."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_bench import product_vectors, tie_aware_recall  # noqa: E402
from search_bench import load_queries, machine, pct  # noqa: E402


def build(catalog, data: Path) -> None:  # type: ignore[no-untyped-def]
    from merx.search.documents import build_record
    from merx.search.index import SearchIndex
    from merx.search.simulate import _doc
    from merx.search.vectors import VectorStore

    t = time.perf_counter()
    SearchIndex(data / "index").rebuild(build_record(_doc(p), p.signals) for p in catalog.products)
    print(f"index built in {time.perf_counter() - t:.0f} s", flush=True)
    pv = product_vectors(catalog)
    if "error" in pv:
        sys.exit(pv["error"])
    print(f"vectors: {pv['real']:,} products with their own text's vector, {pv['borrowed']:,} borrowed "
          f"(same words, another brand, +noise), {pv['random']:,} random cached (+noise)", flush=True)
    t = time.perf_counter()
    VectorStore(data / "vectors").upsert(
        [(p.product_id, pv["keys"][i], pv["vectors"][i]) for i, p in enumerate(catalog.products)],
        replace_all=True, threads=os.cpu_count() or 1)
    print(f"vector store built in {time.perf_counter() - t:.0f} s", flush=True)
    (data / "built").write_text(str(len(catalog.products)))


def clear_query_cache() -> bool:
    try:
        from merx.search.semantic import query_vector_cache
    except ImportError:
        return False
    query_vector_cache().clear()
    return True


def run_pass(engine, queries: list[str], *, cold: bool, retrieval: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    from merx.search.ranking import SearchRequest

    e2e: list[float] = []
    cpu: list[float] = []
    phases: dict[str, list[float]] = {}
    cached = overlapped = 0
    for q in queries:
        if cold:
            clear_query_cache()
        t, c = time.perf_counter(), time.process_time()
        out = engine.search(SearchRequest(q=q, lang="en", limit=20, facets=False, retrieval=retrieval))
        e2e.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        cached += bool(getattr(out, "query_vector_cached", None))
        overlapped += bool(getattr(out, "semantic_overlapped", None))
        for k, v in out.timings_ms.items():
            phases.setdefault(k, []).append(v)
    return {"e2e": e2e, "cpu": cpu, "phases": phases, "cached": cached, "overlapped": overlapped, "n": len(queries)}


def report(label: str, r: dict) -> None:
    print(f"\n## {label} ({r['n']} searches, {r['cached']} query vectors from the cache, "
          f"{r['overlapped']} overlapped)")
    print(f"  {'end-to-end':<20} p50 {pct(r['e2e'], 50):7.2f}  p99 {pct(r['e2e'], 99):7.2f} ms")
    print(f"  {'CPU (process)':<20} p50 {pct(r['cpu'], 50):7.2f}  p99 {pct(r['cpu'], 99):7.2f} ms")
    for k, v in r["phases"].items():
        print(f"  {k:<20} p50 {pct(v, 50):7.2f}  p99 {pct(v, 99):7.2f} ms   ({len(v)} searches)")


def set_ef(store, ef: int) -> None:  # type: ignore[no-untyped-def]
    if hasattr(type(store), "ef"):
        store.ef = ef
    elif store._ann is not None:  # an older tree: the index's own setting
        store._ann.expansion_search = ef


def ef_sweep(store, queries: list[str], efs: list[int]) -> None:  # type: ignore[no-untyped-def]
    from merx.search.semantic import embedder

    if store.mode != "hnsw":
        print(f"\n## ef sweep skipped: the store scans flat below the threshold ({len(store):,} vectors)")
        return
    model = embedder()
    vectors = model.embed(queries)
    matrix = store.matrix
    exact = []
    for v in vectors:
        sims = matrix @ v
        exact.append(np.sort(sims[np.argpartition(-sims, 99)[:100]])[::-1])
    print(f"\n## ef sweep: recall@100 against the exact flat scan, ANN latency ({len(queries)} queries, "
          f"{len(store):,} vectors)")
    for ef in efs:
        set_ef(store, ef)
        for v in vectors[:20]:  # warm the graph's pages at this ef
            store.nearest(v, 100)
        recalls, near, shortfall, lat = [], [], [], []
        for v, ex in zip(vectors, exact):
            t = time.perf_counter()
            _, got = store.nearest(v, 100)
            lat.append((time.perf_counter() - t) * 1000)
            recalls.append(tie_aware_recall(got, ex))
            # a miss that is a near-equal: found within 0.01 cosine of the exact 100th
            near.append(min(1.0, float((got >= ex[-1] - 0.01).sum()) / len(ex)))
            shortfall.append(float(ex.mean() - got[:len(ex)].mean()) if len(got) else 1.0)
        print(f"  ef {ef:>5}: recall mean {np.mean(recalls):.4f}  worst {np.min(recalls):.3f}  "
              f"queries below 0.99: {sum(r < 0.99 for r in recalls):>3};  within 0.01 cosine: mean "
              f"{np.mean(near):.4f}, below 0.99: {sum(r < 0.99 for r in near):>3};  mean cosine shortfall of "
              f"the found 100: mean {np.mean(shortfall):.5f}, worst {np.max(shortfall):.4f};  "
              f"ANN p50 {pct(lat, 50):6.2f}  p99 {pct(lat, 99):6.2f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--passes", default="cold,warm,sequential,lexical")
    ap.add_argument("--ef-sweep", default="100,200,300,400,600,1000", help="comma-separated; empty to skip")
    ap.add_argument("--ef-queries", type=int, default=300)
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval for the run (seconds; Python's default 0.005): how soon a "
                         "thread back from native code gets the GIL from one running Python")
    args = ap.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    from merx.search.index import SearchIndex
    from merx.search.model import Ranker
    from merx.search.ranking import Engine, RankConfig, SearchRequest
    from merx.search.semantic import embedder
    from merx.search.simulate import generate_catalog
    from merx.search.vectors import VectorStore

    print(f"# hybrid phases\nmachine: {machine()}\ncommand: python {' '.join(sys.argv)}")
    print(f"tree: {__import__('merx').__file__}; GIL switch interval {sys.getswitchinterval() * 1000:g} ms")
    catalog = generate_catalog(args.products, 240, seed=11)
    queries = load_queries([q.text for q in catalog.queries])
    random.Random(1).shuffle(queries)
    data = args.data or Path(f"/tmp/merx-hybrid-phases-{args.products}")
    if args.rebuild or not (data / "built").exists():
        data.mkdir(parents=True, exist_ok=True)
        build(catalog, data)
    if embedder() is None:
        sys.exit("the semantic extra is not installed")
    store = VectorStore(data / "vectors")
    engine = Engine(SearchIndex(data / "index"), Ranker(), RankConfig(), vectors=store)
    ef = getattr(store, "ef", None) or (store._ann.expansion_search if store._ann is not None else None)
    print(f"{args.products:,} products, {len(store):,} vectors ({store.mode}, ef {ef}), {len(queries)} queries; "
          f"overlap {getattr(engine, 'overlap', 'n/a (older tree)')}")
    for q in queries[:20]:
        engine.search(SearchRequest(q=q, lang="en", facets=False))
    passes = args.passes.split(",")
    has_cache = clear_query_cache()
    if "cold" in passes:
        setting = f", overlap {engine.overlap}" if hasattr(engine, "overlap") else ""
        report(("hybrid, cold (query vector embedded every time)" if has_cache else "hybrid (no query cache)")
               + setting, run_pass(engine, queries, cold=True))
    if "warm" in passes and has_cache:
        run_pass(engine, queries, cold=False)  # fills the cache
        report("hybrid, warm (every query searched before)", run_pass(engine, queries, cold=False))
    if "sequential" in passes and hasattr(engine, "overlap"):  # the overlap forced off, then on
        setting = engine.overlap
        for engine.overlap in (False, True):
            label = "overlap forced on (MERX_SEARCH_SEMANTIC_OVERLAP=1)" if engine.overlap else \
                "overlap forced off (MERX_SEARCH_SEMANTIC_OVERLAP=0)"
            report(f"hybrid, cold, {label}", run_pass(engine, queries, cold=True))
        engine.overlap = setting
    if "lexical" in passes:
        report("lexical only (retrieval=lexical)", run_pass(engine, queries, cold=True, retrieval="lexical"))
    if args.ef_sweep:
        ef_sweep(store, queries[:args.ef_queries], [int(x) for x in args.ef_sweep.split(",")])


if __name__ == "__main__":
    main()
