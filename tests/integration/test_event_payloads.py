"""Every event the real use cases write to the outbox matches its contract: the payload
validates against the JSON Schema generated for its type and version (docs/events/), and
decodes back into its class. An event that does not match is refused when it is built, so
it is never written; `uow.emit` takes only typed events."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema_rs
import pytest
import sqlalchemy as sa

from merx.core.events import DomainEvent
from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from merx.integration.catalog_doc import SCHEMA_DIR

API = "/api/v1"


def _ok(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 201), response.text
    return response.json()


def _drive_the_shop(client, admin, db) -> None:  # type: ignore[no-untyped-def]
    """A day in the shop through the API: catalog, stock, promotions, customers, orders paid
    by card, shipped, returned and refunded, a cancellation, a pickup, a lapsed cart, CRM."""
    post = lambda path, body=None: _ok(client.post(API + path, json=body, headers=admin))  # noqa: E731
    patch = lambda path, body: _ok(client.patch(API + path, json=body, headers=admin))  # noqa: E731
    post("/sellers", {"code": "acme", "name": "ACME"})
    patch("/sellers/1", {"premium": True})
    post("/locations", {"code": "WH", "name": "Warehouse", "kind": "warehouse", "accepts_returns": True})
    post("/locations", {"code": "SHOP", "name": "Shop", "kind": "store", "pickup": True})
    patch("/locations/SHOP", {"name": "Main shop"})
    product = post("/products", {"sku": "MUG", "name": "Mug", "price": {"currency": "EUR", "amount": "12.00"},
                                 "channels": ["web"]})
    patch(f"/products/{product['id']}", {"price": {"currency": "EUR", "amount": "10.00"}})
    post("/products", {"sku": "CAP", "name": "Cap", "price": {"currency": "EUR", "amount": "15.00"}})
    for sku, loc in (("MUG", "WH"), ("CAP", "WH"), ("MUG", "SHOP")):
        post("/inventory/adjustments", {"sku": sku, "location": loc, "delta": 20, "reason": "receipt"})
    promo = post("/promotions", {"name": "10% off", "kind": "order_percent", "percent": "10"})
    patch(f"/promotions/{promo['id']}", {"priority": 2})
    post("/loyalty/programs", {"code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1",
                               "point_value": "0.01", "referral_reward_points": 100,
                               "tiers": [{"name": "silver", "threshold": 0}, {"name": "gold", "threshold": 1000}]})
    ann = post("/customers", {"email": "ann@example.com"})
    patch(f"/customers/{ann['id']}", {"first_name": "Ann"})
    dupe = post("/customers", {"email": "ann.dupe@example.com"})
    code = post(f"/customers/{ann['id']}/referral-code")["code"]
    friend = post("/customers", {"email": "friend@example.org"})
    post("/referrals", {"code": code, "referred_customer_id": friend["id"]})

    def order(customer: dict, lines: list, **body) -> dict:  # type: ignore[type-arg]
        return post("/orders", {"channel": "web", "customer": {"id": customer["id"]},
                                "lines": [{"sku": s, "quantity": q} for s, q in lines],
                                "payment": {"provider": "test", "card": "4242 4242 4242 4242"}, **body})

    shipped = order(ann, [("MUG", 2), ("CAP", 1)])
    post(f"/orders/{shipped['id']}/fulfil", {"carrier": "DHL", "tracking_number": "T-1"})
    post(f"/orders/{shipped['id']}/deliver")
    ret = post(f"/orders/{shipped['id']}/returns", {"location": "WH", "lines": [{"line": 1, "quantity": 2,
                                                                                   "reason": "damaged"}]})
    post(f"/returns/{ret['id']}/receive")  # restock and refund
    ret = post(f"/orders/{shipped['id']}/returns", {"location": "WH", "lines": [{"line": 2, "quantity": 1,
                                                                                   "reason": "too_small"}]})
    post(f"/returns/{ret['id']}/receive")  # the rest: returned, then refunded
    post(f"/orders/{order(friend, [('CAP', 1)])['id']}/cancel", {"reason": "changed mind"})
    pickup = post("/orders", {"channel": "web", "customer": {"id": ann["id"]}, "lines": [{"sku": "MUG", "quantity": 1}],
                              "fulfilment": {"type": "pickup", "location": "SHOP"}, "payment": {"provider": "manual"}})
    post(f"/orders/{pickup['id']}/ready-for-pickup")
    post(f"/orders/{pickup['id']}/picked-up", {"location": "SHOP", "payment_collected": True})
    post(f"/orders/{pickup['id']}/complete")

    cart = _ok(client.post(f"{API}/carts", json={"email": "late@example.com", "lines": [{"sku": "CAP", "quantity": 1}]}))
    _ok(client.post(f"{API}/carts/{cart['id']}/checkout", headers={"X-Cart-Token": cart["token"]}))
    from merx.inventory import holds
    from merx.orders import expiry

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    with UnitOfWork(db) as uow:
        holds.sweep_expired(uow, now=later)
        expiry.expire_checkouts(uow, later)  # the lapsed checkout: cart.abandoned

    post(f"/customers/{ann['id']}/consents", {"channel": "email", "granted": True, "source": "checkout"})
    post(f"/customers/{ann['id']}/merge", {"duplicate_id": dupe["id"]})
    post(f"/customers/{dupe['id']}/unmerge")
    post("/loyalty/adjust", {"customer_id": ann["id"], "points": 5000, "reason": "goodwill"})
    seg = post("/segments", {"name": "Buyers", "expression": "orders_count >= 1"})
    patch(f"/segments/{seg['id']}", {"name": "All buyers"})
    post("/crm/rfm/run", {"save_segments": False})
    post(f"/customers/{post('/customers', {'email': 'gone@example.com'})['id']}/erase")


@pytest.mark.backends("sqlite", "postgresql")
def test_every_event_written_by_real_use_cases_matches_its_published_schema(client, admin, db):
    _drive_the_shop(client, admin, db)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxEvent.__table__).order_by(OutboxEvent.__table__.c.seq)).all()
    validators: dict[str, jsonschema_rs.Validator] = {}
    seen: set[str] = set()
    for row in rows:
        name = f"{row.type}.v{row.schema_version}.json"
        assert (SCHEMA_DIR / name).exists(), f"{row.type} v{row.schema_version} has no published schema"
        if name not in validators:
            validators[name] = jsonschema_rs.validator_for(json.loads((SCHEMA_DIR / name).read_text()))
        errors = [e.message for e in validators[name].iter_errors(row.payload)]
        assert not errors, (row.type, row.payload, errors)
        envelope = DomainEvent(type=row.type, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
                               payload=row.payload, schema_version=row.schema_version)
        assert envelope.data.aggregate_id() == row.aggregate_id
        assert envelope.data.payload() == row.payload  # decodes and re-encodes to the same JSON
        seen.add(row.type)
    assert seen >= {
        "seller.created", "seller.updated", "location.created", "location.updated", "product.created",
        "product.updated", "product.price_changed", "inventory.stock_changed", "promotion.created",
        "promotion.updated", "loyalty.program_created", "customer.created", "customer.updated", "referral.created",
        "order.placed", "order.confirmed", "order.paid", "order.fulfilled", "order.delivered", "order.returned",
        "order.refunded", "order.cancelled", "order.ready_for_pickup", "order.picked_up", "order.completed",
        "cart.checkout_started", "cart.abandoned", "customer.consent_changed", "customer.merged",
        "customer.unmerged", "loyalty.points_changed", "loyalty.tier_changed", "segment.created", "segment.updated",
        "crm.rfm_computed", "customer.erased"}, sorted(seen)


def test_emit_takes_only_typed_events_and_a_bad_payload_is_never_written(db):
    from pydantic import ValidationError

    from merx.orders.events import OrderPaid

    with UnitOfWork(db) as uow:
        with pytest.raises(TypeError, match="Event instance"):
            uow.emit("order.paid")  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as refused:
            OrderPaid(order_id=1, number="M-1", customer_id=None, status="paid", previous_status="confirmed",
                      total=12.5, currency="EUR", amount={"amount": "12.50", "currency": "EUR"}, provider="test",
                      payment_fingerprint=None)
        assert [e["loc"] for e in refused.value.errors()] == [("total",)]  # a float is not an amount
        uow.commit()
    with UnitOfWork(db) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0
