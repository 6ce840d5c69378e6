"""The semantic stage's vectors: product id -> unit vector, searched by a flat scan while the
catalog is small and by an HNSW index (usearch) above `MERX_SEARCH_ANN_THRESHOLD` vectors.

Why usearch (benchmarks/ann_choice.py, same vectors, HNSW M 16, one thread): its f16 index
keeps the recall@100 of float32 (16,000 real product vectors: 0.996 both; hnswlib float32
0.999 with a larger ef_construction) at half the memory; the i8 index lost recall (0.974, and
0.926 against 0.967 on clustered random vectors), so f16. usearch adds and removes single
keys, saves to one file and installs as a wheel (hnswlib 0.8.0 compiles from source and has
not been released since 2023; faiss-cpu's HNSW cannot remove a vector). Build and query
times in those runs were dominated by the shared machine's load (the same build took 9 s and
21 s in two runs), so the choice rests on recall, memory and the features above.
The index gives the candidates; their cosines are recomputed exactly from the float32 vectors,
so the fusion reads the same similarities whichever way the candidates were found.

On disk, in the store's directory:
- `vectors.npz`: a snapshot (ids, text keys, float32 vectors, a generation token), replaced
  atomically by a rebuild (`replace_all`) or a compaction;
- `vectors-<generation>.usearch`: the HNSW index of that snapshot (above the threshold), so a
  process starting or reloading does not rebuild the graph;
- `vectors-<generation>.log`: every upsert and delete since the snapshot, appended as
  fixed-size records. An edit appends one record instead of rewriting the whole file (1.5 GB at
  a million products); another process applies the records it has not seen on its next search
  (checked at most every 0.5 s). When the log outgrows a tenth of the snapshot, the writer
  folds it into a new snapshot. Writers take `vectors.lock` (flock) so appends and compactions
  from several processes do not interleave."""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import secrets
import struct
import threading
import time
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from merx.search.semantic import DIM
from merx.search.settings import get_search_settings

log = logging.getLogger("merx.search")

KEY_BYTES = 24  # semantic.text_key: 12 bytes as hex
_HEADER = struct.Struct(f"<Bq{KEY_BYTES}s")  # op (1 upsert, 0 delete), product id, text key
RECORD = _HEADER.size + DIM * 4
MIN_COMPACT_RECORDS = 1000
# HNSW parameters. At 16,000 real product vectors (benchmarks/ann_choice.py) M 16, ef 160 had
# recall@100 0.996. At 1,000,000 (benchmarks/ann_at_scale.py: the benchmark catalog, ~32 near-
# identical vectors per (style, colour, material, type)) that fell to 0.69; M 32 with ef 1000
# reached 0.94 at 2.4 ms a query (M 16: 0.89), and with ef_construction 200 0.98 (worst query
# 0.47) at 4.6 ms, for a build of 652 s instead of 120 s on 2 threads: a rebuild is a batch
# job whose embedding takes far longer, so recall wins. The flat scan costs 86 ms. The
# near-duplicate clusters are the hard case for HNSW; a real catalog's variants are one too.
CONNECTIVITY = 32
EXPANSION_ADD = 200
# The search breadth (ef) when MERX_SEARCH_ANN_EF does not say. Measured at 100,000 benchmark
# products (benchmarks/hybrid_phases.py, 300 queries, recall@100 against the exact scan, machine
# at load ~6): ef 1000 recall 0.9994 (worst query 0.97) at 6.9 ms p50; ef 400 0.9978 (worst
# 0.91) at 1.6 ms; ef 300 0.9956; ef 200 0.987 (worst 0.51). 400 keeps all but a fifth of a
# percent of the exact top 100 for a quarter of the time; below it the worst queries lose half
# their neighbours. The misses are near-identical variants of products already found, and the
# semantic stage only adds candidates after the word matches, so results barely move. At a
# million products recall at a given ef is lower (ann_at_scale.py: 0.98 at ef 1000): search_bench
# reports it, and MERX_SEARCH_ANN_EF=1000 buys it back for ~5 ms a query.
EXPANSION_SEARCH = 400


def _usearch() -> Any:
    """usearch.index.Index, or None without the extra. onnxruntime is imported first on
    purpose: importing onnxruntime after usearch 2.26's compiled module kills the process with
    a segmentation fault (seen with onnxruntime 1.32; the other order is fine)."""
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime  # noqa: F401
    try:
        from usearch.index import Index
    except ImportError:
        return None
    return Index


def ann_available() -> bool:
    return _usearch() is not None


class VectorStore:
    """Vectors of the indexed products, in memory, persisted as a snapshot plus an append log
    (see the module docstring); a store without a directory lives in memory only."""

    def __init__(self, directory: Path | None, *, ann_threshold: int | None = None,
                 ann_ef: int | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.path = self.directory / "vectors.npz" if self.directory is not None else None
        settings = get_search_settings()
        self.ann_threshold = settings.ann_threshold if ann_threshold is None else ann_threshold
        self._ef = int(ann_ef or settings.ann_ef or EXPANSION_SEARCH)
        self._lock = threading.RLock()
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, DIM), dtype=np.float32)
        self._n = 0
        self.keys: list[str] = []
        self._row: dict[int, int] = {}
        self._ann: Any = None  # usearch.index.Index while len(self) >= ann_threshold
        self._generation = ""
        self._log_offset = 0
        self._mtime = 0.0
        self._checked_at = 0.0
        self._load()

    # -- the in-memory rows: dense arrays, a deleted row filled by the last one ----------------

    def __len__(self) -> int:
        return self._n

    @property
    def ids(self) -> np.ndarray:
        return self._ids[:self._n]

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[:self._n]

    @property
    def ef(self) -> int:
        """The HNSW search breadth (MERX_SEARCH_ANN_EF): more finds more of the exact top 100
        and costs more time."""
        return self._ef

    @ef.setter
    def ef(self, value: int) -> None:
        with self._lock:
            self._ef = int(value)
            if self._ann is not None:
                self._ann.expansion_search = self._ef

    @property
    def mode(self) -> str:
        """"hnsw" or "flat": how `nearest` finds candidates now."""
        return "hnsw" if self._ann is not None else "flat"

    def _reset(self, ids: np.ndarray, matrix: np.ndarray, keys: list[str]) -> None:
        self._ids, self._matrix, self.keys = ids.astype(np.int64), np.ascontiguousarray(matrix, np.float32), keys
        self._n = len(ids)
        self._row = {int(pid): i for i, pid in enumerate(self._ids)}

    def _put(self, pid: int, key: str, vec: np.ndarray) -> None:
        i = self._row.get(pid)
        if i is None:
            if self._n == len(self._ids):  # grow by half: appends stay amortised O(1)
                cap = max(16, self._n + self._n // 2)
                self._ids = np.resize(self._ids, cap)
                grown = np.zeros((cap, DIM), dtype=np.float32)
                grown[:self._n] = self._matrix[:self._n]
                self._matrix = grown
            i = self._n
            self._n += 1
            self._row[pid] = i
            self.keys.append(key)
        self._ids[i] = pid
        self._matrix[i] = vec
        self.keys[i] = key
        if self._ann is not None:
            if self._ann.contains(pid):
                self._ann.remove(pid)
            self._ann.add(pid, self._matrix[i])

    def _drop(self, pid: int) -> None:
        i = self._row.pop(pid, None)
        if i is None:
            return
        last = self._n - 1
        if i != last:
            moved = int(self._ids[last])
            self._ids[i], self._matrix[i], self.keys[i] = moved, self._matrix[last], self.keys[last]
            self._row[moved] = i
        self.keys.pop()
        self._n = last
        if self._ann is not None and self._ann.contains(pid):
            self._ann.remove(pid)

    def _fit_index(self, threads: int = 1) -> None:
        """Build the HNSW index when the store crosses the threshold, drop it below."""
        if self._n >= self.ann_threshold and self._ann is None and ann_available():
            self._ann = self._build_index(threads)
        elif self._n < self.ann_threshold:
            self._ann = None

    def _build_index(self, threads: int) -> Any:
        index = _usearch()(ndim=DIM, metric="cos", dtype="f16", connectivity=CONNECTIVITY,
                      expansion_add=EXPANSION_ADD, expansion_search=self._ef)
        if self._n:
            index.add(self.ids, self.matrix, threads=threads)
        return index

    # -- files ------------------------------------------------------------------------------------

    def _file(self, suffix: str, generation: str | None = None) -> Path:
        assert self.directory is not None
        return self.directory / f"vectors-{generation if generation is not None else self._generation}.{suffix}"

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Between processes: one writer at a time (flock); within one, the store's lock."""
        with self._lock:
            if self.directory is None:
                yield
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self.directory / "vectors.lock", "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _load(self) -> None:
        """Read the snapshot, its index and its log (a missing or broken index is rebuilt)."""
        if self.path is None or not self.path.exists():
            return
        try:
            mtime = self.path.stat().st_mtime
            with np.load(self.path, allow_pickle=False) as data:
                ids, matrix, keys = data["ids"], data["matrix"], [str(k) for k in data["keys"]]
                generation = str(data["generation"]) if "generation" in data else ""
        except (OSError, ValueError, KeyError):
            log.warning("search vectors at %s are unreadable; they are rebuilt with the index", self.path)
            return
        with self._lock:
            self._reset(ids, matrix, keys)
            self._generation, self._mtime, self._log_offset, self._ann = generation, mtime, 0, None
            if generation and self._n >= self.ann_threshold and ann_available():
                self._ann = self._restore_index()
            self._apply_log()
            self._fit_index()

    def _restore_index(self) -> Any:
        path = self._file("usearch")
        try:
            index = _usearch().restore(str(path))
            if index is not None and len(index) == self._n:
                index.expansion_search = self._ef
                return index
        except Exception:  # noqa: BLE001 - a damaged index file is rebuilt, search goes on
            log.debug("restoring %s failed", path, exc_info=True)
        log.warning("search vector index %s is missing or does not match its snapshot; rebuilding it", path)
        return self._build_index(threads=1)

    def _apply_log(self) -> None:
        """Apply the records appended since this process last read the log."""
        if self.directory is None or not self._generation:
            return
        try:
            with open(self._file("log"), "rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except FileNotFoundError:
            return
        whole = len(data) - len(data) % RECORD  # a record being written is read next time
        for start in range(0, whole, RECORD):
            op, pid, key = _HEADER.unpack_from(data, start)
            if op:
                vec = np.frombuffer(data, dtype=np.float32, count=DIM, offset=start + _HEADER.size)
                self._put(int(pid), key.decode("ascii").rstrip("\0"), vec)
            else:
                self._drop(int(pid))
        self._log_offset += whole

    def refresh(self) -> None:
        """Pick up what another process saved (checked at most every 0.5 s): a new snapshot, or
        the records appended to the log."""
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked_at < 0.5:
            return
        self._checked_at = now
        self._catch_up()

    def _catch_up(self) -> None:
        try:
            mtime = self.path.stat().st_mtime  # type: ignore[union-attr]
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._load()
        else:
            with self._lock:
                self._apply_log()
                self._fit_index()

    def _save_snapshot(self, threads: int = 1) -> None:
        """A new generation: snapshot and index written, then the snapshot swapped in; the old
        generation's log and index removed."""
        assert self.directory is not None and self.path is not None
        old = self._generation
        self._generation = secrets.token_hex(6)
        self._fit_index(threads)
        if self._ann is not None:
            tmp_index = self._file("usearch.tmp")
            self._ann.save(str(tmp_index))
            os.replace(tmp_index, self._file("usearch"))
        tmp = self.directory / f"vectors.{os.getpid()}.{threading.get_ident()}.tmp.npz"
        np.savez(tmp, ids=self.ids, matrix=self.matrix, keys=np.asarray(self.keys, dtype=f"U{KEY_BYTES}"),
                 generation=np.asarray(self._generation))
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime
        self._log_offset = 0
        for suffix in ("log", "usearch"):
            if old:
                self._file(suffix, old).unlink(missing_ok=True)

    # -- the store's API ----------------------------------------------------------------------------

    def known_key(self, product_id: int) -> str | None:
        i = self._row.get(int(product_id))
        return self.keys[i] if i is not None else None

    def upsert(self, items: Sequence[tuple[int, str, np.ndarray]], deleted: Iterable[int] = (), *,
               replace_all: bool = False, save: bool = True, threads: int = 1) -> None:
        """(product id, text key, vector) rows; `replace_all`: these are every product (a
        rebuild: a new snapshot, the index built with `threads`). Otherwise the rows and
        deletions are applied in place and appended to the log."""
        deleted = [int(p) for p in deleted]
        with self._writing():
            if replace_all:
                rows = {int(pid): (key, vec) for pid, key, vec in items}
                ordered = sorted(rows)
                self._ann = None
                self._reset(np.asarray(ordered, dtype=np.int64),
                            np.stack([np.asarray(rows[p][1], np.float32) for p in ordered]) if ordered
                            else np.zeros((0, DIM), np.float32), [rows[p][0] for p in ordered])
                if save and self.path is not None:
                    self._save_snapshot(threads)
                else:
                    self._fit_index(threads)
                return
            if save and self.path is not None:
                self._catch_up()  # another process's appends first: the log stays in order
            for pid in deleted:
                self._drop(pid)
            for pid, key, vec in items:
                self._put(int(pid), key, np.asarray(vec, dtype=np.float32))
            self._fit_index()
            if save and self.path is not None:
                self._append(items, deleted)

    def _append(self, items: Sequence[tuple[int, str, np.ndarray]], deleted: list[int]) -> None:
        if not self._generation:  # nothing saved yet: the first save is a snapshot
            self._save_snapshot()
            return
        zeros = np.zeros(DIM, dtype=np.float32).tobytes()
        out = [_HEADER.pack(0, pid, b"") + zeros for pid in deleted]
        out += [_HEADER.pack(1, int(pid), key.encode("ascii")) + np.asarray(vec, np.float32).tobytes()
                for pid, key, vec in items]
        if not out:
            return
        path = self._file("log")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"".join(out))
        finally:
            os.close(fd)
        self._log_offset = path.stat().st_size
        if self._log_offset // RECORD > max(MIN_COMPACT_RECORDS, self._n // 10):
            self._save_snapshot()

    def vector_of(self, product_id: int) -> np.ndarray | None:
        i = self._row.get(int(product_id))
        return self._matrix[i].copy() if i is not None else None

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k products most similar to `query` (ids, cosine similarities), best first: exact
        by a flat scan, approximate (HNSW candidates, exact cosines) above the threshold."""
        query = np.asarray(query, dtype=np.float32)
        with self._lock:
            if not self._n or k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            k = min(k, self._n)
            if self._ann is not None:
                found = self._ann.search(query, k)
                ids = np.asarray(found.keys, dtype=np.int64)
                rows = np.fromiter(map(self._row.__getitem__, ids.tolist()), dtype=np.int64, count=len(ids))
                sims = self._matrix[rows] @ query
            else:
                ids, sims = self.ids, self.matrix @ query
                top = np.argpartition(-sims, k - 1)[:k]
                ids, sims = ids[top], sims[top]
        order = np.argsort(-sims, kind="stable")
        return ids[order], sims[order]

    def similarity(self, query: np.ndarray, product_ids: Sequence[int]) -> np.ndarray:
        """Cosine similarity of each product to the query (0 for a product without a vector)."""
        out = np.zeros(len(product_ids), dtype=np.float64)
        with self._lock:
            # map over dict.get runs the lookups in C: for the 1,100 candidates of a hybrid search
            # at 1M vectors 0.54-0.58 against 0.58-0.67 ms (benchmarks/stage3_facts.py); most of
            # it is cache misses into the million-entry dict, either way
            idx = np.fromiter(map(self._row.get, product_ids, repeat(-1)), dtype=np.int64, count=len(product_ids))
            have = idx >= 0
            if have.any():
                out[have] = self._matrix[idx[have]] @ np.asarray(query, dtype=np.float32)
        return out

    def size_bytes(self) -> int:
        """Bytes on disk: snapshot, index and log."""
        if self.directory is None or not self.directory.exists():
            return 0
        return sum(p.stat().st_size for p in self.directory.glob("vectors*") if p.is_file())
