"""The semantic stage at query time: embed the query (or take its vector from the cache) and
find its nearest products, on a small pool thread while tantivy runs the lexical stage.

When a thread helps: the three native libraries doing the work (onnxruntime for the model,
usearch for the HNSW walk, tantivy for BM25) release the GIL, so with a core to spare the
embedding and the ANN overlap the lexical stage instead of adding to it. Neither side depends
on the other: the lexical candidates only meet the semantic ones in the fusion. On a busy
machine the hand-offs cost more than they hide (each return from native code waits for the
GIL held by the other thread's Python, and the pool thread waits for a core), so
MERX_SEARCH_SEMANTIC_OVERLAP is off by default and `start` then runs the lookup on the
caller's thread (figures: docs/search-quality.md; benchmarks/hybrid_phases.py compares)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from merx.search.semantic import Embedder, Fusion, embed_query, equal_word_matches, fuse
from merx.search.vectors import VectorStore

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Created on first use. A few threads: concurrent searches (Uvicorn's worker threads)
    each hand over one lookup; more threads than cores would only queue inside the model."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1),
                                       thread_name_prefix="merx-semantic")
        return _POOL


@dataclass(frozen=True)
class SemanticLookup:
    vector: np.ndarray  # the query's unit vector (read-only)
    ids: np.ndarray  # the nearest products, best first
    sims: np.ndarray  # their exact cosines
    embed_ms: float
    ann_ms: float
    cached: bool  # the vector came from the query-vector cache


def lookup(model: Embedder, vectors: VectorStore, text: str, k: int) -> SemanticLookup:
    t0 = time.perf_counter()
    vector, cached = embed_query(model, text)
    t1 = time.perf_counter()
    ids, sims = vectors.nearest(vector, k)
    t2 = time.perf_counter()
    return SemanticLookup(vector, ids, sims, round((t1 - t0) * 1000, 3), round((t2 - t1) * 1000, 3), cached)


def start(model: Embedder, vectors: VectorStore, text: str, k: int, *, overlap: bool) -> "Future[SemanticLookup]":
    """The lookup running on the pool (overlap) or already done on this thread."""
    if overlap:
        return _pool().submit(lookup, model, vectors, text, k)
    done: Future[SemanticLookup] = Future()
    try:
        done.set_result(lookup(model, vectors, text, k))
    except BaseException as e:  # noqa: BLE001 - raised by result(), as from the pool
        done.set_exception(e)
    return done


def fuse_into(candidates: list, vector: np.ndarray, vectors: VectorStore, fusion: Fusion, mode: str,
              retrieval: str) -> None:
    """Each candidate's cosine, RRF and linear scores, and in hybrid (semantic) mode its stage 2
    score becomes the fused score (the cosine)."""
    n = len(candidates)
    lexical = np.fromiter((c.lexical for c in candidates), dtype=np.float64, count=n)
    sims = vectors.similarity(vector, [c.product_id for c in candidates])
    # The fusion reads the cosine only where words leave a question open (see
    # `equal_word_matches`); the cosine itself stays a stage 3 feature.
    fused_sims = equal_word_matches(lexical, sims) if mode == "and" else sims
    fused, rrf, linear = fuse(lexical, fused_sims, fusion)
    stage2 = fused if retrieval == "hybrid" else sims if retrieval == "semantic" else None
    # plain floats once per array (tolist), not one numpy scalar conversion per candidate
    sims_l, rrf_l, linear_l = sims.tolist(), rrf.tolist(), linear.tolist()
    if stage2 is None:
        for c, s, r, li in zip(candidates, sims_l, rrf_l, linear_l):
            c.semantic, c.rrf, c.linear = s, r, li
    else:
        for c, s, r, li, st in zip(candidates, sims_l, rrf_l, linear_l, stage2.tolist()):
            c.semantic, c.rrf, c.linear, c.stage2 = s, r, li, st
