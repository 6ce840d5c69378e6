"""The issue's bad input: refused with a clear answer naming the field, nothing written, no
money moved twice."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace_helpers import Market


@pytest.fixture
def market(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    m.product("MUG-1", "9.00", "home")
    return m


def _problem(r, status, field, code=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    err = next(e for e in r.json()["errors"] if e["field"] == field)
    if code:
        assert err["code"] == code
    return r.json()


def test_offers_a_seller_may_not_make_are_refused_and_nothing_is_written(client, admin, market):
    a_id, a = market.seller("alfa")
    b_id, b = market.seller("bravo")
    exclusive = market.product("OWN-1", "10.00", "home", seller_id=b_id)
    assert exclusive
    price = {"amount": "5.00", "currency": "EUR"}
    # another seller's own listing
    _problem(client.post("/api/v1/offers", json={"sku": "OWN-1", "price": price, "quantity": 1}, headers=a),
             422, "sku", "not_sellable")
    # a SKU the catalog does not know
    _problem(client.post("/api/v1/offers", json={"sku": "NOPE", "price": price, "quantity": 1}, headers=a),
             422, "sku", "unknown_sku")
    # a currency the marketplace channel does not take
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": {"amount": "5.00", "currency": "USD"},
                                                 "quantity": 1}, headers=a), 422, "price.currency",
             "currency_not_accepted")
    # a float price, a negative stock, an unknown field
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": {"amount": 5.0, "currency": "EUR"},
                                                 "quantity": 1}, headers=a), 422, "price.amount")
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": price, "quantity": -1}, headers=a),
             422, "quantity")
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": price, "quantity": 1, "buy_box": True},
                         headers=a), 422, "buy_box")
    # a suspended seller may not offer
    assert client.patch(f"/api/v1/sellers/{a_id}", json={"status": "suspended"}, headers=admin).status_code == 200
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": price, "quantity": 1}, headers=a),
             422, "seller_id", "seller_not_active")
    assert client.get("/api/v1/offers", headers=admin).json()["items"] == []
    # staff must say for whom
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": price, "quantity": 1}, headers=admin),
             422, "seller_id", "required")
    # an offer for the same SKU twice
    market.offer(b, "BOOK-1", "20.00")
    _problem(client.post("/api/v1/offers", json={"sku": "BOOK-1", "price": price, "quantity": 1}, headers=b),
             409, "sku", "duplicate")


def test_onboarding_needs_verified_kyc_before_activation(client, admin, market):
    r = client.post("/api/v1/sellers", headers=admin, json={"code": "newco", "name": "NewCo", "status": "pending",
                                                            "legal_name": "NewCo Lda", "tax_id": "PT123456789"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["status"] == "pending" and r.json()["active"] is False
    _problem(client.patch(f"/api/v1/sellers/{sid}", json={"status": "active"}, headers=admin), 422, "status",
             "kyc_not_verified")
    r = client.patch(f"/api/v1/sellers/{sid}", json={"kyc_status": "verified", "status": "active"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["active"] is True
    _problem(client.patch(f"/api/v1/sellers/{sid}", json={"status": "pending"}, headers=admin), 422, "status")


def test_checkout_refuses_bad_offer_lines_and_writes_no_order(client, admin, market):
    a_id, a = market.seller("alfa")
    book = market.offer(a, "BOOK-1", "25.00", quantity=2)
    mug = market.offer(a, "MUG-1", "5.00", quantity=2)
    _problem(market.checkout([("BOOK-1", 1, mug["id"])]), 422, "lines[0].offer_id", "offer_sku_mismatch")
    _problem(market.checkout([("BOOK-1", 1, 999999)]), 422, "lines[0].offer_id", "unknown_offer")
    _problem(market.checkout([("BOOK-1", 1, book["id"])], currency="USD"), 422, "lines[0].offer_id",
             "currency_mismatch")
    _problem(market.checkout([("BOOK-1", 3, book["id"])]), 409, "lines[0].quantity", "insufficient_stock")
    market.stock("BOOK-1", 5)
    _problem(market.checkout([("BOOK-1", 1, book["id"]), ("BOOK-1", 1, None)]), 422, "lines[0].sku",
             "duplicate_sku")
    assert client.get("/api/v1/orders", headers=admin).json()["items"] == []
    assert client.get(f"/api/v1/offers/{book['id']}", headers=a).json()["quantity"] == 2
    assert client.get("/api/v1/seller-orders", headers=admin).json()["items"] == []


def test_accepting_lines_that_are_not_awaiting_or_not_this_sub_orders_is_refused(client, admin, market):
    a_id, a = market.seller("alfa")
    b_id, b = market.seller("bravo")
    book = market.offer(a, "BOOK-1", "25.00")
    mug = market.offer(b, "MUG-1", "5.00")
    assert market.checkout([("BOOK-1", 1, book["id"]), ("MUG-1", 1, mug["id"])]).status_code == 201
    sub_a, = market.seller_orders(a)
    sub_b, = market.seller_orders(b)
    line_a, line_b = sub_a["lines"][0]["id"], sub_b["lines"][0]["id"]
    url = f"/api/v1/seller-orders/{sub_a['id']}/accept"
    # a line of another seller's sub-order, named in A's own sub-order: not one of its lines
    _problem(client.put(url, json={"lines": [{"line_id": line_b, "accepted": True}]}, headers=a), 422,
             "lines[0].line_id", "unknown_line")
    # a refusal needs a reason
    _problem(client.put(url, json={"lines": [{"line_id": line_a, "accepted": False}]}, headers=a), 422,
             "lines[0].reason", "required")
    # nothing was decided by the refused calls
    assert client.get(f"/api/v1/seller-orders/{sub_b['id']}", headers=b).json()["status"] == "awaiting_acceptance"
    assert client.get(f"/api/v1/seller-orders/{sub_a['id']}", headers=a).json()["status"] == "awaiting_acceptance"
    assert client.put(url, json={"lines": [{"line_id": line_a, "accepted": True}]}, headers=a).status_code == 200
    # the same line again: no longer awaiting acceptance; no second sale in the ledger
    _problem(client.put(url, json={"lines": [{"line_id": line_a, "accepted": False, "reason": "changed my mind"}]},
                        headers=a), 409, "lines[0].line_id", "not_awaiting_acceptance")
    # (the sale reaches the ledger when the line ships: once, however often shipping is asked)
    ship = f"/api/v1/seller-orders/{sub_a['id']}/ship"
    assert client.put(ship, json={"carrier": "CTT", "tracking_number": "RR1"}, headers=a).status_code == 200
    assert client.put(ship, json={"carrier": "CTT", "tracking_number": "RR2"}, headers=a).status_code == 409
    ledger = client.get("/api/v1/seller-ledger", headers=a).json()["items"]
    assert sorted(e["kind"] for e in ledger) == ["commission", "sale"]
    # shipping before anything is accepted, and bad tracking input
    _problem(client.put(f"/api/v1/seller-orders/{sub_a['id']}/ship", json={"carrier": "", "tracking_number": "1"},
                        headers=a), 422, "carrier")
    r = client.put(f"/api/v1/seller-orders/{sub_b['id']}/ship", json={"carrier": "UPS", "tracking_number": "1"},
                   headers=b)
    assert r.status_code == 409, r.text


def test_a_payout_cycle_runs_once(client, admin, market):
    a_id, a = market.seller("alfa")
    r = client.post("/api/v1/seller-ledger/adjustments", headers=admin, json={
        "seller_id": a_id, "direction": "credit", "amount": {"amount": "12.00", "currency": "EUR"},
        "description": "launch bonus"})
    assert r.status_code == 201, r.text
    end = dt.datetime.now(dt.timezone.utc)
    first = client.post("/api/v1/payouts/cycles", json={"period_end": end.isoformat()}, headers=admin)
    assert first.status_code == 201, first.text
    for period_end in (end, end - dt.timedelta(days=1)):
        again = client.post("/api/v1/payouts/cycles", json={"period_end": period_end.isoformat()}, headers=admin)
        assert again.status_code == 409, again.text
    future = client.post("/api/v1/payouts/cycles", headers=admin,
                         json={"period_end": (end + dt.timedelta(days=3)).isoformat()})
    _problem(future, 422, "period_end", "in_future")
    payouts = client.get("/api/v1/payouts", headers=admin).json()["items"]
    assert [(p["seller_id"], p["amount"]["amount"]) for p in payouts] == [(a_id, "12.00")]
    # a debit after the payout is a negative balance carried into the next cycle, not paid
    client.post("/api/v1/seller-ledger/adjustments", headers=admin, json={
        "seller_id": a_id, "direction": "debit", "amount": {"amount": "3.00", "currency": "EUR"},
        "description": "late-shipment fee"})
    nxt = client.post("/api/v1/payouts/cycles", headers=admin,
                      json={"period_end": dt.datetime.now(dt.timezone.utc).isoformat()})
    assert nxt.status_code == 201, nxt.text
    latest = client.get("/api/v1/payouts", headers=admin).json()["items"][0]
    assert latest["status"] == "carried" and latest["amount"]["amount"] == "0.00"
    assert client.get("/api/v1/seller-balance", headers=a).json() == {"EUR": {"amount": "-3.00", "currency": "EUR"}}
