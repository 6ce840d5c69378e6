"""What was built and untested (audit of #14): who a new lead goes to (territory and interest rules
by priority, else round-robin between the active reps), the public web-form and QR intake (no
login, deduplicated, bad input named), the manager's configurable pipeline stages, the contract
made from an accepted quote. (The customer 360's open deals and follow-up: tests/web/test_sales_forms.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sales_helpers import person, product, warehouse_with_stock

PROBLEM = "application/problem+json"


def _lead(client, headers, **fields):
    r = client.post("/api/v1/leads", headers=headers, json=fields)
    assert r.status_code == 201, r.text
    return r.json()["lead"]


@pytest.mark.backends("sqlite", "postgresql")
def test_assignment_rules_then_round_robin(client, db):
    manager = person(db, "staff", "Mia Manager")
    north, south = person(db, "sales_rep", "Nora North"), person(db, "sales_rep", "Sam South")
    rule = client.post("/api/v1/leads/assignment-rules", headers=manager.headers,
                       json={"kind": "territory", "value": "PL-North", "user_id": north.user_id})
    assert rule.status_code == 201, rule.text
    # an interest rule with a higher priority wins over the territory rule
    client.post("/api/v1/leads/assignment-rules", headers=manager.headers,
                json={"kind": "interest", "value": "Garden furniture", "user_id": south.user_id, "priority": 10})
    assert [r["kind"] for r in client.get("/api/v1/leads/assignment-rules", headers=manager.headers).json()] == \
        ["interest", "territory"]  # in the order they are tried

    by_territory = _lead(client, manager.headers, company="Gdynia Tools", territory="pl-north ")
    assert (by_territory["owner_user_id"], by_territory["assigned_by"]) == (north.user_id, "territory")
    by_interest = _lead(client, manager.headers, company="Sopot Patio", territory="PL-North",
                        interest="garden furniture")
    assert (by_interest["owner_user_id"], by_interest["assigned_by"]) == (south.user_id, "interest")

    # no rule matches: the reps take turns
    owners = [_lead(client, manager.headers, company=f"Company {n}", email=f"c{n}@example.com")
              for n in ("one", "two", "three", "four")]
    assert {o["assigned_by"] for o in owners} == {"round_robin"}
    turns = [o["owner_user_id"] for o in owners]
    assert set(turns) == {north.user_id, south.user_id} and turns[0] != turns[1] and turns[0] == turns[2]

    # only managers set rules, and only for active reps
    assert client.post("/api/v1/leads/assignment-rules", headers=north.headers,
                       json={"kind": "territory", "value": "X", "user_id": north.user_id}).status_code == 403
    bad = client.post("/api/v1/leads/assignment-rules", headers=manager.headers,
                      json={"kind": "territory", "value": "X", "user_id": manager.user_id})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "user_id"
    bad = client.post("/api/v1/leads/assignment-rules", headers=manager.headers,
                      json={"kind": "budget", "value": "X", "user_id": north.user_id})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


def test_the_public_web_form_and_qr_intake(client, db):
    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Rob Rep")
    r = client.post("/api/v1/leads/web-form", json={"company": "Kraków Kitchens", "contact_name": "Kasia",
                                                     "email": "kasia@kitchens.example", "interest": "ovens"})
    assert r.status_code == 202 and r.json() == {"received": True}  # says nothing about what is on file
    # the same person again through a flyer's QR code: merged, not a second lead
    r = client.post("/api/v1/leads/qr-scan", json={"campaign": "flyer-autumn", "email": "KASIA@kitchens.example"})
    assert r.status_code == 202, r.text
    r = client.post("/api/v1/leads/qr-scan", json={"campaign": "flyer-autumn", "contact_name": "Piotr",
                                                    "phone": "+48 600 100 200"})
    assert r.status_code == 202
    leads = client.get("/api/v1/leads", headers=manager.headers).json()["items"]
    by_source = {x["source"]: x for x in leads}
    assert set(by_source) == {"web_form", "qr_scan"}
    web = by_source["web_form"]
    assert web["company"] == "Kraków Kitchens" and web["owner_user_id"] == rep.user_id
    assert [(m["source"], m["matched_on"].split("~")[0]) for m in web["merged_sources"]] == [("qr_scan", "email")]
    assert by_source["qr_scan"]["campaign"] == "flyer-autumn" and by_source["qr_scan"]["phone"] == "+48600100200"

    # bad input is a 422 naming the field; a visitor cannot choose the source or the owner
    r = client.post("/api/v1/leads/qr-scan", json={"email": "x@example.com"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "campaign" in r.text
    r = client.post("/api/v1/leads/web-form", json={"company": "X", "country": "Poland"})
    assert r.status_code == 422 and "country" in r.text
    r = client.post("/api/v1/leads/qr-scan", json={"campaign": "c", "owner_user_id": rep.user_id})
    assert r.status_code == 422
    assert len(client.get("/api/v1/leads", headers=manager.headers).json()["items"]) == 2


STAGES = [{"code": "contact", "name": "First contact", "probability": "0.05"},
          {"code": "demo", "name": "Demo", "probability": "0.30"},
          {"code": "offer", "name": "Offer", "probability": "0.60"},
          {"code": "won", "name": "Won", "probability": "1", "kind": "won"},
          {"code": "lost", "name": "Lost", "probability": "0", "kind": "lost"}]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_manager_configures_the_pipeline_stages(client, db):
    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Rob Rep")
    assert client.put("/api/v1/deals/stages", headers=rep.headers, json={"stages": STAGES}).status_code == 403
    r = client.put("/api/v1/deals/stages", headers=manager.headers, json={"stages": STAGES})
    assert r.status_code == 200, r.text
    stages = client.get("/api/v1/deals/stages", headers=rep.headers).json()
    assert [(s["code"], s["position"], s["kind"]) for s in stages] == [
        ("contact", 1, "open"), ("demo", 2, "open"), ("offer", 3, "open"), ("won", 4, "won"), ("lost", 5, "lost")]

    acc = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Stage Co"}).json()
    deal = client.post("/api/v1/deals", headers=rep.headers, json={
        "title": "First", "account_id": acc["id"], "amount": {"currency": "EUR", "amount": "1000.00"}}).json()
    assert deal["stage"] == "contact" and deal["weighted"]["amount"] == "50.00"  # 5 % of 1000
    r = client.post(f"/api/v1/deals/{deal['id']}/move", headers=rep.headers, json={"stage": "demo"})
    assert r.status_code == 200 and Decimal(r.json()["probability"]) == Decimal("0.3")

    # a stage a deal is in cannot be dropped; the list needs one won and one lost stage
    r = client.put("/api/v1/deals/stages", headers=manager.headers,
                   json={"stages": [s for s in STAGES if s["code"] != "demo"]})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "stages" and "demo" in r.text
    r = client.put("/api/v1/deals/stages", headers=manager.headers,
                   json={"stages": [s for s in STAGES if s["code"] != "lost"]})
    assert r.status_code == 422 and "lost" in r.text
    r = client.put("/api/v1/deals/stages", headers=manager.headers,
                   json={"stages": STAGES[:2] + [{**STAGES[2], "code": "Offer Stage"}] + STAGES[3:]})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    r = client.put("/api/v1/deals/stages", headers=manager.headers, json={"stages": STAGES + [STAGES[0]]})
    assert r.status_code == 422 and "unique" in r.text
    assert len(client.get("/api/v1/deals/stages", headers=rep.headers).json()) == 5


def test_a_contract_follows_an_accepted_quote(client, db, admin):
    rep = person(db, "sales_rep", "Rob Rep")
    product(db, "SEED-1", "100.00")
    warehouse_with_stock(client, admin, {"SEED-1": 20})
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={
        "name": "Green Leaf", "contacts": [{"name": "Anna", "email": "anna@greenleaf.example"}]}).json()
    other = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Other Co"}).json()
    quote = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": acc["id"], "lines": [{"sku": "SEED-1", "quantity": 4, "discount_percent": "5"}]}).json()
    assert quote["status"] == "draft" and quote["total"]["amount"] == "380.00"

    early = client.post("/api/v1/contracts", headers=rep.headers, json={
        "title": "Seed supply", "account_id": acc["id"], "quote_id": quote["id"]})
    assert early.status_code == 409 and [e["field"] for e in early.json()["errors"]] == ["quote_id"]

    sent = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=rep.headers).json()
    token = sent["accept_url"].rsplit("/", 1)[1]
    assert client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "Anna"}).status_code == 200
    wrong = client.post("/api/v1/contracts", headers=rep.headers, json={
        "title": "Seed supply", "account_id": other["id"], "quote_id": quote["id"]})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "quote_id"
    r = client.post("/api/v1/contracts", headers=rep.headers, json={
        "title": "Seed supply", "account_id": acc["id"], "quote_id": quote["id"],
        "clauses": [{"kind": "payment_terms", "days": 30}]})
    assert r.status_code == 201, r.text
    contract = r.json()
    assert contract["quote_id"] == quote["id"] and contract["status"] == "draft"
    assert contract["value"] == {"amount": "380.00", "currency": "EUR"}  # the accepted quote's total


@pytest.mark.backends("sqlite", "postgresql")
def test_a_known_customers_tracked_qr_scan_of_a_campaign_becomes_a_lead(client, db):
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers

    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Rob Rep")
    with UnitOfWork(db) as uow:
        ewa = customers.create_customer(uow, customers.CustomerCreate(
            email="ewa@florist.example", first_name="Ewa", last_name="Kwiat", company="Kwiat Florist")).id
    scan = {"type": "qr_scan", "customer": {"customer_id": ewa}, "campaign": "fair-2026",
            "source": "flyer", "properties": {"qr_id": "QR-FAIR-7"}}
    r = client.post("/api/v1/events", headers=manager.headers, json={"events": [
        scan, {**scan, "campaign": None},  # no campaign: a visit, not a lead
        {"type": "qr_scan", "anonymous_id": "phone-1", "campaign": "fair-2026", "properties": {"qr_id": "Q"}}]})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    leads = client.get("/api/v1/leads", headers=manager.headers).json()["items"]
    assert len(leads) == 1  # the anonymous scan has no contact to call back
    lead = leads[0]
    assert (lead["source"], lead["campaign"], lead["email"]) == ("qr_scan", "fair-2026", "ewa@florist.example")
    assert (lead["company"], lead["contact_name"], lead["owner_user_id"]) == ("Kwiat Florist", "Ewa Kwiat", rep.user_id)
    # she scans again at the next fair: merged into her lead, not a second one
    client.post("/api/v1/events", headers=manager.headers, json={"events": [{**scan, "campaign": "fair-2027"}]})
    leads = client.get("/api/v1/leads", headers=manager.headers).json()["items"]
    assert len(leads) == 1 and [(m["source"], m["campaign"]) for m in leads[0]["merged_sources"]] == \
        [("qr_scan", "fair-2027")]
