"""The embedded search index: tantivy, fed with our own analysed tokens.

Text fields use tantivy's whitespace tokenizer over tokens that already went through
`analysis.analyze`, so tantivy only stores and scores (BM25) them. Filter values use the raw
tokenizer and are fast fields (facet aggregations); the numbers stage 3 reads are fast
fields too, read for the top hits without loading stored documents.

On disk: `<base>/CURRENT` names the live index directory (`<base>/index-<id>`). A rebuild
writes a new directory and replaces CURRENT atomically (`os.replace`); every searcher
checks CURRENT before answering and switches, so searches keep answering from the old index
until the new one is complete."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import tantivy

from merx.core.ids import new_ulid
from merx.core.timings import phase
from merx.search.documents import CANDIDATE_FIELDS, SIGNAL_FIELDS, IndexRecord

TEXT_FIELDS = (*CANDIDATE_FIELDS, "description")
FACET_FIELDS = ("category_f", "brand_f", "attr_f", "store_f")
WRITER_HEAP = 64_000_000
# A full rebuild writes with a larger budget so that a big catalog ends in one segment instead
# of one per 64 MB (8 at 1,000,000 products): every term a search looks up (a query word, each
# of stage 3's 1,000 candidate ids) is then looked up once, not once per segment, and the
# build itself is faster. Measured at 1,000,000 products (benchmarks/hybrid_phases.py): built in
# 95 s instead of 165 s, peak RSS 2.0 GB instead of 1.4 GB, stage 3's facts 4.3 against 4.6 ms
# and hybrid p50 15.9 against 16.8 ms (overlap off). tantivy's arena grows as documents
# arrive, so a small catalog's rebuild uses no more memory than before.
REBUILD_HEAP = 1_000_000_000


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("product_id", stored=True, indexed=True, fast=True)
    for name in TEXT_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("surface", tokenizer_name="whitespace", index_option="basic")
    sb.add_text_field("codes", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("status", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("channel", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("category_path_f", tokenizer_name="raw", index_option="basic")
    for name in FACET_FIELDS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_unsigned_field("seller_id", indexed=True, fast=True)
    sb.add_float_field("price", indexed=True, fast=True)
    for name in SIGNAL_FIELDS:
        sb.add_float_field(name, fast=True)
    sb.add_text_field("display", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def to_document(rec: IndexRecord) -> tantivy.Document:
    d = tantivy.Document()
    d.add_unsigned("product_id", rec.product_id)
    for field_name, tokens in (("name", rec.name_tokens), ("brand", rec.brand_tokens),
                               ("category", rec.category_tokens), ("attrs", rec.attr_tokens),
                               ("description", rec.description_tokens)):
        if tokens:
            d.add_text(field_name, " ".join(tokens))
    if rec.surface_tokens:
        d.add_text("surface", " ".join(rec.surface_tokens))
    for code in rec.codes:
        d.add_text("codes", code)
    d.add_text("status", rec.status)
    for ch in rec.channels:
        d.add_text("channel", ch)
    if rec.category:
        d.add_text("category_f", rec.category)
    # The filter matches a category by code or by name, at any level of its path: names alone
    # missed "home" for "Home & Kitchen", so a parent's products were never found by its code.
    for part in sorted({*(p.casefold() for p in rec.category_path), *(c.casefold() for c in rec.category_codes)}):
        d.add_text("category_path_f", part)
    if rec.brand:
        d.add_text("brand_f", rec.brand)
    for pair in rec.attribute_pairs:
        d.add_text("attr_f", pair)
    for loc in rec.signals.stock_locations:
        d.add_text("store_f", loc)
    d.add_unsigned("seller_id", rec.seller_id)
    d.add_float("price", rec.price if rec.price is not None else -1.0)
    for name, value in rec.signals.numbers().items():
        d.add_float(name, value)
    d.add_text("display", json.dumps(rec.display, separators=(",", ":"), ensure_ascii=False))
    return d


@dataclass
class _Open:
    name: str
    index: tantivy.Index


class SearchIndex:
    """One per process and data directory. Thread safe for searching; writes are
    serialised by tantivy's own lock (one writer across processes) plus a local lock."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._current: _Open | None = None
        self._checked_at = 0.0
        self.needs_rebuild = False  # set when the directory held an index of an older schema
        self._open_current()

    # -- directories -------------------------------------------------------------------------
    @property
    def pointer(self) -> Path:
        return self.base / "CURRENT"

    def _read_pointer(self) -> str | None:
        try:
            return self.pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _open_dir(self, name: str) -> tantivy.Index:
        path = self.base / name
        path.mkdir(parents=True, exist_ok=True)
        return tantivy.Index(self.schema, path=str(path), reuse=True)

    def _open_current(self) -> _Open:
        with self._lock:
            name = self._read_pointer()
            index = None
            if name is not None and (self.base / name).exists():
                try:
                    index = self._open_dir(name)
                except ValueError as e:  # an index written by an older version: another schema
                    if "schema does not match" not in str(e):
                        raise
                    # Start an empty index of this version's schema; the service rebuilds it
                    # from the catalog before its next search (`needs_rebuild`).
                    self.needs_rebuild = True
            if index is None:
                name = f"index-{new_ulid().lower()}"
                index = self._open_dir(name)
                self._write_pointer(name)
            self._current = _Open(name, index)
            self._checked_at = time.monotonic()
            return self._current

    def _write_pointer(self, name: str) -> None:
        tmp = self.base / f"CURRENT.{os.getpid()}.tmp"
        tmp.write_text(name)
        os.replace(tmp, self.pointer)

    def current(self) -> _Open:
        """The live index; notices a swap made by another process (a rebuild)."""
        cur = self._current
        now = time.monotonic()
        if cur is None or now - self._checked_at > 0.2:
            self._checked_at = now
            name = self._read_pointer()
            if cur is None or (name is not None and name != cur.name):
                return self._open_current()
        assert self._current is not None
        return self._current

    @property
    def index(self) -> tantivy.Index:
        return self.current().index

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def reload(self) -> None:
        self.index.reload()

    # -- writes ------------------------------------------------------------------------------
    def _id_query(self, product_id: int) -> tantivy.Query:
        # a query built from the schema gets the u64 term type right (a bare int would be i64)
        return tantivy.Query.term_query(self.schema, "product_id", product_id)

    def _writer(self, index: tantivy.Index, attempts: int = 50, heap: int = WRITER_HEAP) -> Any:
        last: Exception | None = None
        for _ in range(attempts):
            try:
                return index.writer(heap, 1)
            except ValueError as e:  # the lock is held by another process's writer
                last = e
                time.sleep(0.1)
        raise RuntimeError(f"search index writer is busy: {last}")

    def upsert(self, records: Iterable[IndexRecord], deleted_ids: Iterable[int] = (), *,
               index: tantivy.Index | None = None) -> int:
        """Replace the given products' documents (delete by id, then add) in one commit."""
        target = index or self.index
        n = 0
        with self._write_lock:
            with phase("tantivy_writer"):
                writer = self._writer(target)
            try:
                for pid in deleted_ids:
                    writer.delete_documents_by_query(self._id_query(int(pid)))
                for rec in records:
                    writer.delete_documents_by_query(self._id_query(rec.product_id))
                    writer.add_document(to_document(rec))
                    n += 1
                with phase("tantivy_commit"):
                    writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                with phase("tantivy_merge_wait"):
                    writer.wait_merging_threads()
        with phase("tantivy_reload"):
            target.reload()
        return n

    def rebuild(self, records: Iterable[IndexRecord], *, on_progress: Any = None,
                before_swap: Any = None) -> str:
        """Build a complete new index next to the live one, then swap to it atomically."""
        name = f"index-{new_ulid().lower()}"
        index = self._open_dir(name)
        with self._write_lock:
            writer = self._writer(index, heap=REBUILD_HEAP)
            try:
                for i, rec in enumerate(records, 1):
                    writer.add_document(to_document(rec))
                    if on_progress is not None:
                        on_progress(i)
                writer.commit()
            finally:
                writer.wait_merging_threads()
        index.reload()
        if before_swap is not None:
            before_swap(index)  # replays changes made while building, into the new index
        old = self._read_pointer()
        self._write_pointer(name)
        self.needs_rebuild = False
        with self._lock:
            self._current = _Open(name, index)
        if old and old != name:
            # Other processes may still hold files open; on POSIX the data stays readable
            # for them until they switch on their next search.
            shutil.rmtree(self.base / old, ignore_errors=True)
        return name

    def num_docs(self) -> int:
        return self.searcher().num_docs

    def size_bytes(self) -> int:
        cur = self.base / self.current().name
        return sum(p.stat().st_size for p in cur.rglob("*") if p.is_file())


_INDEXES: dict[str, SearchIndex] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(base: Path) -> SearchIndex:
    """The process-wide SearchIndex for a directory (tests use one per tmp dir)."""
    key = str(Path(base).resolve())
    with _INDEXES_LOCK:
        idx = _INDEXES.get(key)
        if idx is None:
            idx = SearchIndex(Path(base))
            _INDEXES[key] = idx
        return idx


def forget_index(base: Path) -> None:
    with _INDEXES_LOCK:
        _INDEXES.pop(str(Path(base).resolve()), None)
