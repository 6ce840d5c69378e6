"""Quality tooling: the metrics, the simulated-shopper study, training from the search log,
and `merx search evaluate`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from merx.search.evaluate import evaluate_rankings, ndcg_at, recall_at, reciprocal_rank


def test_ndcg_against_a_hand_computed_value():
    grades = {1: 3, 2: 2, 3: 0, 4: 1}
    ranked = [3, 1, 4, 2]
    dcg = 0 / math.log2(2) + 7 / math.log2(3) + 1 / math.log2(4) + 3 / math.log2(5)
    ideal = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, grades, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at([1, 2, 4], grades, 10) == pytest.approx(1.0)


def test_mrr_and_recall():
    grades = {5: 2, 9: 1}
    assert reciprocal_rank([1, 2, 9, 5], grades) == pytest.approx(1 / 3)
    assert reciprocal_rank([1, 2], grades) == 0.0
    assert recall_at([9, 1], grades) == 0.5
    m = evaluate_rankings({"a": [9, 5], "b": []}, {"a": grades, "b": {7: 1}, "c": {8: 0}})
    assert m.queries == 2  # a query without any relevant product is not counted
    assert m.mrr == pytest.approx(0.5) and m.recall1000 == pytest.approx(0.5)


def test_stage_3_beats_stage_2_on_held_out_queries_of_the_simulation(tmp_path):
    from merx.search.simulate import run_simulation

    report, model = run_simulation(tmp_path / "ix", n_products=1200, n_queries=120, seed=3)
    assert report.test_queries == 48 and report.positives > 100
    # (0.615 / 0.797 / 0.872 when written: text alone cannot tell good from poor products)
    assert report.fallback.ndcg10 > report.stage2.ndcg10 + 0.1
    assert report.learned.ndcg10 > report.fallback.ndcg10 + 0.02
    assert set(report.group_importance) == {"popularity", "sales", "price", "rating", "delivery", "text"}
    assert sum(report.group_importance.values()) == pytest.approx(1.0, abs=1e-3)


def test_train_from_the_search_log_and_serve_the_new_model(client, admin, db, settings, tmp_path):
    """Searches and feedback through the API become training data; the trained model is
    versioned on disk and the next search uses it."""
    from merx.search.training import NotEnoughData, train_from_logs

    for code in ("lamps",):
        client.post("/api/v1/categories", json={"code": code, "name": "Lamps"}, headers=admin)
    names = ["Brass desk lamp", "Black desk lamp", "Floor lamp", "Wall lamp", "Table lamp", "Clip lamp"]
    ids = []
    for i, name in enumerate(names):
        r = client.post("/api/v1/products", json={"sku": f"L-{i}", "name": name, "category": "lamps",
                                                  "price": {"amount": "20.00", "currency": "EUR"}}, headers=admin)
        ids.append(r.json()["id"])
    with pytest.raises(NotEnoughData):
        train_from_logs(db, settings.data_dir)
    rng = np.random.default_rng(1)
    for n in range(25):
        body = client.get("/api/v1/search", params={"q": "lamp", "lang": "en"}).json()
        shown = [i["product_id"] for i in body["items"]]
        assert len(shown) == 6
        buyer = ids[0] if rng.random() < 0.8 else shown[int(rng.integers(0, 6))]
        client.post("/api/v1/search/feedback", json={"search_id": body["search_id"], "product_id": buyer,
                                                     "action": "purchase"})
    result = train_from_logs(db, settings.data_dir)
    assert result["version"] == "model-0001" and result["label"] == "purchase"
    assert result["rows"] == 150 and result["positives"] == 25
    assert (settings.data_dir / "search" / "models" / "model-0001.txt").exists()
    import time

    time.sleep(1.1)  # the model store checks for a new version at most once a second
    r = client.get("/api/v1/search", params={"q": "lamp", "lang": "en", "explain": "true"}, headers=admin).json()
    assert r["model"] == "lightgbm:model-0001"
    assert r["items"][0]["explain"]["model"] == "lightgbm:model-0001"
    assert r["items"][0]["product_id"] == ids[0]  # the product shoppers buy now ranks first


def test_evaluate_command_prints_the_metrics(tmp_path, monkeypatch):
    """`merx search evaluate` against an index built from a real catalog database."""
    from typer.testing import CliRunner

    from merx.cli import app
    from merx.core.settings import reset_settings_cache

    data = tmp_path / "data"
    monkeypatch.setenv("MERX_DATA_DIR", str(data))
    monkeypatch.delenv("MERX_DATABASE_URL", raising=False)
    reset_settings_cache()
    try:
        from merx.catalog.schemas import ProductCreate
        from merx.catalog.service import bulk_create_products
        from merx.cli import upgraded_database
        from merx.core.uow import UnitOfWork

        db = upgraded_database()
        with UnitOfWork(db) as uow:
            bulk_create_products(uow, [ProductCreate(sku=f"S{i}", name=n) for i, n in
                                       enumerate(["Oak table", "Oak chair", "Pine table"])])
        db.dispose()
        runner = CliRunner()
        r = runner.invoke(app, ["search", "reindex"])
        assert r.exit_code == 0, r.output
        judgments = tmp_path / "j.csv"
        judgments.write_text("query,product,grade\noak table,S0,3\noak table,S2,1\npine table,S2,3\n")
        r = runner.invoke(app, ["search", "evaluate", str(judgments)])
        assert r.exit_code == 0, r.output
        assert "NDCG@10" in r.output and "1.0000" in r.output
        bad = tmp_path / "bad.csv"
        bad.write_text("query,item\nx,1\n")
        r = runner.invoke(app, ["search", "evaluate", str(bad)])
        assert r.exit_code == 2
    finally:
        reset_settings_cache()


def test_judged_paraphrase_and_negation_sets_follow_their_intent():
    from merx.search.simulate import SimProduct
    from merx.search.documents import ProductSignals
    from merx.search.study import StudyQuery, grade, match_level, negation_queries, paraphrase_queries

    def product(type_, colour, material, quality=1.0):
        return SimProduct(1, type_, colour, material, "modern", "brand01", 10, quality, ProductSignals())

    couch = StudyQuery("dark blue couch", "sofa", colours=("navy",), kind="paraphrase")
    assert match_level(couch, product("sofa", "navy", "oak")) == 2
    assert match_level(couch, product("sofa", "red", "oak")) == 1
    assert match_level(couch, product("chair", "navy", "oak")) == 0
    without = StudyQuery("chair without leather", "chair", not_material="leather", kind="negation")
    assert grade(without, product("chair", "red", "leather")) == 0.0 < grade(without, product("chair", "red", "oak"))
    paraphrases = paraphrase_queries(5, 40)
    # no paraphrase uses the title's noun for its type
    assert all(q.type not in q.text.split() for q in paraphrases) and len(paraphrases) == 40
    assert all(" without " in q.text or " no " in q.text for q in negation_queries(5, 10))


def test_hybrid_beats_lexical_on_paraphrases_by_more_than_the_bootstrap_interval(tmp_path):
    from merx.search.semantic import retrieval_mode
    from merx.search.study import run_study

    mode, why = retrieval_mode()
    if mode != "hybrid":
        pytest.skip(f"semantic extra not installed: {why}")
    report = run_study(tmp_path / "ix", n_products=600, n_queries=60, seed=3, n_paraphrases=50, n_negations=10)
    lexical = report.results["paraphrase"]["fallback"]["lexical"]
    hybrid = report.results["paraphrase"]["fallback"]["hybrid"]
    assert hybrid.ndcg10 > lexical.ndcg10
    diff = report.differences["paraphrase"]["fallback"]
    assert diff.low > 0  # the whole 95% interval above zero
