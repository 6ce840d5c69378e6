"""The built-in `manual` and `test` providers go through the payments ledger like the session
providers: every payment has an intent that follows the order's captures, refunds and voids, the
payments API refuses to move them behind the order's back, and orders placed before they had an
intent still read and capture. Real HTTP through the app."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from payment_shop import PROVIDERS, PayShop


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    s = PayShop(client, admin, db)
    s.location("WH")
    s.product("TEE", price="40.00")
    s.stock("TEE", "WH", 50)
    return s


def _order(shop: PayShop, qty: int, payment: dict) -> dict:
    r = shop.client.post("/api/v1/orders", headers=shop.admin, json={
        "channel": "web", "customer": {"email": "buyer@example.com"}, "lines": [{"sku": "TEE", "quantity": qty}],
        "payment": payment})
    assert r.status_code in (201, 402), r.text
    return r.json()


def _intents(shop: PayShop, order_id: int) -> list[dict]:
    r = shop.client.get("/api/v1/payments", headers=shop.admin)
    assert r.status_code == 200, r.text
    return [p for p in r.json()["items"] if p["order_id"] == order_id]


@pytest.mark.backends("sqlite", "postgresql")
def test_manual_and_test_payments_are_in_the_ledger_and_follow_their_orders(shop):
    a = shop.admin
    manual = _order(shop, 2, {"provider": "manual"})
    [intent] = _intents(shop, manual["id"])
    assert (intent["provider"], intent["status"], intent["amount"], intent["captured"]) == \
        ("manual", "awaiting", "80.00", "0.00")
    assert intent["reference"] == manual["payment"]["reference"]
    # staff may not capture it behind the order's back: the order's own capture moves both
    r = shop.client.post(f"/api/v1/payments/{intent['id']}/capture", json={}, headers={**a, "Idempotency-Key": "c1"})
    assert r.status_code == 409 and r.json()["type"].endswith("order-managed-payment"), r.text
    assert shop.count("payment_operations") == 1  # the authorise only: nothing claimed
    r = shop.client.post(f"/api/v1/orders/{manual['id']}/capture", headers=a)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    [intent] = _intents(shop, manual["id"])
    assert intent["status"] == "captured" and intent["captured"] == "80.00"

    card = _order(shop, 1, {"provider": "test", "card": "4242 4242 4242 4242"})
    assert card["status"] == "paid"
    [intent] = _intents(shop, card["id"])
    assert (intent["provider"], intent["status"], intent["captured"]) == ("test", "captured", "40.00")
    r = shop.client.post(f"/api/v1/orders/{card['id']}/cancel", json={"reason": "out of stock"}, headers=a)
    assert r.status_code == 200, r.text
    [intent] = _intents(shop, card["id"])
    assert intent["refunded"] == "40.00" and intent["status"] == "refunded"

    unpaid = _order(shop, 1, {"provider": "manual"})
    assert shop.client.post(f"/api/v1/orders/{unpaid['id']}/cancel", json={"reason": "no show"},
                            headers=a).status_code == 200
    [intent] = _intents(shop, unpaid["id"])
    assert intent["status"] == "voided"

    # a declined test payment takes no money: no intent, like a declined session payment
    declined = _order(shop, 1, {"provider": "test", "behaviour": "decline"})
    assert declined["order_status"] == "cancelled" and _intents(shop, declined["order_id"]) == []


def test_an_order_placed_before_the_ledger_covered_manual_reads_and_captures_as_before(shop, db):
    a = shop.admin
    old = _order(shop, 1, {"provider": "manual"})
    from merx.core.events import bus

    bus.drain(30)  # the order's subscribers finish first (SQLite has one writer at a time)
    with db.engine.begin() as conn:  # as it was before: no intent for a manual order
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM payment_intents WHERE order_id = :o"), {"o": old["id"]})]
        conn.execute(sa.text("DELETE FROM payment_operations WHERE intent_id IN (%s)" % ",".join(map(str, ids))))
        conn.execute(sa.text("DELETE FROM payment_intents WHERE order_id = :o"), {"o": old["id"]})
    assert shop.get_order(old["id"])["payment"]["status"] == "awaiting"
    r = shop.client.post(f"/api/v1/orders/{old['id']}/capture", headers=a)
    assert r.status_code == 200 and r.json()["payment"]["status"] == "captured", r.text
    assert _intents(shop, old["id"]) == []
