"""Real orders reach the CRM: orders placed, paid, returned and refunded through the orders
API (the real producer of the order events), read back from the CRM 360, RFM and referrals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

TEST_CARD = "4242 4242 4242 4242"


class _Shop:
    """A warehouse that takes returns, two products in stock, orders through the API."""

    def __init__(self, client: Any, admin: dict[str, str], db: Any) -> None:
        from merx.catalog import service as catalog
        from merx.catalog.schemas import ProductCreate
        from merx.core.uow import UnitOfWork

        self.client, self.admin = client, admin
        r = client.post("/api/v1/locations", json={"code": "WH1", "name": "Warehouse", "kind": "warehouse",
                                                   "accepts_returns": True}, headers=admin)
        assert r.status_code == 201, r.text
        for sku, price in (("BIG", "100.00"), ("SMALL", "10.00")):
            with UnitOfWork(db) as uow:
                catalog.create_product(uow, ProductCreate(sku=sku, name=f"Product {sku}",
                                                          price={"currency": "EUR", "amount": price}))
            r = client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": "WH1", "delta": 50,
                                                                    "reason": "receipt"}, headers=admin)
            assert r.status_code == 200, r.text

    def customer(self, email: str) -> int:
        r = self.client.post("/api/v1/customers", json={"email": email}, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def order(self, customer_id: int, lines: list[tuple[str, int]], *, card: str | None = TEST_CARD) -> dict[str, Any]:
        payment: dict[str, Any] = {"provider": "test"}
        if card is not None:
            payment["card"] = card
        r = self.client.post("/api/v1/orders", headers=self.admin, json={
            "channel": "web", "customer": {"id": customer_id}, "payment": payment,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "paid", r.json()
        return r.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.admin)
        assert r.status_code in (200, 201), r.text
        return r.json()


@pytest.fixture
def shop(client, admin, db) -> _Shop:  # type: ignore[no-untyped-def]
    return _Shop(client, admin, db)


def _lifetime_value(client: Any, admin: dict[str, str], customer_id: int) -> list[dict[str, str]]:
    r = client.get(f"/api/v1/customers/{customer_id}/overview", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["lifetime_value"]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_partial_return_and_two_partial_refunds_reach_the_360_and_rfm_with_the_right_amounts(shop, client, admin):
    buyer = shop.customer("ann@example.com")
    order = shop.order(buyer, [("BIG", 1), ("SMALL", 2)])
    assert order["totals"]["total"] == "120.00"
    shop.post(f"/api/v1/orders/{order['id']}/fulfil", {"carrier": "DHL", "tracking_number": "T1"})
    shop.post(f"/api/v1/orders/{order['id']}/deliver")
    small_line = next(ln["line"] for ln in order["lines"] if ln["sku"] == "SMALL")
    assert _lifetime_value(client, admin, buyer) == [{"amount": "120.00", "currency": "EUR"}]

    # The two 10.00 units come back in two returns, received without a refund: goods moved,
    # no money did, so the customer's value is unchanged (it was shown as fully refunded).
    returns = []
    for _ in range(2):
        r = shop.post(f"/api/v1/orders/{order['id']}/returns",
                      {"location": "WH1", "lines": [{"line": small_line, "quantity": 1, "reason": "too_small"}]})
        received = shop.post(f"/api/v1/returns/{r['id']}/receive?refund=false")
        assert received["status"] == "received" and received["refund"] == "10.00"
        returns.append(r["id"])
    assert _lifetime_value(client, admin, buyer) == [{"amount": "120.00", "currency": "EUR"}]

    # Two partial refunds of 10.00 add up to 20.00 (the second used to overwrite the first).
    shop.post(f"/api/v1/returns/{returns[0]}/refund")
    assert _lifetime_value(client, admin, buyer) == [{"amount": "110.00", "currency": "EUR"}]
    shop.post(f"/api/v1/returns/{returns[1]}/refund")
    assert _lifetime_value(client, admin, buyer) == [{"amount": "100.00", "currency": "EUR"}]
    overview = client.get(f"/api/v1/customers/{buyer}/overview", headers=admin).json()
    assert overview["orders_count"] == 1
    assert [o["total"] for o in overview["orders"]] == [{"amount": "120.00", "currency": "EUR"}]

    run = client.post("/api/v1/crm/rfm/run", json={"save_segments": False}, headers=admin)
    assert run.status_code == 200, run.text
    scores = {s["customer_id"]: s for s in client.get("/api/v1/crm/rfm", headers=admin).json()["items"]}
    assert scores[buyer]["frequency"] == 1
    monetary = scores[buyer]["monetary"]
    assert (Decimal(monetary["amount"]), monetary["currency"]) == (Decimal("100.00"), "EUR")
    overview = client.get(f"/api/v1/customers/{buyer}/overview", headers=admin).json()
    assert Decimal(overview["rfm"]["monetary"]["amount"]) == Decimal("100.00")


@pytest.mark.backends("sqlite", "postgresql")
def test_the_referral_is_refused_when_the_referred_customer_pays_with_the_referrers_card(shop, client, admin, db):
    r = client.post("/api/v1/loyalty/programs", headers=admin, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.01",
        "referral_reward_points": 500})
    assert r.status_code == 201, r.text
    referrer = shop.customer("rita@example.com")
    shop.order(referrer, [("SMALL", 1)], card=TEST_CARD)  # 10 points of her own
    code = shop.post(f"/api/v1/customers/{referrer}/referral-code")["code"]

    def refer(email: str) -> tuple[int, int]:
        friend = shop.customer(email)
        referral = shop.post("/api/v1/referrals", {"code": code, "referred_customer_id": friend})
        assert referral["status"] == "pending"
        return friend, referral["id"]

    def referral_status(referral_id: int) -> tuple[str, str | None]:
        with db.engine.connect() as conn:
            return tuple(conn.execute(sa.text("SELECT status, reason FROM crm_referrals WHERE id = :i"),
                                      {"i": referral_id}).one())  # type: ignore[return-value]

    def points() -> int:
        return sum(a["balance"] for a in client.get(f"/api/v1/customers/{referrer}/loyalty",
                                                    headers=admin).json()["accounts"])

    assert points() == 10
    # Her own card again, with another account's first order: the same fingerprint, refused.
    cheat, cheat_referral = refer("cheat@example.org")
    shop.order(cheat, [("SMALL", 1)], card="4242-4242-4242-4242".replace("-", " "))
    assert referral_status(cheat_referral) == ("refused", "same payment method as the referrer")
    assert points() == 10

    # A friend with a card of their own rewards the referrer.
    friend, friend_referral = refer("fred@example.net")
    shop.order(friend, [("SMALL", 1)], card="5555 5555 5555 4444")
    assert referral_status(friend_referral) == ("rewarded", None)
    assert points() == 510


def test_the_test_provider_gives_one_card_one_fingerprint_and_the_paid_event_carries_it(shop, db):
    from merx.core.models import OutboxEvent
    from merx.core.uow import UnitOfWork
    from merx.orders.events import OrderPaid

    buyer = shop.customer("pat@example.com")
    first = shop.order(buyer, [("SMALL", 1)], card=TEST_CARD)
    second = shop.order(buyer, [("SMALL", 1)], card="4242424242424242")
    other = shop.order(buyer, [("SMALL", 1)], card="5555 5555 5555 4444")
    cash = shop.order(buyer, [("SMALL", 1)], card=None)
    # authorised now, captured later: the provider tells the card from the charge's reference
    r = shop.client.post("/api/v1/orders", headers=shop.admin, json={
        "channel": "web", "customer": {"id": buyer}, "lines": [{"sku": "SMALL", "quantity": 1}],
        "payment": {"provider": "test", "card": TEST_CARD, "capture": False}})
    assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
    later = shop.post(f"/api/v1/orders/{r.json()['id']}/capture")
    assert later["status"] == "paid"
    with UnitOfWork(db) as uow:
        rows = uow.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == OrderPaid.event_type)).all()
        paid = {int(row.aggregate_id): OrderPaid.model_validate(row.payload) for row in rows}
    fingerprints = {o["id"]: paid[o["id"]].payment_fingerprint for o in (first, second, other, cash, later)}
    assert fingerprints[first["id"]] == fingerprints[second["id"]] == fingerprints[later["id"]] is not None
    assert fingerprints[first["id"]] != fingerprints[other["id"]]
    assert fingerprints[cash["id"]] is None
    assert all("4242" not in (f or "") for f in fingerprints.values())  # never the card number
    assert paid[first["id"]].amount.amount == paid[first["id"]].total and paid[first["id"]].provider == "test"
