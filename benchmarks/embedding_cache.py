"""An on-disk cache of product-text embeddings for the search benchmark, outside the repo
(~/.cache/merx-bench/, or MERX_BENCH_CACHE), keyed by the text's hash (semantic.text_key) and
the model id, so a 1,000,000-product run embeds each distinct text once, ever: the generated
names repeat (30 types x 12 colours x 11 materials x 8 styles x 40 brands), and the timed run
only reads the vectors back.

Written in chunks of CHUNK texts (one .npz each: keys and float32 vectors), so an interrupted
precompute resumes where it stopped. The measured embedding rate of every chunk is kept in the
chunk too, so the reported per-product cost is what this machine measured, not a guess."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

CHUNK = 8192


def cache_dir(model_id: str) -> Path:
    base = Path(os.environ.get("MERX_BENCH_CACHE", Path.home() / ".cache" / "merx-bench"))
    return base / model_id


def load(model_id: str) -> tuple[dict[str, int], np.ndarray, float, int]:
    """(key -> row, vectors, seconds spent embedding, texts embedded) of every saved chunk."""
    keys: list[str] = []
    parts: list[np.ndarray] = []
    seconds, count = 0.0, 0
    directory = cache_dir(model_id)
    for path in sorted(directory.glob("chunk_*.npz")) if directory.exists() else []:
        with np.load(path, allow_pickle=False) as data:
            keys += [str(k) for k in data["keys"]]
            parts.append(data["vectors"].astype(np.float32))
            seconds += float(data["seconds"])
            count += int(data["count"])
    vectors = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
    return {k: i for i, k in enumerate(keys)}, vectors, seconds, count


def fill(model_id: str, items: Iterable[tuple[str, str]], embed: Callable[[Sequence[str]], np.ndarray],
         on_chunk: Callable[[int, float], None] | None = None) -> None:
    """Embed the (key, text) pairs the cache lacks, in the order given, a chunk at a time (the
    caller puts first what matters most, so a precompute stopped early is still useful)."""
    directory = cache_dir(model_id)
    directory.mkdir(parents=True, exist_ok=True)
    have, _, _, _ = load(model_id)
    number = len(list(directory.glob("chunk_*.npz")))
    done = 0
    pending: dict[str, str] = {}

    def flush() -> None:
        nonlocal number, done
        keys = list(pending)
        t = time.perf_counter()
        vectors = embed([pending[k] for k in keys])
        seconds = time.perf_counter() - t
        tmp = directory / f"chunk_{number:05d}.tmp.npz"
        np.savez(tmp, keys=np.asarray(keys, dtype="U24"), vectors=vectors.astype(np.float32),
                 seconds=np.float64(seconds), count=np.int64(len(keys)))
        os.replace(tmp, directory / f"chunk_{number:05d}.npz")
        number += 1
        done += len(keys)
        pending.clear()
        if on_chunk:
            on_chunk(done, seconds)

    for key, text in items:
        if key in have or key in pending:
            continue
        pending[key] = text
        if len(pending) >= CHUNK:
            flush()
    if pending:
        flush()
