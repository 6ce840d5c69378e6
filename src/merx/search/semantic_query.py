"""The semantic stage at query time: embed the query (or take its vector from the cache) and
find its nearest products, on a small pool thread while tantivy runs the lexical stage.

When a thread helps: the three native libraries doing the work (onnxruntime for the model,
usearch for the HNSW walk, tantivy for BM25) release the GIL, so with a core to spare the
embedding and the ANN overlap the lexical stage instead of adding to it. Neither side depends
on the other: the lexical candidates only meet the semantic ones in the fusion. On a busy
machine the hand-offs cost more than they hide (each return from native code waits for the
GIL held by the other thread's Python, and the pool thread waits for a core). So by default
(MERX_SEARCH_SEMANTIC_OVERLAP=auto) a search overlaps only while the machine has an idle core
(`IdleCores`), and otherwise `start` runs the lookup on the caller's thread (figures:
docs/search-quality.md; benchmarks/hybrid_phases.py compares)."""

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


class IdleCores:
    """How many cores an overlapped lookup would find free: what the whole machine left idle
    over the last second or so (the idle and iowait counters of /proc/stat, read at most once
    per `interval`; a read costs ~20 us) plus what this process's overlapped lookups themselves
    used (`add_overlap_cpu`). Counting the latter keeps the decision stable: overlapping uses
    the spare core it measures, and without it one caller searching back to back would see
    half a core idle while overlapping and a whole one while not, and flip between the two.
    None where /proc/stat does not exist (not Linux): `auto` then never overlaps. A hand-rolled
    reader, not psutil: one line of one file, and merx does not otherwise need psutil."""

    def __init__(self, path: str = "/proc/stat", interval: float = 1.0) -> None:
        self.path, self.interval = path, interval
        self._lock = threading.Lock()
        # (monotonic time, idle ticks, total ticks, overlap CPU seconds so far)
        self._last: tuple[float, int, int, float] | None = None
        self._spare: float | None = None
        self._overlap_cpu = 0.0
        self._cores = os.cpu_count() or 1

    def add_overlap_cpu(self, seconds: float) -> None:
        with self._lock:
            self._overlap_cpu += seconds

    def _sample(self) -> tuple[int, int] | None:
        try:
            with open(self.path, "rb") as f:
                fields = f.readline().split()
        except OSError:
            return None
        if not fields or fields[0] != b"cpu":
            return None
        ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
        return ticks[3] + ticks[4], sum(ticks)

    def spare(self) -> float | None:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last[0] < self.interval:
                return self._spare
            sample = self._sample()
            if sample is None:
                return None
            last = self._last
            if last is not None and sample[1] > last[2]:
                idle = self._cores * (sample[0] - last[1]) / (sample[1] - last[2])
                overlap = (self._overlap_cpu - last[3]) / max(now - last[0], 1e-3)
                self._spare = min(float(self._cores), idle + overlap)
            self._last = (now, sample[0], sample[1], self._overlap_cpu)
            return self._spare


IDLE_CORES = IdleCores()
SPARE_CORE = 0.5  # overlap from half a spare core up: the pool thread's share is ~half a search


def should_overlap(setting: bool | str) -> bool:
    """The setting (MERX_SEARCH_SEMANTIC_OVERLAP) for this search: true or false as set;
    auto overlaps while the machine has a spare core."""
    if setting != "auto":
        return bool(setting)
    spare = IDLE_CORES.spare()
    return spare is not None and spare >= SPARE_CORE


@dataclass(frozen=True)
class SemanticLookup:
    vector: np.ndarray  # the query's unit vector (read-only)
    ids: np.ndarray  # the nearest products, best first
    sims: np.ndarray  # their exact cosines
    embed_ms: float
    ann_ms: float
    cached: bool  # the vector came from the query-vector cache
    overlapped: bool = False  # ran on the pool beside the lexical stage


def lookup(model: Embedder, vectors: VectorStore, text: str, k: int, overlapped: bool = False) -> SemanticLookup:
    cpu = time.thread_time()
    t0 = time.perf_counter()
    vector, cached = embed_query(model, text)
    t1 = time.perf_counter()
    ids, sims = vectors.nearest(vector, k)
    t2 = time.perf_counter()
    if overlapped:
        IDLE_CORES.add_overlap_cpu(time.thread_time() - cpu)
    return SemanticLookup(vector, ids, sims, round((t1 - t0) * 1000, 3), round((t2 - t1) * 1000, 3), cached,
                          overlapped)


def start(model: Embedder, vectors: VectorStore, text: str, k: int, *,
          overlap: bool | str) -> "Future[SemanticLookup]":
    """The lookup running on the pool (overlap; `auto`: while a core is idle) or already done
    on this thread."""
    if should_overlap(overlap):
        return _pool().submit(lookup, model, vectors, text, k, True)
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
