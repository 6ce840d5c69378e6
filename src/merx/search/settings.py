"""Search settings (environment variables with the MERX_SEARCH_ prefix)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class SearchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_SEARCH_", extra="ignore")

    # Below this many products matching every word, products matching any word join (OR fallback).
    min_candidates: int = 5
    # How many candidates stage 2 passes on to stages 3-5 (and the deepest page reachable).
    depth: int = 1000
    # `total` counts matches exactly up to this many.
    count_cap: int = 500_000
    # Products whose only change is a sale are re-indexed (their sales signals) at most this
    # often; 0 re-indexes them with the next flush.
    signal_reindex_seconds: float = 30.0
    # How often a replica's index follower looks for other replicas' commits (search/replica.py);
    # its own process's commits wake it at once.
    follow_poll_seconds: float = 0.1
    # Under `merx serve`, how long a search may wait for the follower to apply this process's own
    # commits (read your writes within a replica); 0: never (a balancer spreads requests anyway).
    own_writes_wait_seconds: float = 0.0
    # Log each follower pass's phases (ms) and the age of the events it applied, one INFO line
    # on merx.search.replica.timings (a debugging aid: benchmarks/replicas.py --phase-timings).
    follow_timings: bool = False
    # From this many product vectors the semantic stage finds its candidates in an HNSW index
    # (usearch, search/vectors.py) instead of scanning every vector: below it a flat scan is
    # exact, needs no build and costs a few milliseconds (benchmarks/ann_choice.py).
    ann_threshold: int = 50_000
    # HNSW search breadth (usearch expansion_search): candidates the graph walk keeps. See
    # vectors.EXPANSION_SEARCH (400) for the measurement behind the default.
    ann_ef: int | None = None
    # Hybrid: embed the query and search the vectors on a pool thread while tantivy runs the
    # lexical stage (onnxruntime, usearch and tantivy release the GIL) instead of in turn.
    # "auto" (the default) overlaps only while the machine has an idle core (at least half a
    # core idle over the last second, from /proc/stat; elsewhere never): with one it hides the
    # shorter stage (1,000,000 products, idle 2-core machine: hybrid p50 22.6 -> 20.0 ms), without
    # one it only costs (on the 2-core machine at load 6-11 it added 5-12 ms to the p50 at
    # 100,000 products, for the same CPU). true / false force it (docs/search-quality.md).
    semantic_overlap: bool | Literal["auto"] = "auto"
    # Query vectors kept in memory (LRU), keyed by the text the model embeds: shoppers repeat
    # the head queries, whose embedding then costs nothing. 0 turns the cache off.
    query_vector_cache: int = 4096


@lru_cache
def get_search_settings() -> SearchSettings:
    return SearchSettings()
