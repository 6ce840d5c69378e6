"""Stage 3's facts at scale, piece by piece (issue #22): restricting a search to the 1,000
candidates' ids with tantivy's term_set_query against a boolean of term queries
(candidates.id_query), the whole fact gathering (candidates.gather_facts), and the fusion's
vector-row lookup by a list comprehension against map(dict.get).

    python benchmarks/hybrid_phases.py --products 1000000      # builds the data dir once
    python benchmarks/stage3_facts.py --data /tmp/merx-hybrid-phases-1000000

The candidate sets are the real ones: every query of hybrid_phases' set is searched once
(lexical retrieval) and the candidates and questions stage 3 got are replayed."""

from __future__ import annotations

import argparse
import random
import sys
import time
from itertools import repeat
from pathlib import Path

import numpy as np
import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_bench import load_queries, machine, pct  # noqa: E402


def timed(label: str, calls: list, f) -> None:  # type: ignore[no-untyped-def]
    ms = []
    for c in calls:
        t = time.perf_counter()
        f(*c)
        ms.append((time.perf_counter() - t) * 1000)
    print(f"  {label:<48} p50 {pct(ms, 50):6.3f}  mean {np.mean(ms):6.3f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--products", type=int, default=1_000_000)
    args = ap.parse_args()

    from merx.search import candidates as cm
    from merx.search.index import SearchIndex
    from merx.search.ranking import Engine, SearchRequest
    from merx.search.simulate import generate_catalog

    print(f"# stage 3 facts\nmachine: {machine()}\ncommand: python {' '.join(sys.argv)}")
    queries = load_queries([q.text for q in generate_catalog(2000, 240, seed=11).queries])
    random.Random(1).shuffle(queries)
    engine = Engine(SearchIndex(args.data / "index"))
    schema = engine.index.schema
    calls: list = []
    gather = engine._facts

    def spy(searcher, candidates, questions):  # type: ignore[no-untyped-def]
        if len(candidates) > 100:
            calls.append((searcher, [c.address for c in candidates], [c.product_id for c in candidates], questions))
        return gather(searcher, candidates, questions)

    engine._facts = spy  # type: ignore[method-assign]
    for q in queries:
        engine.search(SearchRequest(q=q, lang="en", facets=False, retrieval="lexical"))
    searcher = calls[0][0]
    print(f"{searcher.num_docs:,} documents in {searcher.num_segments} segment(s); {len(calls)} candidate sets, "
          f"{np.mean([len(c[2]) for c in calls]):.0f} ids on average")

    def restricted(make):  # type: ignore[no-untyped-def]
        def run(s, addresses, ids, questions):  # type: ignore[no-untyped-def]
            flags = [(tantivy.Occur.Should, tantivy.Query.const_score_query(q, float(1 << k)))
                     for k, q in enumerate(questions.values())]
            ids_q = tantivy.Query.const_score_query(make(ids), 0.0)
            return s.search(tantivy.Query.boolean_query([(tantivy.Occur.Must, ids_q)] + flags), len(ids), count=False)
        return run

    timed("questions over the ids, term_set_query", calls,
          restricted(lambda ids: tantivy.Query.term_set_query(schema, "product_id", ids)))
    timed("questions over the ids, boolean of term queries", calls, restricted(lambda ids: cm.id_query(schema, ids)))
    timed("gather_facts (signals + questions)", calls, lambda s, a, ids, qs: cm.gather_facts(s, schema, a, ids, qs))
    row = {pid: i for i, pid in enumerate(range(3, 7 * args.products, 7))}
    rng = np.random.default_rng(1)
    lookups = [((rng.integers(0, args.products, 1100) * 7 + 3).tolist(),) for _ in range(300)]
    timed("1,100 vector rows by list comprehension", lookups,
          lambda ids: np.asarray([row.get(int(p), -1) for p in ids], dtype=np.int64))
    timed("1,100 vector rows by map(dict.get)", lookups,
          lambda ids: np.fromiter(map(row.get, ids, repeat(-1)), dtype=np.int64, count=len(ids)))


if __name__ == "__main__":
    main()
