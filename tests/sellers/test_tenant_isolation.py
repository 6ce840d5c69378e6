"""A seller sees and changes only its own records: every route of the sellers context and the
seller registry, walked with seller A's key against seller B's records (404, or lists that
hold only A's). The walk fails when a route is added without being covered here."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace_helpers import Market


@pytest.fixture
def two_sellers(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    m.product("MUG-1", "9.00", "home")
    ids, keys, offers, subs = {}, {}, {}, {}
    for name in ("a", "b"):
        ids[name], keys[name] = m.seller(f"seller-{name}")
        offers[name] = m.offer(keys[name], "BOOK-1", "25.00" if name == "a" else "26.00")
        m.offer(keys[name], "MUG-1", "7.00")
    r = m.checkout([("BOOK-1", 1, offers["a"]["id"])])
    assert r.status_code == 201, r.text
    r = m.checkout([("BOOK-1", 1, offers["b"]["id"])])
    assert r.status_code == 201, r.text
    for name in ("a", "b"):
        sub, = m.seller_orders(keys[name])
        m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=keys[name],
                        json={"lines": [{"line_id": sub["lines"][0]["id"], "accepted": True}]}))
        m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/ship", headers=keys[name],
                        json={"carrier": "UPS", "tracking_number": f"T-{name}"}))
        subs[name] = sub
    m.ok(client.post("/api/v1/seller-violations", json={"seller_id": ids["b"], "kind": "late_shipment"},
                     headers=admin), 201)
    inc_b = m.ok(client.post(f"/api/v1/seller-orders/{subs['b']['id']}/incidents", headers=admin,
                             json={"line_id": subs["b"]["lines"][0]["id"], "kind": "not_received"}), 201)
    proposals = {name: m.ok(client.post("/api/v1/product-proposals", headers=keys[name], json={
        "sku": f"NEW-{name}", "name": f"New thing {name}", "price": {"amount": "10.00", "currency": "EUR"}}), 201)
        for name in ("a", "b")}
    m.ok(client.post("/api/v1/payouts/cycles", headers=admin,
                     json={"period_end": dt.datetime.now(dt.timezone.utc).isoformat()}), 201)
    payouts = {p["seller_id"]: p for p in m.ok(client.get("/api/v1/payouts", headers=admin))["items"]}
    return {"m": m, "ids": ids, "keys": keys, "offers": offers, "subs": subs, "incident_b": inc_b,
            "payout_b": payouts[ids["b"]], "proposal_b": proposals["b"]}


def _routes(app):
    from merx.marketplace.api import router as marketplace_router
    from merx.sellers.api import router as sellers_router

    return {(method, route.path) for router in (marketplace_router, sellers_router) for route in router.routes
            for method in route.methods}


def test_seller_a_cannot_read_or_change_anything_of_seller_b(client, app, admin, two_sellers):
    t = two_sellers
    a, b_id = t["keys"]["a"], t["ids"]["b"]
    a_id = t["ids"]["a"]
    sub_b, offer_b, inc_b, payout_b = t["subs"]["b"], t["offers"]["b"], t["incident_b"], t["payout_b"]
    line_b = sub_b["lines"][0]["id"]
    walked: set[tuple[str, str]] = set()

    def call(method, template, path, *, expect, **kw):
        walked.add((method, template))
        r = client.request(method, path, headers=a, **kw)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def only_a(items, field="seller_id"):
        assert items, "seller A should see its own records"
        assert {i[field] for i in items} == {a_id}

    # reads of B's records: as absent as records that do not exist
    call("GET", "/sellers/{seller_id}", f"/api/v1/sellers/{b_id}", expect=404)
    call("GET", "/sellers/{seller_id}/rating", f"/api/v1/sellers/{b_id}/rating", expect=404)
    call("GET", "/offers/{offer_id}", f"/api/v1/offers/{offer_b['id']}", expect=404)
    call("GET", "/seller-orders/{seller_order_id}", f"/api/v1/seller-orders/{sub_b['id']}", expect=404)
    call("GET", "/payouts/{payout_id}", f"/api/v1/payouts/{payout_b['id']}", expect=404)
    call("GET", "/payouts/{payout_id}/statement.csv", f"/api/v1/payouts/{payout_b['id']}/statement.csv", expect=404)
    call("GET", "/payouts/{payout_id}/statement.pdf", f"/api/v1/payouts/{payout_b['id']}/statement.pdf", expect=404)
    proposal_b = t["proposal_b"]
    call("GET", "/product-proposals/{proposal_id}", f"/api/v1/product-proposals/{proposal_b['id']}", expect=404)
    # lists hold only A's records, even when A asks for B's
    for params in ({}, {"seller_id": b_id}):
        only_a(call("GET", "/offers", "/api/v1/offers", params=params, expect=200).json()["items"])
        only_a(call("GET", "/seller-orders", "/api/v1/seller-orders", params=params, expect=200).json()["items"])
        only_a(call("GET", "/seller-ledger", "/api/v1/seller-ledger", params=params, expect=200).json()["items"])
        only_a(call("GET", "/payouts", "/api/v1/payouts", params=params, expect=200).json()["items"])
        assert call("GET", "/seller-violations", "/api/v1/seller-violations", params=params, expect=200).json()["items"] == []
        only_a(call("GET", "/product-proposals", "/api/v1/product-proposals", params=params, expect=200).json()["items"])
    assert call("GET", "/seller-orders", "/api/v1/seller-orders", params={"order_id": sub_b["order_id"]},
                expect=200).json()["items"] == []
    assert call("GET", "/seller-incidents", "/api/v1/seller-incidents", expect=200).json()["items"] == []
    assert call("GET", "/seller-balance", "/api/v1/seller-balance", params={"seller_id": b_id}, expect=200).json() == {}
    rules = call("GET", "/seller-commissions", "/api/v1/seller-commissions", expect=200).json()["items"]
    assert all(r["seller_id"] in (None, a_id) for r in rules)
    # the buy box is public on purpose (the product page shows every offer)
    walked.add(("GET", "/offers/buy-box"))

    # changes to B's records: 404, and B's records stay as they were
    call("PATCH", "/offers/{offer_id}", f"/api/v1/offers/{offer_b['id']}", json={"quantity": 0}, expect=404)
    call("PUT", "/seller-orders/{seller_order_id}/accept", f"/api/v1/seller-orders/{sub_b['id']}/accept",
         json={"lines": [{"line_id": line_b, "accepted": False, "reason": "x"}]}, expect=404)
    call("PUT", "/seller-orders/{seller_order_id}/ship", f"/api/v1/seller-orders/{sub_b['id']}/ship",
         json={"carrier": "X", "tracking_number": "HIJACK"}, expect=404)
    call("PUT", "/seller-incidents/{incident_id}/reply", f"/api/v1/seller-incidents/{inc_b['id']}/reply",
         json={"reply": "not mine"}, expect=404)
    # an offer "for" B made with A's key is refused as if B did not exist
    call("POST", "/offers", "/api/v1/offers", expect=404,
         json={"sku": "MUG-1", "seller_id": b_id, "price": {"amount": "1.00", "currency": "EUR"}, "quantity": 1})
    # staff-only routes are 403 for any seller
    call("POST", "/sellers", "/api/v1/sellers", json={"code": "x", "name": "X"}, expect=403)
    call("GET", "/sellers", "/api/v1/sellers", expect=403)
    call("PATCH", "/sellers/{seller_id}", f"/api/v1/sellers/{b_id}", json={"premium": True}, expect=403)
    call("POST", "/sellers/{seller_id}/rating/recompute", f"/api/v1/sellers/{b_id}/rating/recompute", expect=403)
    call("POST", "/seller-orders/{seller_order_id}/incidents", f"/api/v1/seller-orders/{sub_b['id']}/incidents",
         json={"line_id": line_b, "kind": "damaged"}, expect=403)
    call("POST", "/seller-incidents/{incident_id}/refund", f"/api/v1/seller-incidents/{inc_b['id']}/refund", expect=403)
    call("PUT", "/seller-commissions", "/api/v1/seller-commissions", json={"seller_id": a_id, "rate": "0"}, expect=403)
    call("POST", "/seller-ledger/adjustments", "/api/v1/seller-ledger/adjustments", expect=403,
         json={"seller_id": a_id, "direction": "credit", "amount": {"amount": "100.00", "currency": "EUR"},
               "description": "gift"})
    call("POST", "/payouts/cycles", "/api/v1/payouts/cycles", json={"period_end": "2020-01-01T00:00:00Z"}, expect=403)
    call("GET", "/payouts/cycles", "/api/v1/payouts/cycles", expect=403)
    call("POST", "/seller-violations", "/api/v1/seller-violations", json={"seller_id": b_id, "kind": "other"},
         expect=403)
    call("POST", "/product-proposals/{proposal_id}/approve", f"/api/v1/product-proposals/{proposal_b['id']}/approve",
         expect=403)
    call("POST", "/product-proposals/{proposal_id}/reject", f"/api/v1/product-proposals/{proposal_b['id']}/reject",
         json={"reason": "no"}, expect=403)
    # a proposal "for" B made with A's key is refused as if B did not exist
    call("POST", "/product-proposals", "/api/v1/product-proposals", expect=404, json={
        "seller_id": b_id, "sku": "NEW-X", "name": "X", "price": {"amount": "1.00", "currency": "EUR"}})

    assert walked == _routes(app), f"routes not walked: {_routes(app) - walked}"
    # nothing of B changed
    admin_view = client.get(f"/api/v1/seller-orders/{sub_b['id']}", headers=admin).json()
    assert admin_view["status"] == "shipped" and admin_view["tracking_number"] == "T-b"
    assert client.get(f"/api/v1/offers/{offer_b['id']}", headers=admin).json()["quantity"] == offer_b["quantity"] - 1
    assert client.get(f"/api/v1/product-proposals/{proposal_b['id']}", headers=admin).json()["status"] == "pending"
    incident = client.get("/api/v1/seller-incidents", headers=t["keys"]["b"]).json()["items"][0]
    assert incident["seller_reply"] is None and incident["status"] == "open"
