"""Done-when of the marketplace: one checkout across two sellers and the operator; one seller
accepts, the other refuses a line; the customer gets that line's money back; accepted lines
ship; the payout statement equals sales - commission - refunds computed here, independently."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest

from marketplace_helpers import Market, cents


def _commission(total: Decimal, rate: str) -> Decimal:
    return (total * Decimal(rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.mark.backends("sqlite", "postgresql")
def test_split_checkout_accept_refuse_refund_ship_and_payout(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("OP-1", "20.00", "home")
    m.stock("OP-1", 5)
    m.product("BOOK-1", "30.00", "books")
    m.product("PEN-1", "6.00", "stationery")
    m.product("GADGET-1", "50.00", "gadgets")
    m.product("MUG-1", "9.00", "home")
    a_id, a = m.seller("alfa")
    b_id, b = m.seller("bravo")
    # commissions: books 15% for everyone, 20% for bravo's books; anything else: the 10% default
    m.ok(client.put("/api/v1/seller-commissions", json={"category": "books", "rate": "0.15"}, headers=admin))
    m.ok(client.put("/api/v1/seller-commissions", json={"category": "gadgets", "seller_id": b_id, "rate": "0.20"},
                    headers=admin))
    book = m.offer(a, "BOOK-1", "25.00", quantity=10)
    pen = m.offer(a, "PEN-1", "5.00", quantity=4)
    gadget = m.offer(b, "GADGET-1", "45.50", quantity=3, lead_time_days=1)
    mug = m.offer(b, "MUG-1", "7.25", quantity=8)

    r = m.checkout([("OP-1", 1, None), ("BOOK-1", 2, book["id"]), ("PEN-1", 1, pen["id"]),
                    ("GADGET-1", 1, gadget["id"]), ("MUG-1", 3, mug["id"])])
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "paid"
    # the sellers' prices, not the catalog's
    by_sku = {ln["sku"]: ln for ln in order["lines"]}
    assert by_sku["BOOK-1"]["total"] == "50.00" and by_sku["MUG-1"]["total"] == "21.75"
    # operator stock was reserved only for the operator's line; the offers' stock went down
    assert [al["sku"] for al in order["allocations"]] == ["OP-1"]
    assert m.ok(client.get(f"/api/v1/offers/{mug['id']}", headers=b))["quantity"] == 5

    subs = m.seller_orders(admin, order_id=order["id"])
    assert sorted((s["seller_id"] or 0, s["status"]) for s in subs) == [
        (0, "operator"), (a_id, "awaiting_acceptance"), (b_id, "awaiting_acceptance")]
    sub_a, = m.seller_orders(a)
    sub_b, = m.seller_orders(b)
    assert {ln["sku"] for ln in sub_a["lines"]} == {"BOOK-1", "PEN-1"}
    assert sub_a["shipping_address"]["city"] == "Porto"

    # alfa accepts everything; bravo accepts the gadget and refuses the mugs
    r = client.put(f"/api/v1/seller-orders/{sub_a['id']}/accept",
                   json={"lines": [{"line_id": ln["id"], "accepted": True} for ln in sub_a["lines"]]}, headers=a)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    gadget_line = next(ln for ln in sub_b["lines"] if ln["sku"] == "GADGET-1")
    mug_line = next(ln for ln in sub_b["lines"] if ln["sku"] == "MUG-1")
    r = client.put(f"/api/v1/seller-orders/{sub_b['id']}/accept", headers=b, json={"lines": [
        {"line_id": gadget_line["id"], "accepted": True},
        {"line_id": mug_line["id"], "accepted": False, "reason": "out of stock in the warehouse"}]})
    assert r.status_code == 200, r.text
    decided = {ln["sku"]: ln for ln in r.json()["lines"]}
    assert decided["MUG-1"]["status"] == "refused" and decided["MUG-1"]["refund_status"] == "refunded"
    assert decided["GADGET-1"]["commission"]["amount"] == "9.10"  # 20% of 45.50: bravo's override

    # the customer got exactly the refused line back; the mugs went back on offer
    after = m.ok(client.get(f"/api/v1/orders/{order['id']}", headers=admin))
    assert after["totals"]["refunded"] == "21.75"
    assert after["payment"]["status"] == "partially_refunded"
    assert m.ok(client.get(f"/api/v1/offers/{mug['id']}", headers=b))["quantity"] == 8

    # the accepted lines ship with carrier and tracking
    for sub, key, number in ((sub_a, a, "TRK-A-1"), (sub_b, b, "TRK-B-1")):
        r = client.put(f"/api/v1/seller-orders/{sub['id']}/ship", headers=key,
                       json={"carrier": "CTT", "tracking_number": number, "tracking_url": f"https://track.example/{number}"})
        assert r.status_code == 200, r.text
        shipped = r.json()
        assert shipped["status"] == "shipped" and shipped["tracking_number"] == number
        assert {ln["status"] for ln in shipped["lines"] if ln["sku"] != "MUG-1"} == {"shipped"}

    # the pen arrives damaged: staff refund it (the seller is debited, the commission is kept)
    pen_line = next(ln for ln in sub_a["lines"] if ln["sku"] == "PEN-1")
    inc = m.ok(client.post(f"/api/v1/seller-orders/{sub_a['id']}/incidents", headers=admin,
                           json={"line_id": pen_line["id"], "kind": "damaged", "note": "cracked"}), 201)
    assert m.ok(client.get("/api/v1/seller-incidents", headers=a))["items"][0]["id"] == inc["id"]
    m.ok(client.put(f"/api/v1/seller-incidents/{inc['id']}/reply", json={"reply": "sorry, refund it"}, headers=a))
    assert m.ok(client.post(f"/api/v1/seller-incidents/{inc['id']}/refund", headers=admin))["status"] == "refunded"
    after = m.ok(client.get(f"/api/v1/orders/{order['id']}", headers=admin))
    assert after["totals"]["refunded"] == "26.75"  # mugs 21.75 + pen 5.00

    # payout: independent figures per seller (accepted sales - commission - refunds)
    expected = {
        a_id: Decimal("50.00") + Decimal("5.00") - _commission(Decimal("50.00"), "0.15")
        - _commission(Decimal("5.00"), "0.10") - Decimal("5.00"),
        b_id: Decimal("45.50") - _commission(Decimal("45.50"), "0.20"),
    }
    period_end = dt.datetime.now(dt.timezone.utc).isoformat()
    cycle = m.ok(client.post("/api/v1/payouts/cycles", json={"period_end": period_end}, headers=admin), 201)
    assert cycle["sellers"] == 2
    payouts = {p["seller_id"]: p for p in m.ok(client.get("/api/v1/payouts", headers=admin))["items"]}
    assert {sid: Decimal(p["amount"]["amount"]) for sid, p in payouts.items()} == expected
    assert payouts[a_id]["status"] == "paid"

    # the statement (CSV, the seller's own) lists the entries and adds up to the payout
    r = client.get(f"/api/v1/payouts/{payouts[a_id]['id']}/statement.csv", headers=a)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    entries = [row for row in rows if row["kind"] in ("sale", "commission", "refund")]
    assert sorted(row["kind"] for row in entries) == ["commission", "commission", "refund", "sale", "sale"]
    assert sum(Decimal(row["amount"]) for row in entries) == expected[a_id]
    assert {row["description"]: row["amount"] for row in rows if row["kind"] == "summary"}["paid out"] == \
        str(expected[a_id])
    assert m.ok(client.get("/api/v1/seller-balance", headers=a)) == {}  # nothing left open
    pdf = client.get(f"/api/v1/payouts/{payouts[a_id]['id']}/statement.pdf", headers=a)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 1000

    # the same cycle again: refused, nothing paid twice
    again = client.post("/api/v1/payouts/cycles", json={"period_end": period_end}, headers=admin)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert len(m.ok(client.get("/api/v1/payouts", headers=admin))["items"]) == 2
    ledger = m.ok(client.get("/api/v1/seller-ledger", params={"limit": 1000}, headers=admin))["items"]
    assert sum(cents(e["amount"]["amount"]) for e in ledger if e["kind"] == "payout") == \
        -sum(cents(v) for v in expected.values())
