"""HNSW recall at the search benchmark's full size: the product vectors search_bench.py
builds from the embedding cache (own vector, or the same words with another brand + noise),
usearch f16 at several M / ef_construction / ef, recall@100 (tie-aware) against the exact
scan on the benchmark's first 100 shuffled queries.

    python benchmarks/ann_at_scale.py --products 1000000 --configs 16:64 32:64 --ef 160 400 1000"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=1_000_000)
    ap.add_argument("--configs", nargs="+", default=["16:64", "32:64"], help="M:ef_construction")
    ap.add_argument("--ef", type=int, nargs="+", default=[160, 400, 1000])
    args = ap.parse_args()
    import hybrid_bench as hb
    import search_bench as sb

    from merx.search.semantic import embedder
    from merx.search.simulate import generate_catalog
    from merx.search.vectors import _usearch

    Index = _usearch()  # onnxruntime first (vectors._usearch)
    catalog = generate_catalog(args.products, 240, seed=11)
    queries = sb.load_queries([q.text for q in catalog.queries])
    random.Random(1).shuffle(queries)
    pv = hb.product_vectors(catalog)
    x = pv["vectors"]
    print(f"{len(x):,} vectors: {pv['real']:,} own, {pv['borrowed']:,} same words another brand (+noise)")
    qv = embedder().embed(queries[:100])
    exact = []
    for v in qv:
        s = x @ v
        exact.append(np.sort(s[np.argpartition(-s, 99)[:100]])[::-1])
    for config in args.configs:
        m, efc = (int(p) for p in config.split(":"))
        index = Index(ndim=x.shape[1], metric="cos", dtype="f16", connectivity=m, expansion_add=efc)
        t = time.perf_counter()
        index.add(np.arange(len(x)), x, threads=2)
        build = time.perf_counter() - t
        for ef in args.ef:
            index.expansion_search = ef
            t = time.perf_counter()
            recalls = [hb.tie_aware_recall(x[index.search(v, 100).keys] @ v, e) for v, e in zip(qv, exact)]
            per_q = (time.perf_counter() - t) * 1000 / len(qv)
            print(f"M {m} ef_construction {efc}: build {build:.0f} s (2 threads); ef {ef}: recall@100 mean "
                  f"{np.mean(recalls):.3f} worst {np.min(recalls):.3f}, {per_q:.2f} ms/query", flush=True)
        del index


if __name__ == "__main__":
    main()
