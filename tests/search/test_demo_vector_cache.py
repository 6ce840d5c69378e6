"""search/demo.py: the demo's warm-up takes the vectors of texts an earlier demo embedded from
the cache on disk, embeds only new or changed texts, and gives the store the same vectors
the model gives."""

from __future__ import annotations

import numpy as np
import pytest
from catalog_fixtures import catalogue_skus

from merx.core.uow import UnitOfWork


def _warm(db, data_dir):  # type: ignore[no-untyped-def]
    from merx.search import demo as search_demo
    from merx.search.service import stack_for

    done = search_demo.start_demo_embedding(db, data_dir)
    done.wait()
    store = stack_for(data_dir).vectors
    return done, {int(pid): store.vector_of(int(pid)) for pid in store.ids}


def test_a_second_demo_embeds_only_the_texts_the_cache_does_not_hold(db, tmp_path, monkeypatch):
    from merx.search import demo as search_demo
    from merx.search.semantic import embedder, retrieval_mode

    if retrieval_mode()[0] != "hybrid":
        pytest.skip("the semantic extra is not installed: nothing is embedded")
    monkeypatch.setenv("MERX_DEMO_VECTOR_CACHE", str(tmp_path / "cache"))
    catalogue_skus(db, ("CV-1", "CV-2", "CV-3"))
    first, vectors = _warm(db, tmp_path / "first")
    assert (first.embedded, first.cached) == (3, 0) and len(vectors) == 3
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    catalogue_skus(db, ("CV-4",))  # a product added: a text the cache has not seen
    second, again = _warm(db, tmp_path / "second")  # another data dir: an empty vector store
    assert second.cached == 3 and second.embedded == 1 and len(again) == 4
    for pid, vector in vectors.items():  # what the cache gave is what the model gave then
        assert np.array_equal(again[pid], vector)
    texts = search_demo.VectorCache(tmp_path / "cache", search_demo._model_fingerprint()).vectors
    assert len(texts) == 4
    # and the model agrees with the cached vectors (the same text, embedded now)
    model = embedder()
    from merx.search.documents import semantic_text_of
    from merx.search.service import _catalog_documents

    with UnitOfWork(db, readonly=True) as uow:
        docs = {int(d.product_id): semantic_text_of(d) for d in _catalog_documents(uow, None)}
    pid = next(iter(vectors))
    assert float(np.dot(model.embed([docs[pid]])[0], vectors[pid])) > 0.999


def test_the_cache_can_be_turned_off(db, tmp_path, monkeypatch):
    from merx.search import demo as search_demo
    from merx.search.semantic import retrieval_mode

    if retrieval_mode()[0] != "hybrid":
        pytest.skip("the semantic extra is not installed: nothing is embedded")
    monkeypatch.setenv("MERX_DEMO_VECTOR_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert search_demo.cache_directory() is None
    catalogue_skus(db, ("CV-1",))
    first, _ = _warm(db, tmp_path / "a")
    second, _ = _warm(db, tmp_path / "b")
    assert (first.embedded, second.embedded, second.cached) == (1, 1, 0)
    assert not (tmp_path / "xdg").exists()
