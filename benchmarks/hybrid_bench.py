"""The hybrid half of benchmarks/search_bench.py (split out to keep each file short): the
product vectors from the embedding cache, the vector store's build, ANN recall against the
exact scan, and hybrid end-to-end latency cold, warm and with the overlap forced off and on.
benchmarks/hybrid_phases.py reuses the vectors and the recall measure."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # embedding_cache beside this file


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def product_vectors(catalog) -> dict:  # type: ignore[no-untyped-def]
    """Every product's vector from the embedding cache (filled by --precompute-vectors). A
    product whose own text is not cached yet takes the cached vector of the same words with
    another brand number plus a little noise (sigma 0.004 a dimension, cosine ~0.997 to it: two
    texts differing in one brand token), so the index holds no exact duplicates a real catalog
    would not have; one whose words are not cached at all takes a random cached vector plus
    noise. Both counts are reported."""
    import embedding_cache

    import numpy as np

    from merx.search.semantic import MODEL_ID

    keys, texts, _, first_of = product_texts(catalog)
    row, cached, seconds, count = embedding_cache.load(MODEL_ID)
    if not len(cached):
        return {"error": "the embedding cache is empty: run with --precompute-vectors first"}
    rng = np.random.default_rng(1)
    out = np.empty((len(keys), cached.shape[1]), dtype=np.float32)
    real = borrowed = random_ = 0
    for i, key in enumerate(keys):
        r = row.get(key)
        if r is not None:
            out[i] = cached[r]
            real += 1
            continue
        r = row.get(first_of[key])
        if r is not None:
            borrowed += 1
        else:
            r = int(rng.integers(0, len(cached)))
            random_ += 1
        v = cached[r] + rng.normal(0, 0.004, size=cached.shape[1]).astype(np.float32)
        out[i] = v / np.linalg.norm(v)
    distinct_cached = sum(1 for k in texts if k in row)
    return {"vectors": out, "keys": keys, "real": real, "borrowed": borrowed, "random": random_,
            "distinct": len(texts), "distinct_cached": distinct_cached,
            "cache_ms_per_text": seconds * 1000 / max(count, 1), "cache_texts": count,
            "sample_texts": [texts[k] for k in list(texts)[:256]]}


def tie_aware_recall(found_sims: np.ndarray, exact_sims: np.ndarray) -> float:  # type: ignore[name-defined]
    """Share of the exact top-k the ANN returned, counted by similarity: a returned product as
    similar as the exact k-th counts (equal vectors make the exact id set arbitrary)."""
    cut = float(exact_sims[-1]) - 1e-6
    return min(1.0, float((found_sims >= cut).sum()) / len(exact_sims))


def bench_hybrid(catalog, queries: list[str], base: Path, repeat: int) -> dict | str:  # type: ignore[no-untyped-def]
    """Hybrid retrieval (the semantic extra) at the catalog's size: embedding cost per product
    (the precompute's measured rate, and a sample measured now) and per query, the vector
    store's build time and size (snapshot + HNSW index above the threshold), ANN recall@100
    against the exact flat scan on a sample of the queries, end-to-end latency."""
    from merx.search.index import SearchIndex
    from merx.search.model import Ranker
    from merx.search.ranking import Engine, RankConfig, SearchRequest
    from merx.search.semantic import embedder
    from merx.search.vectors import VectorStore

    import numpy as np

    model = embedder()
    if model is None:
        return "skipped: the semantic extra is not installed (pip install -e '.[semantic]')"
    t = time.perf_counter()
    pv = product_vectors(catalog)
    if "error" in pv:
        return "skipped: " + pv["error"]
    assemble_s = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    model.embed(pv["sample_texts"])
    sample_ms = (time.perf_counter() - t) * 1000 / len(pv["sample_texts"])
    sample_cpu_ms = (time.process_time() - c) * 1000 / len(pv["sample_texts"])
    vectors = pv.pop("vectors")
    store_dir = base.parent / "vectors"
    store = VectorStore(store_dir)
    t = time.perf_counter()
    store.upsert([(p.product_id, pv["keys"][i], vectors[i]) for i, p in enumerate(catalog.products)],
                 replace_all=True, threads=os.cpu_count() or 1)
    store_s = time.perf_counter() - t
    del vectors  # the store holds its own copy
    index_files = list(store_dir.glob("vectors-*.usearch"))
    index_mb = sum(f.stat().st_size for f in index_files) / 1e6
    size_mb = store.size_bytes() / 1e6
    t = time.perf_counter()
    reloaded = VectorStore(store_dir)  # what another process (or the next start) does
    reload_s = time.perf_counter() - t
    del reloaded
    # one edit: re-embed one product and update the index (the append log, no rewrite)
    p0 = catalog.products[0]
    t = time.perf_counter()
    store.upsert([(p0.product_id, pv["keys"][0], model.embed([pv["sample_texts"][0]])[0])])
    edit_ms = (time.perf_counter() - t) * 1000
    index = SearchIndex(base)
    engine = Engine(index, Ranker(), RankConfig(), vectors=store)
    for q in queries[:20]:
        engine.search(SearchRequest(q=q, lang="en", facets=False))
    from merx.search.semantic import query_vector_cache

    cache = query_vector_cache()
    e2e: list[float] = []
    cpu: list[float] = []
    embed_q: list[float] = []
    scan: list[float] = []
    phases: dict[str, list[float]] = {}

    overlapped = [0]

    def timed(q: str, into: list[float], cpu_into: list[float] | None = None) -> None:
        t, c = time.perf_counter(), time.process_time()
        out = engine.search(SearchRequest(q=q, lang="en", limit=20, facets=False))
        into.append((time.perf_counter() - t) * 1000)
        if cpu_into is not None:
            overlapped[0] += bool(getattr(out, "semantic_overlapped", False))
            cpu_into.append((time.process_time() - c) * 1000)
            for k, v in out.timings_ms.items():
                phases.setdefault(k, []).append(v)
            if out.query_vector_cached is False:
                embed_q.append(out.timings_ms["embed"])
            if "ann" in out.timings_ms:
                scan.append(out.timings_ms["ann"] + out.timings_ms.get("semantic_candidates", 0.0))

    # cold: the query-vector cache emptied before every search, so every query is embedded
    # (the honest figure for a query nobody typed recently); warm: each query searched once
    # before, its vector from the cache (a repeated head query)
    for _ in range(repeat):
        for q in queries:
            cache.clear()
            timed(q, e2e, cpu)
    warm: list[float] = []
    for q in queries:
        timed(q, [])
    for q in queries:
        timed(q, warm)
    # MERX_SEARCH_SEMANTIC_OVERLAP forced off and forced on, cold, on this machine as it is now
    # (the passes above ran with the setting as configured: auto by default)
    forced: dict[bool, list[float]] = {}
    setting = engine.overlap
    for engine.overlap in (False, True):
        forced[engine.overlap] = []
        for q in queries:
            cache.clear()
            timed(q, forced[engine.overlap])
    engine.overlap = setting
    # recall@100 of the HNSW candidates against the exact scan, on a sample of the queries
    sample = queries[:200]
    qv = model.embed(sample)
    embed_q_cpu: list[float] = []
    for q in sample:  # one query at a time, as a search embeds it
        c = time.process_time()
        model.embed([q])
        embed_q_cpu.append((time.process_time() - c) * 1000)
    recalls: list[float] = []
    flat_ms: list[float] = []
    matrix = store.matrix
    exacts = []
    for v in qv:
        _, got = store.nearest(v, 100)
        t = time.perf_counter()
        sims = matrix @ v
        exact = np.sort(sims[np.argpartition(-sims, 99)[:100]])[::-1]
        flat_ms.append((time.perf_counter() - t) * 1000)
        exacts.append(exact)
        recalls.append(tie_aware_recall(got, exact))
    # the same at ef 1000: what a wider graph walk buys back, and costs
    configured_ef, store.ef = store.ef, 1000
    recalls_1000: list[float] = []
    ann_1000: list[float] = []
    for v, exact in zip(qv, exacts):
        t = time.perf_counter()
        _, got = store.nearest(v, 100)
        ann_1000.append((time.perf_counter() - t) * 1000)
        recalls_1000.append(tie_aware_recall(got, exact))
    store.ef = configured_ef
    return {**pv, "mode": store.mode, "sample_ms": sample_ms, "sample_cpu_ms": sample_cpu_ms, "embed_q_cpu": embed_q_cpu, "cpu": cpu,
            "assemble_s": assemble_s, "store_s": store_s,
            "size_mb": size_mb, "index_mb": index_mb, "reload_s": reload_s, "edit_ms": edit_ms, "e2e": e2e,
            "embed_q": embed_q, "scan": scan, "recall": float(np.mean(recalls)), "warm": warm, "phases": phases,
            "overlap": engine.overlap, "overlapped": overlapped[0], "forced": forced,
            "ef": store.ef,
            "recall_min": float(np.min(recalls)), "recall_n": len(recalls),
            "recall_1000": float(np.mean(recalls_1000)), "recall_1000_min": float(np.min(recalls_1000)),
            "recall_below": sum(r < 0.99 for r in recalls), "recall_1000_below": sum(r < 0.99 for r in recalls_1000),
            "ann_1000": ann_1000, "flat_ms": flat_ms, "rss_mb": rss_mb()}


def product_texts(catalog):  # type: ignore[no-untyped-def]
    """What the semantic stage embeds for each product, built once per distinct text: a
    generated product's text depends only on (style, colour, material, type, brand), and
    build_record costs ~2 ms, so it runs once per (style, colour, material, type) and the other
    brands' texts are that text with the brand token swapped (brandNN occurs nowhere else;
    checked against build_record on a sample). Returns (one text key per product, in catalog
    order; key -> text; the (key, text) pairs in precompute order: round r holds, for every
    (style, colour, material, type), its r-th brand in the catalog, so a precompute stopped
    after a few rounds covers every product's words but the brand number; key -> the key of
    round 0's text of the same words)."""
    from merx.search.documents import build_record
    from merx.search.semantic import text_key
    from merx.search.simulate import _doc

    base: dict[tuple, tuple[str, str]] = {}  # words -> (brand, text)
    by_tuple: dict[tuple, str] = {}
    texts: dict[str, str] = {}
    brands_of: dict[tuple, list[tuple]] = {}
    keys: list[str] = []
    sample = 0
    for p in catalog.products:
        whole = (p.style, p.colour, p.material, p.type, p.brand)
        key = by_tuple.get(whole)
        if key is None:
            words = whole[:4]
            if words not in base:
                base[words] = (p.brand, build_record(_doc(p), p.signals).semantic_text)
                text = base[words][1]
            else:
                brand, first = base[words]
                text = first.replace(brand, p.brand)
                if sample < 50:
                    sample += 1
                    assert text == build_record(_doc(p), p.signals).semantic_text, text
            key = by_tuple[whole] = text_key(text)
            texts[key] = text
            brands_of.setdefault(words, []).append(whole)
        keys.append(key)
    rounds = max(len(v) for v in brands_of.values())
    order = [(by_tuple[ws[r]], texts[by_tuple[ws[r]]]) for r in range(rounds) for ws in brands_of.values()
             if r < len(ws)]
    return keys, texts, order, {by_tuple[w]: by_tuple[ws[0]] for ws in brands_of.values() for w in ws}


def precompute_vectors(catalog) -> None:  # type: ignore[no-untyped-def]
    """Fill the embedding cache (benchmarks/embedding_cache.py) for this catalog: run it early,
    niced, and the timed run reads the vectors back."""
    import embedding_cache

    from merx.search.semantic import MODEL_ID, Embedder, _model_files

    files = _model_files()
    if files is None:
        sys.exit("the semantic extra is not installed (pip install -e '.[semantic]')")
    t = time.perf_counter()
    keys, texts, order, _ = product_texts(catalog)
    print(f"{len(keys):,} products, {len(texts):,} distinct texts ({time.perf_counter() - t:.0f} s to build them)",
          flush=True)
    threads = int(os.environ.get("MERX_BENCH_EMBED_THREADS", "1"))
    model = Embedder(*files, threads=threads)
    started = time.perf_counter()

    def progress(done: int, seconds: float) -> None:
        rate = seconds * 1000 / embedding_cache.CHUNK
        print(f"  embedded {done:,} more ({rate:.2f} ms per text this chunk, "
              f"{time.perf_counter() - started:.0f} s so far)", flush=True)

    embedding_cache.fill(MODEL_ID, order, model.embed, progress)
