"""Payout timing: a line counts toward a seller's payout from its shipment, not its
acceptance. Accepted but unshipped by the cycle's end: not paid in that cycle; shipped later:
paid in the next cycle, at the figures of the line (sale - commission)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from marketplace_helpers import Market


@pytest.mark.backends("sqlite", "postgresql")
def test_a_line_is_paid_out_from_its_shipment(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    seller_id, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "20.00", quantity=5)
    m.ok(m.checkout([("BOOK-1", 2, book["id"])]), 201)
    sub, = m.seller_orders(a)
    accepted = m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a,
                               json={"lines": [{"line_id": sub["lines"][0]["id"], "accepted": True}]}))
    assert accepted["lines"][0]["commission"]["amount"] == "4.00"  # the rate is fixed at acceptance (10%)
    assert m.ok(client.get("/api/v1/seller-ledger", headers=a))["items"] == []  # not earned yet
    assert m.ok(client.get("/api/v1/seller-balance", headers=a)) == {}

    first = m.ok(client.post("/api/v1/payouts/cycles", headers=admin,
                             json={"period_end": dt.datetime.now(dt.timezone.utc).isoformat()}), 201)
    assert first["sellers"] == 0  # accepted is not shipped: nothing to pay this cycle

    shipped = m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/ship", headers=a,
                              json={"carrier": "CTT", "tracking_number": "RR9PT"}))
    ledger = m.ok(client.get("/api/v1/seller-ledger", headers=a))["items"]
    assert sorted((e["kind"], e["amount"]["amount"]) for e in ledger) == [("commission", "-4.00"), ("sale", "40.00")]
    shipped_at = dt.datetime.fromisoformat(shipped["shipped_at"])
    assert {dt.datetime.fromisoformat(e["created_at"]) for e in ledger} == {shipped_at}  # dated at the shipment
    assert shipped_at > dt.datetime.fromisoformat(first["period_end"])

    second = m.ok(client.post("/api/v1/payouts/cycles", headers=admin,
                              json={"period_end": dt.datetime.now(dt.timezone.utc).isoformat()}), 201)
    assert second["sellers"] == 1
    payout, = m.ok(client.get("/api/v1/payouts", headers=admin))["items"]
    assert (payout["seller_id"], Decimal(payout["amount"]["amount"])) == (seller_id, Decimal("36.00"))
