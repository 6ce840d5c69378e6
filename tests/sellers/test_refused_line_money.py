"""Money of an order with a refused marketplace line, through the real flows (checkout with an
offer line, the seller refuses it, then staff capture or cancel):
- cancelling the whole order after the refused line was refunded pays back only what is left
  (it used to refund the full total again and break the refund-within-total constraint);
- a capture after a line was refused before the payment was taken charges the total minus
  that line (it used to take the full total), and a later cancellation pays back only what
  was charged.
The amounts are read from orders' own events (order.paid, order.refunded), which is what
invoicing, CRM and analytics see."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from marketplace_helpers import Market


def _events(db, event_type: str, order_id: int) -> list[dict]:
    from merx.core.models import OutboxEvent

    t = OutboxEvent.__table__
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.payload).where(t.c.type == event_type, t.c.aggregate_id == str(order_id))
                            .order_by(t.c.seq)).all()
    return [r.payload for r in rows]


def _refused_basket(m: Market, payment: dict) -> tuple[dict, dict, dict]:
    m.product("BOOK-1", "30.00", "books", name="The Long Book")
    m.product("MUG-1", "9.00", "home", name="Blue Mug")
    _, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "25.00", quantity=3)
    mug = m.offer(a, "MUG-1", "5.00", quantity=3)
    order = m.ok(m.checkout([("BOOK-1", 1, book["id"]), ("MUG-1", 2, mug["id"])], payment=payment), 201)
    sub, = m.seller_orders(a)
    lines = {ln["sku"]: ln["id"] for ln in sub["lines"]}
    decided = m.ok(m.client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a, json={"lines": [
        {"line_id": lines["BOOK-1"], "accepted": True},
        {"line_id": lines["MUG-1"], "accepted": False, "reason": "the mugs arrived broken from the factory"}]}))
    return order, decided, a


@pytest.mark.backends("sqlite", "postgresql")
def test_cancelling_after_a_refunded_line_refunds_only_the_rest(client, admin, make_key, db):
    m = Market(client, admin, make_key)
    order, decided, _ = _refused_basket(m, {"provider": "test", "capture": True})
    assert order["payment"]["status"] == "captured"
    total = Decimal(order["totals"]["total"])
    mug = next(ln for ln in decided["lines"] if ln["sku"] == "MUG-1")
    assert mug["refund_status"] == "refunded"
    assert m.ok(client.get(f"/api/v1/orders/{order['id']}", headers=admin))["totals"]["refunded"] == "10.00"

    r = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "customer changed their mind"},
                    headers=admin)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["status"] == "cancelled"
    assert after["payment"]["status"] == "refunded"
    assert Decimal(after["totals"]["refunded"]) == total  # all of it, once
    refunds = [Decimal(e["amount"]["amount"]) for e in _events(db, "order.refunded", order["id"])]
    assert refunds == [Decimal("10.00"), total - Decimal("10.00")]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_capture_after_a_refused_line_charges_only_the_rest(client, admin, make_key, db):
    m = Market(client, admin, make_key)
    order, decided, _ = _refused_basket(m, {"provider": "test", "capture": False})
    assert order["payment"]["status"] == "authorized"
    total = Decimal(order["totals"]["total"])
    mug = next(ln for ln in decided["lines"] if ln["sku"] == "MUG-1")
    assert mug["refund_status"] == "not_captured"  # nothing was taken, nothing to pay back

    r = client.post(f"/api/v1/orders/{order['id']}/capture", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["payment"]["status"] == "captured"
    paid, = _events(db, "order.paid", order["id"])
    assert Decimal(paid["amount"]["amount"]) == total - Decimal("10.00")

    # cancelling now pays back what was charged, not the total
    r = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "out of time"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["payment"]["status"] == "refunded"
    assert Decimal(r.json()["totals"]["refunded"]) == total - Decimal("10.00")
    refunds = [Decimal(e["amount"]["amount"]) for e in _events(db, "order.refunded", order["id"])]
    assert refunds == [total - Decimal("10.00")]


def test_a_cash_order_collected_after_a_refused_line_collects_only_the_rest(client, admin, make_key, db):
    m = Market(client, admin, make_key)
    order, _, _ = _refused_basket(m, {"provider": "manual"})
    assert order["payment"]["status"] == "awaiting"
    total = Decimal(order["totals"]["total"])
    r = client.post(f"/api/v1/orders/{order['id']}/capture", headers=admin)
    assert r.status_code == 200, r.text
    paid, = _events(db, "order.paid", order["id"])
    assert Decimal(paid["amount"]["amount"]) == total - Decimal("10.00")


def test_the_line_refunded_event_carries_what_the_customer_mail_needs(client, admin, make_key, db):
    from merx.core.events import DomainEvent
    from merx.core.models import OutboxEvent

    m = Market(client, admin, make_key)
    order, decided, _ = _refused_basket(m, {"provider": "test", "capture": True})
    t = OutboxEvent.__table__
    with db.engine.connect() as conn:
        row, = conn.execute(sa.select(t).where(t.c.type == "seller_order.line_refunded")).all()
    e = DomainEvent(type=row.type, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
                    payload=row.payload, schema_version=row.schema_version).data
    assert (e.order_number, e.sku, e.name, e.quantity) == (order["number"], "MUG-1", "Blue Mug", 2)
    assert (e.amount.amount, e.amount.currency) == (Decimal("10.00"), "EUR")
    assert (e.outcome, e.cause, e.reason) == ("refunded", "refused", "the mugs arrived broken from the factory")
    assert e.order_id == order["id"]
