"""The small measurement behind the vector index choice (semantic.py): usearch against hnswlib
on the same vectors, HNSW with the same M / ef parameters, one thread: build time, size, query
latency and recall@100 against the exact (flat) scan.

    python benchmarks/ann_choice.py [--n 50000] [--vectors cached]

Vectors: the search benchmark's embedding cache (~/.cache/merx-bench, real MiniLM product
vectors) when it holds at least --n, else clustered random unit vectors (stated in the output)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def vectors(n: int) -> tuple[np.ndarray, str]:
    import embedding_cache

    from merx.search.semantic import MODEL_ID

    _, cached, _, _ = embedding_cache.load(MODEL_ID)
    if len(cached) >= n:
        return cached[:n], f"{n:,} real product vectors from the embedding cache"
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(n // 50, 384))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.6, size=(n, 384))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), f"{n:,} clustered random unit vectors"


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--expansion-add", type=int, nargs="+", default=[128], help="HNSW ef_construction values to try")
    ap.add_argument("--only-usearch-f16", action="store_true")
    args = ap.parse_args()
    x, what = vectors(args.n + args.queries)
    base, queries = x[:args.n], x[args.n:]
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :100]
    print(f"{what}; {args.queries} held-out queries; k = 100; M 16, ef 160; one thread")
    tmp = Path(tempfile.mkdtemp())
    import usearch.index as ui

    for dtype, ef_add in [(d, e) for d in (("f16",) if args.only_usearch_f16 else ("f32", "f16", "i8"))
                          for e in args.expansion_add]:
        index = ui.Index(ndim=384, metric="cos", dtype=dtype, connectivity=16, expansion_add=ef_add,
                         expansion_search=160)
        t = time.perf_counter()
        index.add(np.arange(args.n), base, threads=1)
        build = time.perf_counter() - t
        index.save(str(tmp / f"u_{dtype}.usearch"))
        t = time.perf_counter()
        found = [index.search(q, 100).keys for q in queries]
        per_q = (time.perf_counter() - t) * 1000 / len(queries)
        size = (tmp / f"u_{dtype}.usearch").stat().st_size / 1e6
        print(f"usearch {dtype} ef_construction {ef_add}: build {build:.1f} s, {size:.0f} MB, {per_q:.2f} ms/query, "
              f"recall@100 {recall(found, exact):.3f}")
    if args.only_usearch_f16:
        return
    import hnswlib

    index = hnswlib.Index(space="ip", dim=384)
    index.init_index(max_elements=args.n, M=16, ef_construction=args.expansion_add[0], allow_replace_deleted=True)
    index.set_num_threads(1)
    t = time.perf_counter()
    index.add_items(base, np.arange(args.n))
    build = time.perf_counter() - t
    index.set_ef(160)
    index.save_index(str(tmp / "h.bin"))
    t = time.perf_counter()
    found = [index.knn_query(q, 100)[0][0] for q in queries]
    per_q = (time.perf_counter() - t) * 1000 / len(queries)
    print(f"hnswlib f32 ef_construction {args.expansion_add[0]}: build {build:.1f} s, {(tmp / 'h.bin').stat().st_size / 1e6:.0f} MB, {per_q:.2f} ms/query, "
          f"recall@100 {recall(found, exact):.3f}")
    t = time.perf_counter()
    for q in queries:
        np.argpartition(-(base @ q), 100)[:100]
    print(f"flat float32 scan: {(time.perf_counter() - t) * 1000 / len(queries):.2f} ms/query")


if __name__ == "__main__":
    main()
