"""Points earned on an order are taken back when the order is cancelled or its goods come back
(CRM's `crm.orders` subscriber on orders' typed events), through the real API: all of them on
cancellation or a full return, the returned share on a partial return, never twice; when the
shopper already spent them the balance goes below zero (as Smile.io does) and spending waits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from checkout_shop import balance as _balance, body as _body, ledger as _ledger, loyalty_shop, member as _member
from payment_shop import PROVIDERS, PayShop

CARD = {"provider": "testcard", "card": "4242 4242 4242 4242"}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    return loyalty_shop(client, admin, db)


def _accounts(shop: PayShop, cid: int) -> dict:
    r = shop.client.get(f"/api/v1/customers/{cid}/loyalty", headers=shop.admin)
    assert r.status_code == 200, r.text
    return r.json()["accounts"][0]


@pytest.mark.backends("sqlite", "postgresql")
def test_cancelling_a_paid_order_takes_back_its_points_even_when_spent_and_the_balance_goes_negative(shop, make_key):
    cid, me = _member(shop, make_key, "nora@example.com", 100)
    r = shop.client.post("/api/v1/orders", json=_body([("LAMP", 1)], payment=CARD), headers=me)
    assert r.status_code == 201, r.text
    lamp = r.json()
    assert lamp["status"] == "paid" and ("earn", 123) in _ledger(shop, cid)
    assert _balance(shop, cid) == 223
    # she spends 200 of them on a book (20.00 off 108.00; the book earns on the 88.00 paid)
    r = shop.client.post("/api/v1/orders", json=_body([("BOOK", 1)], loyalty_points=200, payment=CARD), headers=me)
    assert r.status_code == 201, r.text
    assert _balance(shop, cid) == 223 - 200 + 88

    r = shop.client.post(f"/api/v1/orders/{lamp['id']}/cancel", json={"reason": "wrong colour"}, headers=shop.admin)
    assert r.status_code == 200, r.text
    assert _ledger(shop, cid).count(("clawback", -123)) == 1
    # 111 - 123: the lamp's points were partly spent on the book, so she owes 12
    account = _accounts(shop, cid)
    assert account["balance"] == -12 and account["balance_value"]["amount"] == "-1.20"
    assert account["lifetime_points"] == 100 + 88  # the lamp's points were never really earned
    # nothing to spend until later orders pay the debt off
    r = shop.client.post("/api/v1/orders/preview", json=_body([("BOOK", 1)], loyalty_points=100), headers=me)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "loyalty_points", r.text
    # the same event seen again takes nothing twice
    from merx.core.uow import UnitOfWork
    from merx.crm import loyalty

    with UnitOfWork(shop.db) as uow:
        assert loyalty.take_back_earned(uow, str(lamp["id"]), Decimal(1), reason="again") == 0
    assert _balance(shop, cid) == -12


def _deliver(shop: PayShop, order_id: int) -> None:
    for step in ("fulfil", "deliver"):
        r = shop.client.post(f"/api/v1/orders/{order_id}/{step}", headers=shop.admin,
                             json={"carrier": "DHL", "tracking_number": "T1"} if step == "fulfil" else None)
        assert r.status_code == 200, r.text


def _return(shop: PayShop, order_id: int, quantity: int) -> dict:
    ret = shop.client.post(f"/api/v1/orders/{order_id}/returns", headers=shop.admin,
                           json={"location": "WH", "lines": [{"line": 1, "quantity": quantity, "reason": "damaged"}]})
    assert ret.status_code == 201, ret.text
    received = shop.client.post(f"/api/v1/returns/{ret.json()['id']}/receive", headers=shop.admin)
    assert received.status_code == 200, received.text
    return received.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_a_partial_return_takes_back_its_share_once_and_the_last_return_takes_the_rest(shop, make_key):
    cid, me = _member(shop, make_key, "olga@example.com", 100)
    r = shop.client.post("/api/v1/orders", json=_body([("BOOK", 2)], payment=CARD), headers=me)
    assert r.status_code == 201, r.text
    o = r.json()
    assert ("earn", 216) in _ledger(shop, cid) and _balance(shop, cid) == 316
    _deliver(shop, o["id"])

    assert _return(shop, o["id"], 1)["refund"] == "108.00"
    # one of two books came back and was refunded: half of the 216 points, taken once (the
    # return and the refund paying for it are one reason)
    assert [e for e in _ledger(shop, cid) if e[0] == "clawback"] == [("clawback", -108)]
    assert _balance(shop, cid) == 208

    _return(shop, o["id"], 1)  # the other book: nothing of the order is left with her
    assert sum(p for k, p in _ledger(shop, cid) if k == "clawback") == -216
    assert _balance(shop, cid) == 100
    assert _accounts(shop, cid)["lifetime_points"] == 100


@pytest.mark.backends("sqlite", "postgresql")
def test_a_refund_without_return_takes_back_the_share_paid_back(shop, make_key):
    cid, me = _member(shop, make_key, "pola@example.com", 100)
    r = shop.client.post("/api/v1/orders", json=_body([("LAMP", 1)], payment=CARD), headers=me)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["totals"]["total"] == "128.00"
    pid = shop.payment_of(o["id"])["id"]
    r = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "64.00", "reason": "scratched"},
                         headers={**shop.admin, "Idempotency-Key": "pola-refund-1"})
    assert r.status_code == 200, r.text
    # 64.00 of 128.00 paid back: half of the 123 points, rounded down
    assert [e for e in _ledger(shop, cid) if e[0] == "clawback"] == [("clawback", -61)]
    assert _balance(shop, cid) == 100 + 123 - 61
