"""The hybrid path's query time (issue 22): the query embedding and ANN running beside the
lexical stage give the same ranking as running them in turn; the query-vector cache returns
the model's own vector and stays within its size; the HNSW search breadth (ef) comes from
MERX_SEARCH_ANN_EF; explain shows where the time went, phase by phase.

Real tantivy index, real model and real usearch index; skipped only without the semantic
extra. The latency itself is measured in benchmarks/hybrid_phases.py, never asserted here."""

from __future__ import annotations

import numpy as np
import pytest
from search_helpers import make_doc

from merx.search.documents import ProductSignals, build_record
from merx.search.ranking import Engine, SearchRequest
from merx.search.semantic import (DIM, QueryVectorCache, embed_query, embed_records, embedder,
                                  query_vector_cache, retrieval_mode)
from merx.search.settings import get_search_settings
from merx.search.vectors import VectorStore, ann_available

MODE, WHY = retrieval_mode()
needs_model = pytest.mark.skipif(MODE != "hybrid", reason=f"semantic extra not installed: {WHY}")

CATALOG = [
    make_doc("Three-seat velvet sofa", product_id=1, category_path=["Living room", "Sofas"], brand="nordhem"),
    make_doc("Couch cover, washable", product_id=2, category_path=["Living room", "Textiles"], brand="covera"),
    make_doc("Oak dining table", product_id=3, category_path=["Dining", "Tables"]),
    make_doc("Oak coffee table", product_id=4, category_path=["Living room", "Tables"]),
    make_doc("Wool area rug", product_id=5, category_path=["Living room", "Rugs"]),
    make_doc("Bedside nightstand with drawer", product_id=6, category_path=["Bedroom", "Nightstands"]),
    make_doc("Stainless steel kettle", product_id=7, category_path=["Kitchen", "Kettles"]),
    make_doc("Electric kettle with temperature control", product_id=8, category_path=["Kitchen", "Kettles"]),
    make_doc("Wireless headphones", product_id=9, category_path=["Electronics", "Headphones"]),
    make_doc("Blackout curtains", product_id=10, category_path=["Bedroom", "Curtains"]),
]
SIGNALS = {4: ProductSignals(pop_views=900, pop_carts=90, sales_purchases=30, sales_conversion=0.03),
           8: ProductSignals(pop_views=400, pop_carts=20, sales_purchases=8, sales_conversion=0.02)}
QUERIES = ["couch", "oak table", "kettle", "table without oak", "something to boil water", "sofa", "rug"]


@pytest.fixture
def engines(search_index):
    """Two engines over the same index and vectors: one overlapping the semantic lookup with
    the lexical stage, one running them in turn."""
    records = [build_record(d, SIGNALS.get(d.product_id)) for d in CATALOG]
    search_index.upsert(records)
    vectors = VectorStore(None)
    model = embedder()
    assert model is not None
    vectors.upsert(embed_records(records, model, vectors))
    return (Engine(search_index, vectors=vectors, overlap=True),
            Engine(search_index, vectors=vectors, overlap=False))


def ranked(outcome):
    return [(i["product_id"], round(i["score"], 9), round(i["explain"]["semantic_score"], 6),
             i["explain"]["found_by"]) for i in outcome.page_items]


@needs_model
def test_overlapping_the_semantic_lookup_gives_the_same_results_as_running_it_after(engines):
    overlapped, sequential = engines
    for q in QUERIES:
        query_vector_cache().clear()
        a = overlapped.search(SearchRequest(q=q, lang="en", explain=True))
        query_vector_cache().clear()
        b = sequential.search(SearchRequest(q=q, lang="en", explain=True))
        assert a.retrieval == b.retrieval == "hybrid"
        assert ranked(a) == ranked(b), q
        assert (a.total, a.mode, a.facets) == (b.total, b.mode, b.facets)
    # the semantic stage did contribute: "couch" finds the sofa by meaning only
    out = overlapped.search(SearchRequest(q="couch", lang="en", explain=True))
    found_by = {i["product_id"]: i["explain"]["found_by"] for i in out.page_items}
    assert out.page_items[0]["product_id"] == 2 and found_by[2] == "lexical" and found_by[1] == "semantic"


@needs_model
def test_the_cache_returns_the_models_vector_and_a_repeated_query_the_same_results(engines):
    engine, _ = engines
    model = embedder()
    cache = query_vector_cache()
    cache.clear()
    first = engine.search(SearchRequest(q="oak table", lang="en", explain=True))
    again = engine.search(SearchRequest(q="oak table", lang="en", explain=True))
    assert (first.query_vector_cached, again.query_vector_cached) == (False, True)
    assert ranked(first) == ranked(again)
    vector, hit = embed_query(model, "oak table")
    assert hit and np.allclose(vector, model.embed(["oak table"])[0], atol=1e-6)
    with pytest.raises(ValueError):  # a caller cannot change what the next search reads
        vector[0] = 1.0
    # the key is the text the model reads: "table without oak" embeds "table"
    engine.search(SearchRequest(q="table without oak", lang="en"))
    assert cache.get("table") is not None and cache.get("table without oak") is None


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = QueryVectorCache(2)
    vectors = {t: np.full(DIM, k, dtype=np.float32) for k, t in enumerate(("a", "b", "c"))}
    cache.put("a", vectors["a"])
    cache.put("b", vectors["b"])
    assert cache.get("a") is not None  # "a" used: "b" is now the oldest
    cache.put("c", vectors["c"])
    assert len(cache) == 2
    assert cache.get("b") is None
    assert np.array_equal(cache.get("a"), vectors["a"]) and np.array_equal(cache.get("c"), vectors["c"])
    off = QueryVectorCache(0)  # MERX_SEARCH_QUERY_VECTOR_CACHE=0: nothing kept
    off.put("a", vectors["a"])
    assert len(off) == 0 and off.get("a") is None


def test_the_cache_size_is_a_setting(monkeypatch):
    monkeypatch.setenv("MERX_SEARCH_QUERY_VECTOR_CACHE", "7")
    get_search_settings.cache_clear()
    query_vector_cache.cache_clear()
    try:
        assert query_vector_cache().capacity == 7
    finally:
        get_search_settings.cache_clear()
        query_vector_cache.cache_clear()


@pytest.mark.skipif(not ann_available(), reason="usearch (the semantic extra) is not installed")
def test_the_hnsw_search_breadth_comes_from_the_environment(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, DIM))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    monkeypatch.setenv("MERX_SEARCH_ANN_EF", "77")
    get_search_settings.cache_clear()
    try:
        store = VectorStore(tmp_path, ann_threshold=100)
        store.upsert([(i + 1, f"k{i}", v) for i, v in enumerate(x)], replace_all=True)
        assert store.mode == "hnsw" and store.ef == 77 and store._ann.expansion_search == 77
        reloaded = VectorStore(tmp_path, ann_threshold=100)  # the index restored from its file
        assert reloaded.mode == "hnsw" and reloaded._ann.expansion_search == 77
        assert list(reloaded.nearest(x[5], 1)[0]) == [6]
        reloaded.ef = 300  # the benchmark's sweep changes it in place
        assert reloaded._ann.expansion_search == 300
    finally:
        get_search_settings.cache_clear()
    assert VectorStore(None, ann_threshold=100, ann_ef=55).ef == 55


@needs_model
def test_explain_shows_the_time_of_each_phase(engines):
    engine, _ = engines
    query_vector_cache().clear()
    timings = engine.search(SearchRequest(q="kettle", lang="en", explain=True)).timings_ms
    for phase in ("analysis", "lexical", "embed", "ann", "semantic_wait", "fusion", "stage3", "stage4", "total"):
        assert phase in timings and timings[phase] >= 0, phase
    assert timings["total"] >= timings["lexical"]
    lexical = engine.search(SearchRequest(q="kettle", lang="en", retrieval="lexical")).timings_ms
    # lexical retrieval still embeds the query (the cosine is a stage 3 feature) but adds
    # nothing by meaning
    assert "lexical" in lexical and "semantic_candidates" not in lexical


@needs_model
def test_explain_over_http_returns_the_phase_timings_to_staff_only(client, admin):
    body = {"sku": "K-1", "name": "Stainless steel kettle", "price": {"amount": "20.00", "currency": "EUR"}}
    assert client.post("/api/v1/products", json=body, headers=admin).status_code == 201
    r = client.get("/api/v1/search", params={"q": "kettle", "lang": "en", "explain": "true"}, headers=admin)
    assert r.status_code == 200
    assert {"lexical", "embed", "ann", "fusion", "stage3", "stage4"} <= set(r.json()["timings_ms"])
    anonymous = client.get("/api/v1/search", params={"q": "kettle", "lang": "en"})
    assert anonymous.status_code == 200 and anonymous.json().get("timings_ms") is None
    assert client.get("/api/v1/search", params={"q": "kettle", "lang": "en", "explain": "true"}).status_code == 401


def test_the_overlap_is_a_setting_auto_by_default(search_index, monkeypatch):
    get_search_settings.cache_clear()
    try:
        assert Engine(search_index).overlap == "auto"
        monkeypatch.setenv("MERX_SEARCH_SEMANTIC_OVERLAP", "1")
        get_search_settings.cache_clear()
        assert Engine(search_index).overlap is True
        monkeypatch.setenv("MERX_SEARCH_SEMANTIC_OVERLAP", "false")
        get_search_settings.cache_clear()
        assert Engine(search_index).overlap is False
        assert Engine(search_index, overlap=True).overlap is True  # a caller's choice wins
    finally:
        get_search_settings.cache_clear()


def _stat(path, idle: int, busy: int) -> None:
    """A /proc/stat whose first line has `busy` user ticks and `idle` idle ticks."""
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")


def test_idle_cores_read_what_the_machine_left_idle_since_the_last_look(tmp_path):
    from merx.search.semantic_query import IdleCores

    stat = tmp_path / "stat"
    _stat(stat, idle=1000, busy=1000)
    cores = IdleCores(str(stat), interval=0)
    assert cores.spare() is None  # one sample says nothing about "lately"
    _stat(stat, idle=1300, busy=1100)  # 400 ticks since, 300 of them idle
    assert cores.spare() == pytest.approx(0.75 * cores._cores)
    _stat(stat, idle=1300, busy=1500)  # every tick since busy
    assert cores.spare() == 0
    assert IdleCores(str(tmp_path / "missing")).spare() is None  # not Linux: never overlaps


def test_what_the_overlap_itself_used_counts_as_spare(tmp_path):
    """Overlapping uses the core it found spare: that use must not read as load, or one
    caller searching back to back would turn the overlap off, then on again."""
    import time

    from merx.search.semantic_query import IdleCores

    stat = tmp_path / "stat"
    _stat(stat, idle=0, busy=0)
    cores = IdleCores(str(stat), interval=0)
    cores.spare()
    started = time.monotonic()
    while time.monotonic() - started < 0.2:
        pass
    cores.add_overlap_cpu(10.0)  # far more than the interval: capped at the machine's cores
    _stat(stat, idle=0, busy=100)  # the machine busy throughout
    assert cores.spare() == cores._cores
    _stat(stat, idle=0, busy=200)  # busy, and no overlap since
    assert cores.spare() == 0


@needs_model
def test_auto_overlaps_only_while_a_core_is_idle(engines, tmp_path, monkeypatch):
    from merx.search import semantic_query

    stat = tmp_path / "stat"
    cores = semantic_query.IdleCores(str(stat), interval=0)
    monkeypatch.setattr(semantic_query, "IDLE_CORES", cores)
    overlapped, _ = engines
    engine = Engine(overlapped.index, vectors=overlapped.vectors, overlap="auto")
    request = SearchRequest(q="kettle", lang="en", explain=True)
    _stat(stat, idle=0, busy=0)
    assert cores.spare() is None  # the first look
    _stat(stat, idle=0, busy=100)  # since then every tick busy
    busy = engine.search(request)
    _stat(stat, idle=500, busy=100)
    idle = engine.search(request)
    assert busy.semantic_overlapped is False and idle.semantic_overlapped is True
    assert ranked(busy) == ranked(idle)  # where it runs never changes the answer
    assert Engine(overlapped.index, vectors=overlapped.vectors, overlap=False).search(
        request).semantic_overlapped is False


def test_stage_3_questions_asked_in_one_search_answer_as_one_search_each(build_engine):
    """More questions than one search's flags (MAX_FLAGS): each candidate's answer equals what
    a search for that question alone over the candidates finds."""
    import tantivy

    from merx.search.analysis import analyze_query
    from merx.search.candidates import MAX_FLAGS, candidate_matches

    engine = build_engine(CATALOG)
    searcher = engine.index.searcher()
    words = [t.text for t in analyze_query("sofa couch table oak rug wool kettle steel electric headphones "
                                           "curtains nightstand drawer velvet dining coffee area bedside "
                                           "wireless blackout temperature control cover washable", "en")]
    words = (words * 2)[:MAX_FLAGS + 7]  # two searches' worth, some asked twice
    questions = {f"q{k}": tantivy.Query.term_query(engine.index.schema, "name", w) for k, w in enumerate(words)}
    ids = [d.product_id for d in CATALOG if d.product_id != 5]  # the rug is not a candidate
    answers = candidate_matches(searcher, engine.index.schema, ids, questions)
    for name, query in questions.items():
        hits = searcher.search(query, 100, count=False).hits
        alone = {int(p) for p in searcher.fast_field_values("product_id", [h[1] for h in hits])} if hits else set()
        assert [pid for pid, yes in zip(ids, answers[name]) if yes] == [pid for pid in ids if pid in alone], name
    assert any(a.any() for a in answers.values()) and not all(a.all() for a in answers.values())


@pytest.mark.parametrize("n_questions", [3, 27])  # one search with the questions as flags; more than MAX_FLAGS
def test_products_found_with_their_facts_have_the_facts_gathered_for_them_alone(build_engine, n_questions):
    """The semantic stage's products are found and their stage 3 facts read in one search:
    the same products, ids, signals and answers as finding them, then gathering their facts."""
    import tantivy

    from merx.search.analysis import analyze_query
    from merx.search.candidates import find_with_facts, gather_facts, id_query

    engine = build_engine(CATALOG, SIGNALS)
    searcher = engine.index.searcher()
    schema = engine.index.schema
    words = [t.text for t in analyze_query("sofa table oak kettle steel electric headphones couch", "en")]
    questions = {f"q{k}": tantivy.Query.term_query(schema, "name", words[k % len(words)]) for k in range(n_questions)}
    wanted = [2, 4, 5, 8, 9]
    restrict = tantivy.Query.boolean_query([
        (tantivy.Occur.Must, id_query(schema, wanted)),
        (tantivy.Occur.MustNot, tantivy.Query.term_query(schema, "name", "rug"))])  # a filter drops product 5
    addresses, ids, facts = find_with_facts(searcher, schema, restrict, len(wanted), questions)
    assert sorted(ids) == [2, 4, 8, 9]
    alone = gather_facts(searcher, schema, addresses, ids, questions)
    for name in questions:
        assert facts.answers[name].tolist() == alone.answers[name].tolist(), name
    for name, column in alone.signals.items():
        assert facts.signals[name].tolist() == column.tolist(), name
    by_id = dict(zip(ids, range(len(ids))))
    assert facts.signals["pop_views"][by_id[4]] == 900 and facts.signals["pop_views"][by_id[9]] == 0
    assert facts.answers["q2"][by_id[4]] and not facts.answers["q2"][by_id[9]]  # "oak" in product 4's name
