"""Every event the sellers context writes, driven through the API, matches its published
JSON Schema (docs/events/) and decodes back into its class."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema_rs
import sqlalchemy as sa

from marketplace_helpers import Market

SELLER_EVENTS = {"offer.created", "offer.updated", "seller_order.created", "seller_order.decided",
                 "seller_order.shipped", "seller_order.cancelled", "seller_order.line_refunded",
                 "seller_order.incident_opened", "payout.issued", "seller.violation_recorded", "seller.updated"}


def test_sellers_events_match_their_schemas(client, admin, make_key, db):
    from merx.core.events import DomainEvent
    from merx.core.models import OutboxEvent
    from merx.integration.catalog_doc import SCHEMA_DIR

    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    m.product("MUG-1", "9.00", "home")
    a_id, a = m.seller("alfa")
    book = m.offer(a, "BOOK-1", "25.00")
    mug = m.offer(a, "MUG-1", "6.00")
    m.ok(client.patch(f"/api/v1/offers/{mug['id']}", json={"quantity": 50}, headers=a))
    m.ok(m.checkout([("BOOK-1", 1, book["id"]), ("MUG-1", 2, mug["id"])]), 201)
    sub, = m.seller_orders(a)
    lines = {ln["sku"]: ln["id"] for ln in sub["lines"]}
    m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a, json={"lines": [
        {"line_id": lines["BOOK-1"], "accepted": True}, {"line_id": lines["MUG-1"], "accepted": False,
                                                         "reason": "broken"}]}))
    m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/ship", headers=a, json={"carrier": "UPS", "tracking_number": "1Z"}))
    m.ok(client.post(f"/api/v1/seller-orders/{sub['id']}/incidents", headers=admin,
                     json={"line_id": lines["BOOK-1"], "kind": "not_received"}), 201)
    m.ok(client.post("/api/v1/seller-violations", json={"seller_id": a_id, "kind": "other"}, headers=admin), 201)
    m.ok(client.post("/api/v1/payouts/cycles", headers=admin,
                     json={"period_end": dt.datetime.now(dt.timezone.utc).isoformat()}), 201)
    order = m.ok(m.checkout([("BOOK-1", 1, book["id"])]), 201)
    m.ok(client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "oops"}, headers=admin))

    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxEvent.__table__).order_by(OutboxEvent.__table__.c.seq)).all()
    seen = set()
    for row in rows:
        if row.type not in SELLER_EVENTS:
            continue
        schema = json.loads((SCHEMA_DIR / f"{row.type}.v{row.schema_version}.json").read_text())
        errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(row.payload)]
        assert not errors, (row.type, row.payload, errors)
        envelope = DomainEvent(type=row.type, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
                               payload=row.payload, schema_version=row.schema_version)
        assert envelope.data.payload() == row.payload
        seen.add(row.type)
    assert seen == SELLER_EVENTS
