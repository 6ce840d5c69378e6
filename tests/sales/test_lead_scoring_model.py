"""The learned lead-scoring model: refused while there are too few closed deals from leads; once
there are enough, trained with its cross-validated AUC reported, and used for new leads (the
points model's score kept beside it)."""

from __future__ import annotations

import numpy as np

from sales_helpers import person


def _closed_deal_from_lead(client, rep, account_id, i, good):
    body = ({"source": "trade_fair", "company": f"Good Buyer {i}", "tax_id": f"DE{i:09d}", "email": f"g{i}@good.example",
             "interest": "seedlings"} if good else {"source": "chat_group", "email": f"c{i}@chat.example"})
    lead = client.post("/api/v1/leads", headers=rep.headers, json=body).json()["lead"]
    r = client.post(f"/api/v1/leads/{lead['id']}/convert", headers=rep.headers, json={"account_id": account_id})
    assert r.status_code == 201, r.text
    deal = r.json()["deal"]["id"]
    path = ["needs_analysis", "quote", "negotiation", "signed"] if good else ["lost"]
    for stage in path:
        r = client.post(f"/api/v1/deals/{deal}/move", headers=rep.headers,
                        json={"stage": stage, "lost_reason": "no budget" if stage == "lost" else None})
        assert r.status_code == 200, r.text


def test_the_learned_model_needs_enough_deals_then_scores_new_leads(client, db, make_key):
    manager = make_key("staff")
    rep = person(db, "sales_rep", "Rob")
    account = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Pool Account"}).json()
    for i in range(6):
        _closed_deal_from_lead(client, rep, account["id"], i, good=i % 2 == 0)
    r = client.post("/api/v1/leads/scoring-model", headers=manager)
    assert r.status_code == 409 and "3 won and 3 lost" in r.json()["detail"]
    assert client.get("/api/v1/leads/scoring-model", headers=rep.headers).json()["kind"] == "points"
    for i in range(6, 44):
        _closed_deal_from_lead(client, rep, account["id"], i, good=i % 2 == 0)
    assert client.post("/api/v1/leads/scoring-model", headers=rep.headers).status_code == 403
    r = client.post("/api/v1/leads/scoring-model", headers=manager)
    assert r.status_code == 201, r.text
    model = r.json()
    assert (model["kind"], model["deals"], model["won"], model["lost"]) == ("learned", 44, 22, 22)
    assert model["auc"] > 0.9  # the classes differ in source and contact data: the model must see it

    good = client.post("/api/v1/leads", headers=rep.headers, json={
        "source": "trade_fair", "company": "New Good Buyer", "tax_id": "DE777777777", "email": "n@good.example",
        "interest": "pots"}).json()["lead"]
    weak = client.post("/api/v1/leads", headers=rep.headers, json={"source": "chat_group",
                                                                   "email": "n@chat.example"}).json()["lead"]
    assert good["score_reasons"][0]["factor"].startswith("learned model (AUC")
    assert good["score"] > weak["score"]
    assert good["score_reasons"][0]["points_model"] == 20 + 10 + 15 + 5 + 10  # the points model, for comparison


def test_auc_is_the_share_of_correctly_ordered_pairs():
    from merx.sales.scoring import auc

    labels = np.array([1, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.4, 0.4, 0.1, 0.8, 0.7])
    # pairs (pos, neg): 3 x 3 = 9; wrong: (0.4 vs 0.7); tie: (0.4 vs 0.4) counts half
    assert auc(labels, scores) == (9 - 1 - 0.5) / 9
