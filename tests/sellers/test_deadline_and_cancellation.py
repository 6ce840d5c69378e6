"""A missed acceptance deadline cancels and refunds the line (through the scheduler); a
cancelled customer order cancels its sub-orders, gives the units back to the offers and
reverses the seller's sale and commission."""

from __future__ import annotations

import datetime as dt

from marketplace_helpers import Market


def test_a_missed_deadline_expires_and_refunds_the_line(client, admin, make_key, db, app):
    from merx.core.jobs import run_job_now

    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    _, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "25.00", quantity=3)
    order = m.ok(m.checkout([("BOOK-1", 2, book["id"])]), 201)
    sub, = m.seller_orders(a)
    deadline = dt.datetime.fromisoformat(sub["acceptance_deadline"])
    # before the deadline the sweep leaves it alone
    assert run_job_now(db, app.state.scheduler, "sellers.expire_acceptance", now=deadline - dt.timedelta(minutes=1)).succeeded
    assert m.seller_orders(a)[0]["status"] == "awaiting_acceptance"
    run = run_job_now(db, app.state.scheduler, "sellers.expire_acceptance", now=deadline + dt.timedelta(minutes=1))
    assert run.succeeded and run.result.startswith("expired 1 lines"), run
    sub, = m.seller_orders(a)
    assert sub["status"] == "refused"
    assert sub["lines"][0]["status"] == "expired" and sub["lines"][0]["refund_status"] == "refunded"
    assert m.ok(client.get(f"/api/v1/orders/{order['id']}", headers=admin))["totals"]["refunded"] == "50.00"
    assert m.ok(client.get(f"/api/v1/offers/{book['id']}", headers=a))["quantity"] == 3
    # too late to accept now
    r = client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a,
                   json={"lines": [{"line_id": sub["lines"][0]["id"], "accepted": True}]})
    assert r.status_code == 409
    # a second sweep refunds nothing twice
    assert run_job_now(db, app.state.scheduler, "sellers.expire_acceptance",
                       now=deadline + dt.timedelta(minutes=5)).result == "expired 0 lines; settled 0 refunds"
    assert m.ok(client.get(f"/api/v1/orders/{order['id']}", headers=admin))["totals"]["refunded"] == "50.00"


def test_cancelling_the_customer_order_cancels_the_sellers_lines(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    m.product("MUG-1", "9.00", "home")
    _, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "25.00", quantity=3)
    mug = m.offer(a, "MUG-1", "5.00", quantity=3)
    order = m.ok(m.checkout([("BOOK-1", 1, book["id"]), ("MUG-1", 1, mug["id"])], payment={"provider": "manual"}), 201)
    sub, = m.seller_orders(a)
    book_line = next(ln for ln in sub["lines"] if ln["sku"] == "BOOK-1")
    m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a,
                    json={"lines": [{"line_id": book_line["id"], "accepted": True}]}))
    r = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "customer changed their mind"},
                    headers=admin)
    assert r.status_code == 200, r.text
    sub, = m.seller_orders(a)
    assert sub["status"] == "cancelled" and {ln["status"] for ln in sub["lines"]} == {"cancelled"}
    assert m.ok(client.get(f"/api/v1/offers/{book['id']}", headers=a))["quantity"] == 3
    assert m.ok(client.get(f"/api/v1/offers/{mug['id']}", headers=a))["quantity"] == 3
    # the accepted book never shipped, so it never reached the ledger: the seller is owed nothing
    assert m.ok(client.get("/api/v1/seller-ledger", headers=a))["items"] == []


def test_a_declined_payment_gives_the_offers_their_units_back(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    _, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "25.00", quantity=3)
    r = m.checkout([("BOOK-1", 2, book["id"])], payment={"provider": "test", "behaviour": "decline"})
    assert r.status_code == 402, r.text
    sub, = m.seller_orders(a)
    assert sub["status"] == "cancelled"
    assert m.ok(client.get(f"/api/v1/offers/{book['id']}", headers=a))["quantity"] == 3
    assert m.ok(client.get("/api/v1/seller-ledger", headers=a))["items"] == []
