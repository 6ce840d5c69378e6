"""The ranking pipeline over a real tantivy index of documents built in the test."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from search_helpers import make_doc

from merx.search.boosts import BoostContext, BoostRules, Rule, combine
from merx.search.documents import ProductSignals, build_record
from merx.search.features import FEATURE_NAMES
from merx.search.ranking import Filters, Pin, SearchRequest, SynonymTable


def ids(outcome):
    return [i["product_id"] for i in outcome.page_items]


FURNITURE = [
    make_doc("Red office chair", product_id=1, brand="Ikea", category="chairs", category_path=["Furniture", "Chairs"],
             attributes={"color": "red"}, price="49.00"),
    make_doc("Blue kitchen chair", product_id=2, brand="Ikea", category="chairs", category_path=["Furniture", "Chairs"],
             attributes={"color": "blue"}, price="29.00"),
    make_doc("Red sofa", product_id=3, brand="Hay", category="sofas", category_path=["Furniture", "Sofas"],
             attributes={"color": "red"}, price="499.00"),
    make_doc("Oak office desk", product_id=4, brand="Hay", category="desks", price="199.00",
             description="goes well with a red chair"),
    make_doc("Lamp", product_id=5, sku="LMP-0042", ean="5901234123457", price="15.00"),
    make_doc("Draft chair", product_id=6, status="draft"),
]


def test_and_first_then_or_below_the_minimum(build_engine):
    engine = build_engine(FURNITURE, min_candidates=1)
    strict = engine.search(SearchRequest(q="red chair", lang="en"))
    assert strict.mode == "and" and ids(strict) == [1] and strict.total == 1
    engine.config.min_candidates = 3
    relaxed = engine.search(SearchRequest(q="red chair", lang="en"))
    assert relaxed.mode == "or"
    assert ids(relaxed)[0] == 1  # the product with every word still ranks first
    assert set(ids(relaxed)) == {1, 2, 3} and relaxed.total == 3
    # the description never makes a candidate (desk 4 mentions "red chair" only there)
    assert 4 not in ids(relaxed)


def test_description_adds_to_the_score_of_a_candidate(build_engine):
    engine = build_engine(FURNITURE)
    out = engine.search(SearchRequest(q="office", lang="en", explain=True))
    scores = {i["product_id"]: i["explain"]["stage2_score"] for i in out.page_items}
    assert set(scores) == {1, 4}


def test_only_active_products_unless_asked(build_engine):
    engine = build_engine(FURNITURE)
    assert 6 not in ids(engine.search(SearchRequest(q="chair", lang="en")))
    assert 6 in ids(engine.search(SearchRequest(q="chair", lang="en", filters=Filters(include_inactive=True))))


def test_typo_tolerance_on_words_but_not_on_numbers(build_engine):
    docs = [make_doc("Wardrobe with mirror", product_id=10), make_doc("Cable 1235 mm", product_id=11),
            make_doc("Lamp", product_id=12), make_doc("Refrigerator", product_id=13)]
    engine = build_engine(docs)
    assert ids(engine.search(SearchRequest(q="wardrobw", lang="en"))) == [10]
    assert ids(engine.search(SearchRequest(q="cable 1234", lang="en"))) == [11]  # OR: "cable" matched
    assert engine.search(SearchRequest(q="1234", lang="en")).total == 0
    assert ids(engine.search(SearchRequest(q="mirrr", lang="en"))) == [10]  # 5 letters: one edit allowed
    assert ids(engine.search(SearchRequest(q="lamo", lang="en"))) == [12]  # 4 letters: one edit (defect 20.11)
    assert engine.search(SearchRequest(q="lmp", lang="en")).total == 0  # 3 letters: none
    assert ids(engine.search(SearchRequest(q="rifriqerator", lang="en"))) == [13]  # 9+ letters: two edits
    assert engine.search(SearchRequest(q="wardrxxw", lang="en")).total == 0  # 8 letters: not two


def test_exact_sku_or_ean_returns_that_product_first(build_engine):
    docs = FURNITURE + [make_doc("Lamp shade for LMP-0042 lamps", product_id=7)]
    engine = build_engine(docs)
    assert ids(engine.search(SearchRequest(q="LMP-0042", lang="en")))[0] == 5
    assert ids(engine.search(SearchRequest(q="lmp-0042")))[0] == 5
    assert ids(engine.search(SearchRequest(q="5901234123457")))[0] == 5


def test_synonyms_two_way_and_one_way(build_engine):
    docs = [make_doc("Смартфон Samsung Galaxy", product_id=20), make_doc("Телефон стационарный", product_id=21),
            make_doc("Laptop 15 inch", product_id=22), make_doc("Notebook paper", product_id=23)]
    engine = build_engine(docs)
    assert ids(engine.search(SearchRequest(q="телефон", lang="ru"))) == [21]
    two_way = SynonymTable([("ru", ["телефон", "смартфон"], False)])
    assert set(ids(engine.search(SearchRequest(q="телефоны", lang="ru"), synonyms=two_way))) == {20, 21}
    assert set(ids(engine.search(SearchRequest(q="смартфоны", lang="ru"), synonyms=two_way))) == {20, 21}
    one_way = SynonymTable([("en", ["notebook", "laptop"], True)])
    assert set(ids(engine.search(SearchRequest(q="notebook", lang="en"), synonyms=one_way))) == {22, 23}
    assert ids(engine.search(SearchRequest(q="laptop", lang="en"), synonyms=one_way)) == [22]
    # synonyms of another language do not apply
    assert ids(engine.search(SearchRequest(q="notebook", lang="de"), synonyms=one_way)) == [23]


def test_russian_plural_and_singular_queries_return_the_same_results(build_engine):
    docs = [make_doc("Emerald ship", product_id=30, translations={"ru": {"name": "Изумрудный корабль строителя Джонсона"}}),
            make_doc("Корабли в бутылке", product_id=31), make_doc("Изумрудные серьги", product_id=32)]
    engine = build_engine(docs)
    a = engine.search(SearchRequest(q="изумрудные корабли строителя Джонсона", lang="ru"))
    b = engine.search(SearchRequest(q="изумрудный корабль строителя Джонсона", lang="ru"))
    assert ids(a) == ids(b) and ids(a)[0] == 30
    assert a.total == b.total


def test_chinese_query_finds_segmented_product(build_engine):
    engine = build_engine([make_doc("华为智能手机 Mate", product_id=40), make_doc("智能手表", product_id=41)])
    assert ids(engine.search(SearchRequest(q="手机", lang="zh"))) == [40]
    assert ids(engine.search(SearchRequest(q="智能手机")))[0] == 40


def test_boost_arithmetic():
    assert combine(0.7, [1.1, 1.1, 1.1]) == pytest.approx(0.9317, abs=1e-12)
    assert combine(0.6, [1.25]) == pytest.approx(0.75) and combine(0.6, [1.25]) < 0.9


def test_a_boost_does_not_overtake_a_clearly_better_product(build_engine):
    docs = [make_doc("Garden chair", product_id=50), make_doc("Garden chair", product_id=51)]
    better = ProductSignals(pop_views=5000, pop_carts=500, sales_purchases=200, sales_conversion=0.05)
    engine = build_engine(docs, signals={50: better})
    rules = BoostRules([Rule("paid_promotion", 1.25, product_id=51)])
    out = engine.search(SearchRequest(q="garden chair", lang="en", explain=True), rules=rules)
    by_id = {i["product_id"]: i for i in out.page_items}
    assert by_id[51]["explain"]["boosts"] == [{"rule": "paid_promotion", "factor": 1.25, "rule_id": None}]
    assert ids(out) == [50, 51]
    assert by_id[51]["score"] == pytest.approx(by_id[51]["explain"]["probability"] * 1.25)


def test_logistics_boosts_are_exclusive_in_priority_order():
    rules = BoostRules()
    every = BoostContext(product_id=1, seller_id=0, express=True, next_day_local=True, nearest_warehouse=True)
    assert [b.rule for b in rules.applied(every)] == ["express"]
    no_express = BoostContext(product_id=1, seller_id=0, next_day_local=True, nearest_warehouse=True)
    assert [(b.rule, b.factor) for b in rules.applied(no_express)] == [("next_day_local", 1.075)]
    nearest = BoostContext(product_id=1, seller_id=0, nearest_warehouse=True)
    assert [(b.rule, b.factor) for b in rules.applied(nearest)] == [("nearest_warehouse", 1.0375)]


def test_non_logistics_rules_multiply():
    rules = BoostRules([Rule("premium_seller", 1.1), Rule("good_price", 1.1, {"below": 0.9}),
                        Rule("paid_promotion", 1.1, seller_id=9)])
    ctx = BoostContext(product_id=1, seller_id=9, seller_premium=True, price_ratio=0.8)
    applied = rules.applied(ctx)
    assert [b.rule for b in applied] == ["premium_seller", "good_price", "paid_promotion"]
    assert combine(0.7, applied) == pytest.approx(0.9317)


def test_deboosts():
    rules = BoostRules()
    bad = BoostContext(product_id=1, seller_id=2, price_ratio=1.3, rating_avg=2.0, rating_count=50,
                       seller_rating=2.5, seller_violations=3)
    assert {b.rule for b in rules.applied(bad)} == {"bad_price", "low_product_rating", "low_seller_rating",
                                                    "seller_violations"}
    few_reviews = BoostContext(product_id=1, seller_id=2, rating_avg=1.0, rating_count=3)
    assert rules.applied(few_reviews) == []


def test_logistics_in_the_pipeline_uses_stock_and_shopper_location(build_engine):
    docs = [make_doc("Desk lamp", product_id=60), make_doc("Desk lamp", product_id=61),
            make_doc("Desk lamp", product_id=62, attributes={"express_delivery": True})]
    signals = {60: ProductSignals(stock_locations=["WAW-1"]), 61: ProductSignals(stock_locations=["KRK-1"])}
    engine = build_engine(docs, signals=signals)
    rules = BoostRules([Rule("next_day_local", 1.075, {"regions": {"PL-MA": ["KRK-1"]}})])
    out = engine.search(SearchRequest(q="desk lamp", lang="en", explain=True, near="WAW-1", region="PL-MA"),
                        rules=rules)
    applied = {i["product_id"]: [b["rule"] for b in i["explain"]["boosts"]] for i in out.page_items}
    assert applied == {60: ["nearest_warehouse"], 61: ["next_day_local"], 62: ["express"]}
    assert {i["product_id"]: i["explain"]["features"]["delivery_days"] for i in out.page_items}[60] == 1.0


def test_explain_parts_multiply_to_the_final_score(build_engine):
    docs = FURNITURE
    signals = {1: ProductSignals(seller_premium=True, price_ratio=0.8, pop_views=40),
               2: ProductSignals(price_ratio=1.5, rating_avg=2.1, rating_count=40, express=True)}
    engine = build_engine(docs, signals=signals)
    out = engine.search(SearchRequest(q="chair", lang="en", explain=True))
    assert len(out.page_items) == 2
    for item in out.page_items:
        e = item["explain"]
        assert 0 < e["probability"] < 1
        assert e["stage2_score"] > 0
        assert set(e["features"]) == set(FEATURE_NAMES)
        product = e["probability"] * math.prod(b["factor"] for b in e["boosts"])
        assert item["score"] == e["final_score"] == pytest.approx(product, rel=1e-12)
        assert e["product_of_parts"] == pytest.approx(e["final_score"], rel=1e-12)
    boosts = {i["product_id"]: {b["rule"] for b in i["explain"]["boosts"]} for i in out.page_items}
    assert boosts[1] == {"premium_seller", "good_price"}
    assert boosts[2] == {"express", "bad_price", "low_product_rating"}
    scores = [i["score"] for i in out.page_items]
    assert scores == sorted(scores, reverse=True)


def test_pins_and_hides(build_engine):
    engine = build_engine(FURNITURE)
    base = ids(engine.search(SearchRequest(q="chair", lang="en")))
    assert base == [1, 2]
    pinned = engine.search(SearchRequest(q="chair", lang="en"), pins=[Pin(2, position=1)])
    assert ids(pinned) == [2, 1]
    # a product that does not match the words can be pinned in; a hidden one disappears
    merch = engine.search(SearchRequest(q="chair", lang="en"), pins=[Pin(4, position=2), Pin(1, hidden=True)])
    assert ids(merch) == [2, 4]


def test_filters_and_facets(build_engine):
    engine = build_engine(FURNITURE)
    out = engine.search(SearchRequest(q="red", lang="en"))
    assert set(ids(out)) == {1, 3}
    assert {b["value"]: b["count"] for b in out.facets["category"]} == {"chairs": 1, "sofas": 1}
    assert {b["value"]: b["count"] for b in out.facets["brand"]} == {"Ikea": 1, "Hay": 1}
    assert out.facets["attributes"]["color"] == [{"value": "red", "count": 2}]
    assert out.facets["price"]["min"] == "49.00" and out.facets["price"]["max"] == "499.00"
    assert sum(r["count"] for r in out.facets["price"]["ranges"]) == 2
    assert ids(engine.search(SearchRequest(q="red", lang="en", filters=Filters(brand="Hay")))) == [3]
    assert ids(engine.search(SearchRequest(q="red", lang="en", filters=Filters(price_max=Decimal("100"))))) == [1]
    chairs = engine.search(SearchRequest(q="", filters=Filters(category="chairs")))
    assert set(ids(chairs)) == {1, 2} and chairs.mode == "browse"
    blue = engine.search(SearchRequest(q="chair", lang="en", filters=Filters(attributes=[("color", "blue")])))
    assert ids(blue) == [2]


def test_paging_over_the_ranked_list(build_engine):
    docs = [make_doc(f"Bookshelf model {i}", product_id=100 + i) for i in range(25)]
    engine = build_engine(docs)
    pages = [ids(engine.search(SearchRequest(q="bookshelf", lang="en", page=p, limit=10))) for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    assert len(set(sum(pages, []))) == 25


def test_total_counts_beyond_the_materialised_depth(build_engine):
    docs = [make_doc(f"Vase {i}", product_id=200 + i) for i in range(30)]
    engine = build_engine(docs, depth=10)
    out = engine.search(SearchRequest(q="vase", lang="en", limit=100))
    assert out.total == 30 and len(out.page_items) == 10


def test_updates_and_deletes_replace_documents(search_index, build_engine):
    engine = build_engine([make_doc("Walnut table", product_id=300)])
    assert ids(engine.search(SearchRequest(q="walnut", lang="en"))) == [300]
    search_index.upsert([build_record(make_doc("Cherry table", product_id=300))])
    assert engine.search(SearchRequest(q="walnut", lang="en")).total == 0
    assert ids(engine.search(SearchRequest(q="cherry", lang="en"))) == [300]
    search_index.upsert([], deleted_ids=[300])
    assert engine.search(SearchRequest(q="table", lang="en")).total == 0


def test_search_keeps_answering_during_a_rebuild(search_index, build_engine):
    engine = build_engine([make_doc("Old mirror", product_id=400)])
    seen_during: list[list[int]] = []

    def records():
        for i in range(50):
            if i == 25:  # halfway through the build, the live index still answers
                seen_during.append(ids(engine.search(SearchRequest(q="mirror", lang="en"))))
            yield build_record(make_doc(f"New mirror {i}", product_id=500 + i))

    search_index.rebuild(records(), before_swap=lambda _: seen_during.append(
        ids(engine.search(SearchRequest(q="mirror", lang="en")))))
    assert seen_during == [[400], [400]]
    after = engine.search(SearchRequest(q="mirror", lang="en", limit=100))
    assert after.total == 50 and 400 not in ids(after)


def test_another_process_view_switches_to_the_rebuilt_index(tmp_path):
    from merx.search.index import SearchIndex

    writer_view = SearchIndex(tmp_path / "ix")
    reader_view = SearchIndex(tmp_path / "ix")  # as a second worker process would open it
    writer_view.rebuild([build_record(make_doc("Teapot", product_id=1))])
    import time

    time.sleep(0.25)
    assert reader_view.num_docs() == 1
