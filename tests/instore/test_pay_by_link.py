"""Paying an assisted order through its payment link with the test card gateway: the order
switches from `manual` to the card provider, so the capture, the payments ledger and a later
refund (a return taken at the counter) are the card's. A declined card leaves the link
working; a second tap never opens a second authorisation. Real HTTP through the ASGI app
(the payment page, the gateway's 3-D Secure page, the API), on real databases."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from instore_shop import chain, staff_key  # noqa: F401 - chain: the fixture
from payment_shop import settings  # noqa: F401  (the shop takes card payments: testcard enabled)

CHALLENGE, DECLINED, FRICTIONLESS = "4000 0027 6000 3184", "4000 0000 0000 0002", "4242 4242 4242 4242"
ADDRESS = {"line1": "ul. Prosta 5", "city": "Warszawa", "postal_code": "00-001", "country": "PL"}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _link_order(client: Any, db: Any, chain: Any, sku: str = "KETTLE-1") -> tuple[dict[str, Any], str]:
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=staff_key(db, chain.users["waw"]), json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": sku, "quantity": 1}], "fulfilment": "ship",
        "address": ADDRESS, "payment_mode": "link"})
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["order"]["payment"] == {"provider": "manual", "status": "awaiting",
                                        "reference": f"manual-{body['order']['number']}", "action_url": None}
    return body["order"], body["payment_link"]


def _intents(client: Any, admin: dict[str, str], order_id: int) -> list[tuple[str, str, str, str]]:
    items = client.get("/api/v1/payments", headers=admin, params={"limit": 200}).json()["items"]
    return sorted((p["provider"], p["status"], p["captured"], p["refunded"]) for p in items if p["order_id"] == order_id)


def _paid_events(db: Any, order_id: int) -> list[dict[str, Any]]:
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        rows = uow.session.execute(sa.text("SELECT payload FROM outbox_events WHERE type = 'order.paid' "
                                           "AND aggregate_id = :a"), {"a": str(order_id)}).scalars().all()
    import json

    return [r if isinstance(r, dict) else json.loads(r) for r in rows]


@pytest.mark.backends("sqlite", "postgresql")
def test_link_paid_by_card_with_3ds_and_a_counter_return_refunds_the_card(client: Any, db: Any, chain: Any) -> None:
    admin = staff_key(db, chain.users["admin"])
    order, link = _link_order(client, db, chain)
    page = client.get(link)
    assert page.status_code == 200 and order["number"] in page.text
    assert 'value="testcard"' in page.text and "without charging" not in page.text
    assert 'value="manual"' not in page.text  # paying at the counter is the associate's, not the public page's
    sent = client.post(link, data={"csrf_token": _csrf(page.text), "provider": "testcard", "card": CHALLENGE},
                       follow_redirects=False)
    assert sent.status_code == 303, sent.text
    bank = sent.headers["location"]
    assert bank.startswith("/pay/testcard/challenge?reference=tc_")
    query = parse_qs(urlsplit(bank).query)
    assert query["return_to"] == [f"{link}?from=bank"]
    waiting = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    assert (waiting["status"], waiting["payment"]["provider"], waiting["payment"]["status"]) == (
        "confirmed", "testcard", "action_required")
    challenge = client.get(bank)
    assert challenge.status_code == 200 and order["number"] in challenge.text and "35.90 EUR" in challenge.text
    back = client.post("/pay/testcard/challenge", data={"reference": query["reference"][0], "outcome": "approve",
                                                       "return_to": query["return_to"][0]}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"{link}?from=bank"
    done = client.get(back.headers["location"])
    assert 'id="paid"' in done.text and "Paid by card" in done.text and 'id="pay-now"' not in done.text

    paid = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    assert (paid["status"], paid["payment"]["provider"], paid["payment"]["status"]) == ("paid", "testcard", "captured")
    assert paid["payment"]["reference"] == query["reference"][0]
    # one order.paid, as a web checkout's card payment, naming the card provider
    [event] = _paid_events(db, order["id"])
    assert event["provider"] == "testcard" and event["amount"]["amount"] == "35.90"
    # the ledger: the manual payment the order was placed with is voided, the card's captured
    assert _intents(client, admin, order["id"]) == [("manual", "voided", "0.00", "0.00"),
                                                    ("testcard", "captured", "35.90", "0.00")]

    # Delivered, then brought back to the Warsaw counter: the refund goes back to the card.
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    with UnitOfWork(db, SYSTEM) as uow:
        orders.fulfil(uow, order["id"], carrier="dpd", tracking_number="DPD-LINK")
    with UnitOfWork(db, SYSTEM) as uow:
        orders.simple_transition(uow, order["id"], "delivered")
    waw = staff_key(db, chain.users["waw"])
    line = {"line": 1, "quantity": 1, "reason": "no_longer_needed", "restock": True}
    cash = client.post("/api/v1/instore/stores/ST-WAW/returns", headers=waw, json={
        "order_number": order["number"], "condition": "as_new", "refund_method": "cash", "lines": [line]})
    assert cash.status_code == 422 and cash.json()["errors"][0]["field"] == "refund_method"
    ret = client.post("/api/v1/instore/stores/ST-WAW/returns", headers=waw, json={
        "order_number": order["number"], "condition": "as_new", "refund_method": "original_payment",
        "lines": [line]})
    assert ret.status_code == 201, ret.text
    assert ret.json()["status"] == "refunded" and ret.json()["refund"] == "35.90"
    refunded = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    assert (refunded["payment"]["provider"], refunded["payment"]["status"]) == ("testcard", "refunded")
    assert _intents(client, admin, order["id"]) == [("manual", "voided", "0.00", "0.00"),
                                                    ("testcard", "refunded", "35.90", "35.90")]
    with UnitOfWork(db) as uow:
        money_back = uow.session.execute(sa.text(
            "SELECT provider, status, amount_minor FROM order_payments WHERE order_id = :o AND kind = 'refund'"),
            {"o": order["id"]}).all()
    assert [tuple(r) for r in money_back] == [("testcard", "succeeded", 3590)]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_declined_card_keeps_the_link_and_a_second_tap_authorises_once(client: Any, db: Any, chain: Any) -> None:
    admin = staff_key(db, chain.users["admin"])
    order, link = _link_order(client, db, chain)
    token = link.removeprefix("/pay/")
    api = f"/api/v1/instore/payment-links/{token}"
    offered = client.get(api)
    assert offered.status_code == 200 and {"name": "testcard", "label": "Card (test gateway)"} in \
        offered.json()["providers"]
    assert [p["name"] for p in offered.json()["providers"]] == ["testcard"]  # no bank transfer or cash by link

    # Declined on the page: a clear message, the order still waits, the form is there again.
    page = client.get(link)
    declined = client.post(link, data={"csrf_token": _csrf(page.text), "provider": "testcard", "card": DECLINED})
    assert declined.status_code == 402
    assert "The card was not charged" in declined.text and 'id="pay-now"' in declined.text
    after = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    assert (after["status"], after["payment"]["provider"], after["payment"]["status"]) == (
        "confirmed", "manual", "awaiting")
    # bad input: an unknown provider names the field, changes nothing
    bad = client.post(f"{api}/pay", json={"provider": "manual"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "provider"
    assert client.post("/api/v1/instore/payment-links/forged/pay", json={"provider": "testcard"}).status_code == 404

    # A 3-D Secure card by API, then a second tap (another request) and a retry of the first.
    first = client.post(f"{api}/pay", json={"provider": "testcard", "card": CHALLENGE},
                        headers={"Idempotency-Key": "tap-1"})
    assert first.status_code == 200, first.text
    action = first.json()["payment"]["action_url"]
    assert first.json()["payment"]["status"] == "action_required" and action.startswith("/pay/testcard/challenge")
    second = client.post(f"{api}/pay", json={"provider": "testcard", "card": CHALLENGE},
                         headers={"Idempotency-Key": "tap-2"})
    assert second.status_code == 200 and second.json()["payment"]["action_url"] == action
    retried = client.post(f"{api}/pay", json={"provider": "testcard", "card": CHALLENGE},
                          headers={"Idempotency-Key": "tap-1"})
    assert retried.status_code == 200 and retried.json()["payment"] == first.json()["payment"]
    assert _intents(client, admin, order["id"]) == [("manual", "awaiting", "0.00", "0.00"),
                                                    ("testcard", "action_required", "0.00", "0.00"),
                                                    ("testcard", "declined", "0.00", "0.00")]

    # The shopper fails the bank's check: back on the page, told so, and the link still pays.
    reference = parse_qs(urlsplit(action).query)["reference"][0]
    client.post("/pay/testcard/challenge", data={"reference": reference, "outcome": "fail",
                                                 "return_to": f"{link}?from=bank"}, follow_redirects=False)
    told = client.get(f"{link}?from=bank")
    assert "Your bank did not confirm the payment" in told.text and 'id="pay-now"' in told.text
    paid = client.post(f"{api}/pay", json={"provider": "testcard", "card": FRICTIONLESS},
                       headers={"Idempotency-Key": "tap-3"})
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["payment"]["provider"], paid.json()["payment"]["status"]) == (
        "paid", "testcard", "captured")
    # tapping Pay again on a paid order charges nothing more
    again = client.post(f"{api}/pay", json={"provider": "testcard", "card": FRICTIONLESS})
    assert again.status_code == 200 and again.json()["payment"]["status"] == "captured"
    assert _intents(client, admin, order["id"]) == [("manual", "voided", "0.00", "0.00"),
                                                    ("testcard", "captured", "35.90", "0.00"),
                                                    ("testcard", "declined", "0.00", "0.00"),
                                                    ("testcard", "declined", "0.00", "0.00")]
    assert len(_paid_events(db, order["id"])) == 1
    assert 'id="paid"' in client.get(link).text


def test_paid_at_the_counter_is_the_associates_not_the_public_pages(client: Any, db: Any, chain: Any) -> None:
    from instore_shop import PASSWORD

    admin = staff_key(db, chain.users["admin"])
    order, link = _link_order(client, db, chain)
    page = client.get(link)
    # the public page cannot record a payment without a provider: nothing changes
    refused = client.post(link, data={"csrf_token": _csrf(page.text)})
    assert refused.status_code == 422 and "provider" in refused.text
    assert client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()["payment"]["status"] == "awaiting"
    login = client.get("/associate/login")
    client.post("/associate/login", data={"email": chain.users["waw"], "password": PASSWORD,
                                          "csrf_token": _csrf(login.text)})
    receipt = client.get(f"/associate/orders/{order['id']}")
    assert 'id="paid-at-counter"' in receipt.text
    done = client.post(f"/associate/orders/{order['id']}/paid-at-counter", data={"csrf_token": _csrf(receipt.text)})
    assert done.status_code == 200 and f"Order {order['number']} is paid at the counter" in done.text
    paid = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    assert (paid["status"], paid["payment"]["provider"], paid["payment"]["status"]) == ("paid", "manual", "captured")
    # the link now says so, and offers no card form
    assert 'id="paid"' in client.get(link).text and 'id="pay-now"' not in client.get(link).text
    # a second record is refused with a reason
    again = client.post(f"/associate/orders/{order['id']}/paid-at-counter", data={"csrf_token": _csrf(receipt.text)})
    assert "Not recorded" in again.text


class ProcessDied(BaseException):
    """Stands for the process being killed while the gateway call is out (nothing catches it)."""


class GatewayThatLosesItsFirstAnswer:
    """A card gateway plugin (the test gateway's behaviour) whose first answer never reaches
    the shop: the process dies while the call is out. Records the idempotency keys it gets."""

    name, label, session, settles_later = "flakycard", "Card (flaky line)", True, False

    def __init__(self) -> None:
        from merx.payments.testcard import TestCardProvider

        self.gateway, self.keys = TestCardProvider(), []

    def authorise(self, *, order_number: str, amount: Any, currency: str, options: dict) -> Any:
        self.keys.append(options["idempotency_key"])
        result = self.gateway.authorise(order_number=order_number, amount=amount, currency=currency, options=options)
        if len(self.keys) == 1:
            raise ProcessDied()
        return result

    def __getattr__(self, name: str) -> Any:  # capture, refund, void, parse_webhook: the test gateway's
        return getattr(self.gateway, name)


@pytest.mark.backends("sqlite", "postgresql")
def test_an_attempt_whose_answer_was_lost_is_resumed_with_the_same_key(client: Any, db: Any, chain: Any,
                                                                       monkeypatch: Any) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.payments import providers

    admin = staff_key(db, chain.users["admin"])
    flaky = GatewayThatLosesItsFirstAnswer()
    providers.session_providers()
    monkeypatch.setitem(providers._PROVIDERS, flaky.name, flaky)
    with UnitOfWork(db, SYSTEM) as uow:
        monkeypatch.setattr(uow.settings, "payment_providers", "manual,testcard,flakycard")
    order, link = _link_order(client, db, chain)
    with UnitOfWork(db, SYSTEM) as uow, pytest.raises(ProcessDied):
        orders.pay_by_card_later(uow, order["id"], provider="flakycard", card=FRICTIONLESS)
    claimed = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()["payment"]
    assert (claimed["provider"], claimed["status"]) == ("flakycard", "pending")
    assert 'id="pay-pending"' in client.get(link).text and 'id="pay-now"' not in client.get(link).text
    # The shopper taps again (even choosing another provider): the same attempt is resumed, with
    # the same key, so the gateway answers with the payment it already made.
    with UnitOfWork(db, SYSTEM) as uow:
        paid = orders.pay_by_card_later(uow, order["id"], provider="testcard", card=FRICTIONLESS)
    assert (paid["status"], paid["payment"]["provider"], paid["payment"]["status"]) == ("paid", "flakycard", "captured")
    assert flaky.keys == [f"{order['number']}:later:1"] * 2
    assert _intents(client, admin, order["id"]) == [("flakycard", "captured", "35.90", "0.00"),
                                                    ("manual", "voided", "0.00", "0.00")]
