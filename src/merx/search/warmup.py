"""Embedding the catalog ahead of an index build, on a thread beside other work.

An index build embeds every product's semantic text (semantic.py), and that is most of its
time. `merx demo` knows its catalog long before it builds the index: it starts this warm-up
as soon as the products exist and goes on replaying the year of orders (Python, one core)
while the model runs on the other core (onnxruntime releases the GIL). The vectors go into
this data dir's vector store keyed by their text's hash, so the build that follows
(`rebuild_index`) embeds only the products whose text changed after the warm-up read them,
and the index is exactly what a build without the warm-up gives."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from merx.core.db import Database
from merx.core.uow import UnitOfWork
from merx.search.documents import semantic_text_of
from merx.search.semantic import embedder, text_key
from merx.search.service import _catalog_documents, stack_for

log = logging.getLogger("merx.search")

CHUNK = 256  # texts per progress step


class EmbeddingWarmup:
    """A started warm-up; `wait()` before building the index (it re-raises nothing: a failed
    warm-up only means the build embeds everything itself)."""

    def __init__(self, db: Database, data_dir: Path, on_progress: Callable[[int, int], None] | None) -> None:
        self._db, self._data_dir, self._on_progress = db, Path(data_dir), on_progress
        self.embedded = 0
        self._thread = threading.Thread(target=self._run, name="search-embedding-warmup", daemon=True)

    def start(self) -> "EmbeddingWarmup":
        self._thread.start()
        return self

    def wait(self) -> int:
        """Block until the warm-up finished; returns how many texts it embedded."""
        self._thread.join()
        return self.embedded

    def _run(self) -> None:
        try:
            self._embed_catalog()
        except Exception:  # the build embeds whatever is missing
            log.exception("embedding warm-up failed; the index build embeds the catalog itself")

    def _embed_catalog(self) -> None:
        # one thread: the caller keeps the other core busy
        model = embedder()
        if model is None:  # lexical search only: nothing to embed
            return
        store = stack_for(self._data_dir).vectors
        with UnitOfWork(self._db, readonly=True) as uow:
            texts = {int(d.product_id): semantic_text_of(d) for d in _catalog_documents(uow, None)}
        todo = [(pid, text, text_key(text)) for pid, text in texts.items()
                if text and store.known_key(pid) != text_key(text)]
        # identical texts (variants of one listing, re-imported duplicates) are embedded once
        unique = list(dict.fromkeys(text for _pid, text, _key in todo))
        if self._on_progress is not None:
            self._on_progress(0, len(unique))
        vectors = {}
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start:start + CHUNK]
            for text, vector in zip(chunk, model.embed(chunk)):
                vectors[text] = vector
            if self._on_progress is not None:
                self._on_progress(min(start + CHUNK, len(unique)), len(unique))
        # kept in memory; the build that follows saves the whole store with its index
        store.upsert([(pid, key, vectors[text]) for pid, text, key in todo], save=False)
        self.embedded = len(unique)


def start_embedding(db: Database, data_dir: Path,
                    on_progress: Callable[[int, int], None] | None = None) -> EmbeddingWarmup:
    """Embed the catalog's product texts on a thread (see the module's docstring)."""
    return EmbeddingWarmup(db, data_dir, on_progress).start()
