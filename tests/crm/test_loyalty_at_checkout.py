"""Loyalty points spent at checkout (orders' hook, filled by CRM), through the real API: the
programme's rules, the discount in the tax base, one spend per Idempotency-Key, points given back
on cancellation and pro rata on a return, and a Gold tier's free shipping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from checkout_shop import SHIP_PL, balance as _balance, body as _body, ledger as _ledger, loyalty_shop, member as _member
from payment_shop import PROVIDERS, PayShop


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    return loyalty_shop(client, admin, db)


@pytest.mark.backends("sqlite", "postgresql")
def test_points_lower_the_taxed_total_once_per_key_and_come_back_when_the_order_is_cancelled(shop, make_key):
    cid, me = _member(shop, make_key, "pia@example.com", 500)
    body = _body([("LAMP", 1)], loyalty_points=300, payment={"provider": "testcard", "card": "4242 4242 4242 4242"})

    preview = shop.client.post("/api/v1/orders/preview", json=body, headers=me)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    # 300 points x 0.10 = 30.00 off the lamp (123.00 incl. 23% VAT): 93.00 + 5.00 shipping
    assert p["loyalty"]["balance"] == 500 and p["loyalty"]["max_points"] == 500  # half of 123.00 = 615 points
    assert p["loyalty"]["discount"] == "30.00" and p["loyalty"]["tier"] == "Silver"
    assert p["totals"]["discount"] == "30.00" and p["totals"]["total"] == "98.00"
    # the tax base is what the shopper pays: 98.00 gross at 23%, not 128.00
    assert Decimal(p["totals"]["tax"]) == (Decimal("98.00") * 23 / 123).quantize(Decimal("0.01"))

    key = {**me, "Idempotency-Key": "pia-checkout-1"}
    first = shop.client.post("/api/v1/orders", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = shop.client.post("/api/v1/orders", json=body, headers=key)  # the retry answers with the same order
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    o = first.json()
    assert o["status"] == "paid" and o["totals"]["total"] == "98.00" and o["totals"]["tax"] == p["totals"]["tax"]
    assert o["tax_lines"] == p["tax_lines"]
    points_line = [x for x in o["promotions"] if x["kind"] == "loyalty_points"]
    assert points_line == [{"promotion_id": 0, "name": "300 loyalty points (club)", "kind": "loyalty_points",
                            "coupon_code": None, "amount": "30.00"}]
    assert o["lines"][0]["discount"] == "30.00" and o["lines"][0]["total"] == "93.00"
    assert shop.count("orders") == 1
    # spent once; the paid order earns on what was paid for the goods (93 points)
    assert _ledger(shop, cid)[:2] == [("adjust", 500), ("redeem", -300)]
    assert _balance(shop, cid) == 500 - 300 + 93

    r = shop.client.post(f"/api/v1/orders/{o['id']}/cancel", json={"reason": "changed my mind"}, headers=shop.admin)
    assert r.status_code == 200, r.text
    assert ("reversal", 300) in _ledger(shop, cid)
    assert _balance(shop, cid) >= 500  # the 300 are back (earned points are CRM's own concern)
    # the same event seen again gives nothing twice
    from merx.core.uow import UnitOfWork
    from merx.crm import checkout_points

    with UnitOfWork(shop.db) as uow:
        assert checkout_points.give_back(uow, o["id"], o["number"], Decimal(1)) == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_points_given_back_after_a_cancelled_order_do_not_count_toward_lifetime_points_or_the_tier(shop, make_key):
    """900 lifetime points, 300 of them spent on an order that is then cancelled: the 300 come
    back to the balance, but the member earned 900, not 1,200, so stays below Gold (1,000)."""
    cid, me = _member(shop, make_key, "lena@example.com", 900)
    body = _body([("LAMP", 1)], loyalty_points=300, payment={"provider": "testcard", "card": "4242 4242 4242 4242"})
    placed = shop.client.post("/api/v1/orders", json=body, headers={**me, "Idempotency-Key": "lena-1"})
    assert placed.status_code == 201, placed.text
    r = shop.client.post(f"/api/v1/orders/{placed.json()['id']}/cancel", json={"reason": "changed my mind"},
                         headers=shop.admin)
    assert r.status_code == 200, r.text
    assert ("reversal", 300) in _ledger(shop, cid)

    r = shop.client.get(f"/api/v1/customers/{cid}/loyalty", headers=shop.admin)
    [account] = r.json()["accounts"]
    kept = sum(p for kind, p in _ledger(shop, cid) if kind in ("earn", "clawback"))  # earned on the order, net
    assert kept == 0  # the cancelled order's own points went too
    assert account["balance"] == 900
    assert account["lifetime_points"] == 900 and account["tier"] == "Silver"


@pytest.mark.backends("sqlite", "postgresql")
def test_the_programme_rules_refuse_with_the_field_named_and_write_nothing(shop, make_key):
    cid, me = _member(shop, make_key, "rob@example.com", 700)

    def place(points: int, headers: dict[str, str], **extra: Any) -> Any:
        return shop.client.post("/api/v1/orders", json=_body([("BOOK", 1)], loyalty_points=points, **extra),
                                headers=headers)

    cases = [(800, me, "beyond_balance"),  # more than the balance
             (50, me, "below_minimum"),  # the programme's minimum is 100
             (600, me, "above_share")]  # half of 108.00 is 54.00 = 540 points
    for points, headers, code in cases:
        r = place(points, headers)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["errors"][0] == {**r.json()["errors"][0], "field": "loyalty_points", "code": code}
    assert shop.client.post("/api/v1/orders/preview", json=_body([("BOOK", 1)], loyalty_points=600),
                            headers=me).json()["max_points"] == 540
    # anyone can type an email: a guest has no points to spend, and no tier
    r = place(100, {}, customer={"email": "rob@example.com"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_loyalty_programme"
    assert r.json()["errors"][0]["field"] == "loyalty_points"
    # whole points only
    r = shop.client.post("/api/v1/orders", json=_body([("BOOK", 1)], loyalty_points=1.5), headers=me)
    assert r.status_code == 422 and "loyalty_points" in r.text
    assert shop.count("orders") == 0 and _balance(shop, cid) == 700 and shop.reserved("BOOK") == 0
    # the most the order takes is accepted: 540 points = 54.00 off 108.00 (8% VAT on 54.00 + 23% on 5.00)
    r = place(540, me)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["totals"]["total"] == "59.00" and o["totals"]["discount"] == "54.00"
    taxes = {t["rate"]: t["tax"] for t in o["tax_lines"]}
    assert taxes == {"8": "4.00", "23": "0.93"}
    assert _balance(shop, cid) == 160


@pytest.mark.backends("sqlite", "postgresql")
def test_a_return_gives_back_points_pro_rata_and_the_b2b_net_price_is_taxed_after_the_points(shop, make_key):
    cid, me = _member(shop, make_key, "ula@example.com", 400)
    r = shop.client.post("/api/v1/orders", headers=me, json=_body(
        [("BOOK", 2)], loyalty_points=400, payment={"provider": "test", "card": "4242 4242 4242 4242"}))
    assert r.status_code == 201, r.text
    o = r.json()
    # 216.00 - 40.00 = 176.00 of goods, + 5.00 shipping = 181.00
    assert o["status"] == "paid" and o["totals"]["total"] == "181.00"
    for step in ("fulfil", "deliver"):
        r = shop.client.post(f"/api/v1/orders/{o['id']}/{step}", headers=shop.admin,
                             json={"carrier": "DHL", "tracking_number": "T1"} if step == "fulfil" else None)
        assert r.status_code == 200, r.text
    ret = shop.client.post(f"/api/v1/orders/{o['id']}/returns", headers=shop.admin,
                           json={"location": "WH", "lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]})
    assert ret.status_code == 201, ret.text
    received = shop.client.post(f"/api/v1/returns/{ret.json()['id']}/receive", headers=shop.admin)
    assert received.status_code == 200, received.text
    assert received.json()["refund"] == "88.00"  # one of two books, as paid (after the points)
    refunded = shop.get_order(o["id"])["totals"]["refunded"]
    # 88.00 of 181.00 paid back: 400 x 88/181 = 194.47 -> 194 points back, rounded down
    expected = int(Decimal(400) * Decimal(refunded) / Decimal("181.00"))
    assert ("reversal", expected) in _ledger(shop, cid) and expected > 0

    # b2b prices exclude tax: the points come off the net price, the tax is on what is left
    staff = shop.admin
    r = shop.client.post("/api/v1/orders", headers=staff, json={
        "channel": "b2b", "customer": {"id": cid}, "lines": [{"sku": "LAMP", "quantity": 1}],
        "fulfilment": SHIP_PL, "loyalty_points": 100})
    assert r.status_code == 201, r.text
    b = r.json()
    # 123.00 - 10.00 + 5.00 = 118.00 net, 23% = 27.14
    assert b["totals"]["tax"] == "27.14" and b["totals"]["total"] == "145.14"


@pytest.mark.backends("sqlite", "postgresql")
def test_gold_ships_free_and_a_shopper_below_it_pays_shipping(shop, make_key):
    gold, gold_key = _member(shop, make_key, "gina@example.com", 1200)
    _, silver_key = _member(shop, make_key, "sam@example.com", 200)
    for headers, shipping in ((gold_key, "0.00"), (silver_key, "5.00")):
        p = shop.client.post("/api/v1/orders/preview", json=_body([("BOOK", 1)]), headers=headers).json()
        assert p["totals"]["shipping"] == shipping, p
        r = shop.client.post("/api/v1/orders", json=_body([("BOOK", 1)]), headers=headers)
        assert r.status_code == 201 and r.json()["totals"]["shipping"] == shipping, r.text
    p = shop.client.post("/api/v1/orders/preview", json=_body([("BOOK", 1)]), headers=gold_key).json()
    assert p["loyalty"]["tier"] == "Gold" and p["loyalty"]["free_shipping"] is True
