"""`merx demo`'s embedding of its catalog, with a cache of the vectors on disk.

Embedding the demo catalog's texts is the longest single piece of the demo (about 45 CPU
seconds for 2,400 products on one core: names in up to six languages, ~53 tokens each; see
semantic.py). The demo generates the same products from the same seed every time, so a
second `merx demo` would embed exactly the texts the first one did. This warm-up (the
demo's counterpart of warmup.py, run on a thread beside the year of orders) looks each text
up first in a cache keyed by the model file's fingerprint and the text's `text_key`, embeds
only the texts it does not hold, and adds those to the cache.

The cache is a file per model under `$XDG_CACHE_HOME/merx/demo-vectors` (`~/.cache/...`),
or `MERX_DEMO_VECTOR_CACHE` (a directory, or `off`). It holds what the model gave for those
texts in an earlier build, so an index built from it is the one a build that embeds them
gives; a new model version is a new fingerprint and starts an empty file. Only the demo
uses it: `merx search reindex` and the index follower embed as before."""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from merx.core.db import Database
from merx.core.uow import UnitOfWork
from merx.search.documents import semantic_text_of
from merx.search.semantic import DIM, MODEL_ID, _model_files, embedder, text_key
from merx.search.service import _catalog_documents, stack_for
from merx.search.warmup import EmbeddingWarmup

log = logging.getLogger("merx.search.demo")

CACHE_ENV = "MERX_DEMO_VECTOR_CACHE"
CHUNK = 256  # texts per progress step
MAX_CACHED = 20_000  # ~30 MB: several demo catalogs; beyond it the file keeps the latest build's


def cache_directory() -> Path | None:
    """Where the demo's vectors are kept; None when MERX_DEMO_VECTOR_CACHE=off."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured.lower() in ("off", "0", "false", "no"):
        return None
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "merx" / "demo-vectors"


@lru_cache(maxsize=1)
def _model_fingerprint() -> str | None:
    """The model file's content hash: vectors of another model (or version) are never reused."""
    files = _model_files()
    if files is None:
        return None
    digest = hashlib.blake2b(digest_size=8)
    with open(files[0], "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{MODEL_ID}-{digest.hexdigest()}"


class VectorCache:
    """text_key -> vector for one model, in one .npz file (read whole: a few MB)."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.path = directory / f"{fingerprint}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, matrix = data["keys"], data["vectors"]
            if matrix.ndim == 2 and matrix.shape == (len(keys), DIM):
                self.vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
        except FileNotFoundError:
            pass
        except Exception:  # a damaged cache is only a slower demo
            log.warning("ignoring the unreadable demo vector cache %s", self.path, exc_info=True)

    def save(self, used: dict[str, np.ndarray]) -> None:
        """Add this build's vectors (`used`: every text it needed) and write the file atomically."""
        merged = {**self.vectors, **used}
        if len(merged) > MAX_CACHED:
            merged = dict(used)
        if merged.keys() == self.vectors.keys():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            keys = list(merged)
            with open(tmp, "wb") as f:
                np.savez(f, keys=np.asarray(keys), vectors=np.stack([merged[k] for k in keys]).astype(np.float32))
            tmp.replace(self.path)
        except OSError:  # a read-only home: the next demo embeds again
            log.warning("could not write the demo vector cache %s", self.path, exc_info=True)


class DemoEmbedding(EmbeddingWarmup):
    """The catalog warm-up (`warmup.py`: started on a thread, `wait()` before the build) with the
    demo's vector cache in front of the model. `embedded` counts the texts the model ran on,
    `cached` those the cache gave."""

    def __init__(self, db: Database, data_dir: Path, on_progress: Callable[[int, int], None] | None) -> None:
        super().__init__(db, data_dir, on_progress)
        self.cached = 0

    def _embed_catalog(self) -> None:
        model = embedder()  # one thread: the demo keeps the other core busy
        if model is None:
            return
        store = stack_for(self._data_dir).vectors
        with UnitOfWork(self._db, readonly=True) as uow:
            texts = {int(d.product_id): semantic_text_of(d) for d in _catalog_documents(uow, None)}
        todo = [(pid, text, text_key(text)) for pid, text in texts.items()
                if text and store.known_key(pid) != text_key(text)]
        directory, fingerprint = cache_directory(), _model_fingerprint()
        cache = VectorCache(directory, fingerprint) if directory is not None and fingerprint else None
        known = cache.vectors if cache is not None else {}
        by_key = {key: text for _pid, text, key in todo}  # identical texts are embedded once
        missing = [key for key in by_key if key not in known]
        vectors = {key: known[key] for key in by_key if key in known}
        self.cached = len(vectors)
        if self._on_progress is not None:
            self._on_progress(self.cached, len(by_key))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            for key, vector in zip(chunk, model.embed([by_key[k] for k in chunk])):
                vectors[key] = vector
            if self._on_progress is not None:
                self._on_progress(self.cached + min(start + CHUNK, len(missing)), len(by_key))
        # kept in memory; the index build that follows saves the whole store with its index
        store.upsert([(pid, key, vectors[key]) for pid, _text, key in todo], save=False)
        self.embedded = len(missing)
        if cache is not None:
            cache.save(vectors)


def start_demo_embedding(db: Database, data_dir: Path,
                         on_progress: Callable[[int, int], None] | None = None) -> DemoEmbedding:
    """Embed the demo catalog's texts on a thread, from the cache where it can (module docstring)."""
    return DemoEmbedding(db, data_dir, on_progress).start()
