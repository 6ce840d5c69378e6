"""The issue's end-to-end flow, through HTTP only: a lead from a CSV import with duplicates ->
a deal -> a quote with a discount needing approval -> approved by a manager -> accepted through
the buyer's link (no login) -> an order placed with the quote's prices and its stock reserved."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sales_helpers import outbox_matches_published_schemas, person, product, stock_level, warehouse_with_stock

CSV = """Company,Contact,Email,Phone,Country,Interest,Campaign,Source
Green Leaf Gardens GmbH,Anna Berg,anna@greenleaf.example,+49 30 1234567,DE,seedlings,fair-2026,trade_fair
Greenleaf Gardens,Anna B.,,+49 30 1234567,DE,,spring-chat,chat_group
Blue River Nursery Ltd,Tom Reed,tom@blueriver.example,,GB,pots,fair-2026,trade_fair
GREEN LEAF GARDENS,,ANNA@greenleaf.example,,DE,,forum-thread-9,forum
Green-Leaf Gardens AG,,,,DE,,qr-flyer-7,qr_scan
"""


@pytest.mark.backends("sqlite", "postgresql")
def test_lead_to_order_through_an_approved_quote_and_the_buyers_link(client, db, admin):
    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Rob Rep")
    product(db, "SEED-1", "100.00")
    product(db, "POT-9", "20.00")
    warehouse_with_stock(client, admin, {"SEED-1": 10, "POT-9": 50})

    # 1. the import: five rows, three of them the same company (phone, email, fuzzy name)
    r = client.post("/api/v1/leads/import", params={"campaign": "spring"}, headers=rep.headers,
                    files={"file": ("fair.csv", CSV.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["merged"]) == (5, 2, 3)
    green = report["created_ids"][0]
    assert {(m["row"], m["into_lead_id"], m["matched_on"].split("~")[0]) for m in report["merges"]} == {
        (3, green, "phone"), (5, green, "email"), (6, green, "company")}
    lead = client.get(f"/api/v1/leads/{green}", headers=rep.headers).json()
    assert lead["owner_user_id"] == rep.user_id
    assert [s["source"] for s in lead["merged_sources"]] == ["chat_group", "forum", "qr_scan"]
    assert lead["source"] == "trade_fair" and lead["phone"] == "+49301234567"

    # 2. the lead becomes an account (its contact a customer record) and a deal
    r = client.post(f"/api/v1/leads/{green}/convert", headers=rep.headers,
                    json={"amount": {"currency": "EUR", "amount": "455.00"}, "expected_close": "2027-01-15"})
    assert r.status_code == 201, r.text
    account_id, deal = r.json()["account_id"], r.json()["deal"]
    account = client.get(f"/api/v1/accounts/{account_id}", headers=rep.headers).json()
    assert account["owner_user_id"] == rep.user_id and account["customer_id"] is not None
    assert account["contacts"][0]["email"] == "anna@greenleaf.example"
    for stage in ("needs_analysis", "quote"):
        r = client.post(f"/api/v1/deals/{deal['id']}/move", json={"stage": stage}, headers=rep.headers)
        assert r.status_code == 200, r.text

    # 3. the quote: 15 % off seedlings is above a rep's 10 % limit
    r = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": account_id, "deal_id": deal["id"],
        "lines": [{"sku": "SEED-1", "quantity": 3, "discount_percent": "15"}, {"sku": "POT-9", "quantity": 10}]})
    assert r.status_code == 201, r.text
    quote = r.json()
    assert quote["status"] == "pending_approval"
    assert [(ln["unit_price"], ln["needs_approval"]) for ln in quote["lines"]] == [("85.00", True), ("20.00", False)]
    assert quote["total"] == {"amount": "455.00", "currency": "EUR"}

    r = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=rep.headers)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["lines[0].discount_percent"]
    assert client.post(f"/api/v1/quotes/{quote['id']}/approve", headers=rep.headers).status_code == 403

    # 4. the manager approves; the rep sends: the link is the buyer's only credential
    r = client.post(f"/api/v1/quotes/{quote['id']}/approve", headers=manager.headers)
    assert r.status_code == 200 and r.json()["approved_by_user_id"] == manager.user_id
    r = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=rep.headers)
    assert r.status_code == 200, r.text
    link = r.json()["accept_url"]
    token = link.rsplit("/", 1)[1]
    seen = client.get(f"/api/v1/quote-links/{token}")
    assert seen.status_code == 200 and seen.json()["status"] == "sent" and seen.json()["total"] == "455.00"
    assert client.get(f"/api/v1/quote-links/{token}x").status_code == 404

    # 5. the buyer accepts through the link, without a login
    r = client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "Anna Berg"},
                    headers={"Idempotency-Key": "accept-1"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["order_number"]
    retried = client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "Anna Berg"},
                          headers={"Idempotency-Key": "accept-1"})
    assert retried.status_code == 200 and retried.json()["order_number"] == r.json()["order_number"]  # replayed
    again = client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "Anna Berg"})
    assert again.status_code == 409

    # 6. the order: the quote's prices, the account's customer, b2b, the rep's, stock reserved
    quote = client.get(f"/api/v1/quotes/{quote['id']}", headers=rep.headers).json()
    assert quote["status"] == "accepted" and quote["order_id"]
    order = client.get(f"/api/v1/orders/{quote['order_id']}", headers=admin).json()
    assert order["channel"] == "b2b" and order["customer_id"] == account["customer_id"]
    assert [(ln["sku"], ln["quantity"], Decimal(ln["unit_price"])) for ln in order["lines"]] == [
        ("SEED-1", 3, Decimal("85.00")), ("POT-9", 10, Decimal("20.00"))]
    assert Decimal(order["totals"]["subtotal"]) == Decimal("455.00")
    assert stock_level(client, admin, "SEED-1")["reserved"] == 3
    assert stock_level(client, admin, "POT-9")["reserved"] == 10
    # the rep sees the order as theirs
    assert client.get(f"/api/v1/orders/{order['id']}", headers=rep.headers).status_code == 200

    # 7. the follow-up rule gave the rep a "call back in a month" task for that order
    tasks = client.get("/api/v1/activities", params={"open_tasks": True}, headers=rep.headers).json()["items"]
    assert [t["rule"] for t in tasks] == ["follow_up_after_order"]
    assert order["number"] in tasks[0]["subject"]

    # 8. every state change above has its typed event, matching the published schema
    assert outbox_matches_published_schemas(db) >= {
        "lead.created", "lead.merged", "lead.converted", "account.created", "deal.created", "deal.stage_changed",
        "quote.created", "quote.approved", "quote.sent", "quote.accepted", "activity.logged", "order.placed"}


def test_accepting_without_enough_stock_leaves_the_quote_open_and_reserves_nothing(client, db, admin):
    rep = person(db, "sales_rep", "Rob Rep")
    product(db, "SEED-1", "100.00")
    warehouse_with_stock(client, admin, {"SEED-1": 2})
    r = client.post("/api/v1/accounts", headers=rep.headers, json={
        "name": "Oak Farm", "contacts": [{"name": "Olga Oak", "email": "olga@oak.example"}]})
    assert r.status_code == 201, r.text
    q = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": r.json()["id"], "lines": [{"sku": "SEED-1", "quantity": 5, "discount_percent": "5"}]}).json()
    assert q["status"] == "draft"
    token = client.post(f"/api/v1/quotes/{q['id']}/send", headers=rep.headers).json()["accept_url"].rsplit("/", 1)[1]
    r = client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "Olga"})
    assert r.status_code == 409, r.text
    assert client.get(f"/api/v1/quote-links/{token}").json()["status"] == "sent"
    assert stock_level(client, admin, "SEED-1")["reserved"] == 0
    assert client.get("/api/v1/orders", headers=admin).json()["items"] == []
