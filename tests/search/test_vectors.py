"""The semantic stage's vector store (search/vectors.py, issue 22): above the threshold the
HNSW index finds the same neighbours as the exact flat scan; an edit or a delete is visible at
once and to another process's store through the append log, without rewriting the snapshot;
a compaction folds the log into a new snapshot another store reloads."""

from __future__ import annotations

import numpy as np
import pytest

from merx.search.semantic import DIM
from merx.search.settings import get_search_settings
from merx.search.vectors import MIN_COMPACT_RECORDS, VectorStore, ann_available

pytestmark = pytest.mark.skipif(not ann_available(), reason="usearch (the semantic extra) is not installed")


def unit_vectors(n: int, seed: int) -> np.ndarray:
    """Clustered unit vectors, like product embeddings: groups of near neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 20), DIM))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.5, size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def rows(vectors: np.ndarray, first_id: int = 1) -> list[tuple[int, str, np.ndarray]]:
    return [(first_id + i, f"k{first_id + i}", v) for i, v in enumerate(vectors)]


@pytest.fixture
def catalog_vectors():
    return unit_vectors(1500, seed=5)


def test_hnsw_index_returns_the_flat_scans_top_results(tmp_path, catalog_vectors):
    flat = VectorStore(None, ann_threshold=10_000)
    flat.upsert(rows(catalog_vectors))
    ann = VectorStore(tmp_path, ann_threshold=100)
    ann.upsert(rows(catalog_vectors), replace_all=True)
    assert flat.mode == "flat" and ann.mode == "hnsw"
    queries = unit_vectors(40, seed=6)
    for q in queries:
        exact_ids, exact_sims = flat.nearest(q, 10)
        got_ids, got_sims = ann.nearest(q, 10)
        assert list(got_ids) == list(exact_ids)
        assert got_sims == pytest.approx(exact_sims, abs=1e-5)  # exact cosines, not f16 ones
    # the deeper candidate list the semantic stage asks for agrees almost entirely
    overlap = np.mean([len(set(ann.nearest(q, 100)[0]) & set(flat.nearest(q, 100)[0])) / 100 for q in queries])
    assert overlap >= 0.95


def test_the_threshold_is_a_setting(tmp_path, monkeypatch, catalog_vectors):
    monkeypatch.setenv("MERX_SEARCH_ANN_THRESHOLD", "1000")
    get_search_settings.cache_clear()
    try:
        store = VectorStore(tmp_path)
        store.upsert(rows(catalog_vectors[:999]), replace_all=True)
        assert store.mode == "flat"
        store.upsert(rows(catalog_vectors[999:1001], first_id=1000))  # crosses it by an edit
        assert store.mode == "hnsw" and len(store) == 1001
        assert list(store.nearest(catalog_vectors[1000], 1)[0]) == [1001]
    finally:
        get_search_settings.cache_clear()


def test_an_edit_and_a_delete_are_visible_and_appended_not_rewritten(tmp_path, catalog_vectors):
    store = VectorStore(tmp_path, ann_threshold=100)
    store.upsert(rows(catalog_vectors), replace_all=True)
    snapshot = tmp_path / "vectors.npz"
    written = snapshot.stat().st_mtime_ns
    moved = catalog_vectors[700]  # product 5 re-embedded: now it reads like product 701
    store.upsert([(5, "k5-edited", moved)], deleted=[701])
    got, sims = store.nearest(moved, 1)
    assert list(got) == [5] and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert 701 not in store.nearest(moved, 50)[0]
    assert store.known_key(5) == "k5-edited" and store.known_key(701) is None
    assert snapshot.stat().st_mtime_ns == written  # one record appended, the 1,500 rows untouched
    logs = list(tmp_path.glob("vectors-*.log"))
    assert len(logs) == 1 and logs[0].stat().st_size < 2 * 2000


def test_another_store_reloads_the_index_and_follows_the_log(tmp_path, catalog_vectors):
    writer = VectorStore(tmp_path, ann_threshold=100)
    writer.upsert(rows(catalog_vectors), replace_all=True)
    reader = VectorStore(tmp_path, ann_threshold=100)  # another process: the saved index, no rebuild
    assert reader.mode == "hnsw" and len(reader) == 1500
    q = catalog_vectors[42]
    assert list(reader.nearest(q, 5)[0]) == list(writer.nearest(q, 5)[0])

    new = unit_vectors(3, seed=9)
    writer.upsert(rows(new, first_id=5000), deleted=[43])
    reader._checked_at = 0.0  # as if its half-second had passed
    reader.refresh()
    assert len(reader) == 1500 + 3 - 1
    assert list(reader.nearest(new[1], 1)[0]) == [5001]
    assert reader.known_key(43) is None
    # a third store starting now reads snapshot + log
    assert VectorStore(tmp_path, ann_threshold=100).known_key(5002) == "k5002"


def test_a_long_log_is_compacted_into_a_snapshot_the_reader_reloads(tmp_path):
    base = unit_vectors(200, seed=1)
    writer = VectorStore(tmp_path, ann_threshold=100)
    writer.upsert(rows(base), replace_all=True)
    reader = VectorStore(tmp_path, ann_threshold=100)
    edits = unit_vectors(MIN_COMPACT_RECORDS + 5, seed=2)
    for start in range(0, len(edits), 250):  # more records than the log keeps
        writer.upsert(rows(edits[start:start + 250], first_id=10_000 + start))
    assert list(tmp_path.glob("vectors-*.log")) == []  # folded into the new snapshot
    assert len(list(tmp_path.glob("vectors-*.usearch"))) == 1  # the old generation's index removed
    reader._checked_at = 0.0
    reader.refresh()
    assert len(reader) == 200 + len(edits)
    last = 10_000 + len(edits) - 1
    assert list(reader.nearest(edits[-1], 1)[0]) == [last]


def test_below_the_threshold_a_delete_keeps_the_scan_exact(tmp_path):
    store = VectorStore(tmp_path, ann_threshold=1000)
    vecs = unit_vectors(30, seed=4)
    store.upsert(rows(vecs))
    store.upsert([], deleted=[1, 2, 3])
    assert store.mode == "flat" and len(store) == 27
    ids, sims = store.nearest(vecs[0], 30)
    assert set(ids) == set(range(4, 31))
    assert list(sims) == sorted(sims, reverse=True)
    assert store.similarity(vecs[10], [11, 1])[0] == pytest.approx(1.0, abs=1e-5)
    assert store.similarity(vecs[10], [11, 1])[1] == 0.0


def test_search_over_the_hnsw_index_shows_the_flat_scans_page(search_index, tmp_path):
    """A shop past the threshold sees the same hybrid results as one below it: the real model,
    the real tantivy index, one engine over a flat store and one over an HNSW store."""
    from search_helpers import make_doc

    from merx.search.documents import build_record
    from merx.search.ranking import Engine, RankConfig, SearchRequest
    from merx.search.semantic import embed_records, embedder

    model = embedder()
    if model is None:
        pytest.skip("the semantic model is not installed")
    kinds = [("Three-seat velvet sofa", "Sofas"), ("Oak dining table", "Tables"), ("Wool area rug", "Rugs"),
             ("Bedside nightstand with drawer", "Nightstands"), ("Stainless steel kettle", "Kettles"),
             ("Wireless headphones", "Headphones"), ("Blackout curtains", "Curtains"),
             ("Ceramic flower pot", "Planters")]
    colours = ["red", "blue", "green", "black", "white", "grey"]
    docs = [make_doc(f"{c.title()} {name}", product_id=100 + i * len(colours) + j, category_path=["Home", cat])
            for i, (name, cat) in enumerate(kinds) for j, c in enumerate(colours)]
    records = [build_record(d) for d in docs]
    search_index.upsert(records)
    flat = VectorStore(None, ann_threshold=10_000)
    flat.upsert(embed_records(records, model, flat))
    ann = VectorStore(tmp_path / "vectors", ann_threshold=10)
    ann.upsert(embed_records(records, model, ann), replace_all=True)
    assert ann.mode == "hnsw"
    engines = [Engine(search_index, config=RankConfig(), vectors=store) for store in (flat, ann)]
    for q in ("couch", "something to boil water", "earphones", "floor covering", "red sofa"):
        pages = [[i["product_id"] for i in e.search(SearchRequest(q=q, lang="en", retrieval="hybrid")).page_items]
                 for e in engines]
        assert pages[0] and pages[1] == pages[0], q


def test_a_damaged_index_file_is_rebuilt_not_fatal(tmp_path, catalog_vectors):
    VectorStore(tmp_path, ann_threshold=100).upsert(rows(catalog_vectors), replace_all=True)
    (index_file,) = tmp_path.glob("vectors-*.usearch")
    index_file.write_bytes(b"not an index")
    store = VectorStore(tmp_path, ann_threshold=100)
    assert store.mode == "hnsw"
    assert list(store.nearest(catalog_vectors[7], 1)[0]) == [8]
