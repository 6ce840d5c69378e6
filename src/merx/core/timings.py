"""Wall-clock time per phase of one unit of background work, for finding where its time goes.

Code marks its phases with `with phase("name"):`; that costs nothing unless the thread runs
inside `recording()`, which collects the seconds spent per phase name (a phase entered twice
adds up). The search index follower records its passes this way when
MERX_SEARCH_FOLLOW_TIMINGS is on (search/replica.py); `benchmarks/replicas.py --phase-timings`
summarises them."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

_local = threading.local()


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    seconds: dict[str, float] | None = getattr(_local, "seconds", None)
    if seconds is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started


@contextlib.contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Collect this thread's phases until the block ends (nested recordings keep their own)."""
    previous = getattr(_local, "seconds", None)
    _local.seconds = seconds = {}
    try:
        yield seconds
    finally:
        _local.seconds = previous
