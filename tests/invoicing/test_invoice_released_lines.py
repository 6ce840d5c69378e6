"""An invoice bills what was charged: a marketplace line the seller refused before the payment
was captured is released (never charged), so the invoice issued on capture leaves that line
out, and its net, tax and tax lines add up to the amount captured. Driven through the real
flows: checkout with offer lines, the seller refuses one, staff capture."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace_helpers import Market

PL = {"type": "ship", "address": {"name": "Ana Nowak", "line1": "ul. Prosta 1", "city": "Warszawa",
                                  "postal_code": "00-001", "country": "PL"}}


@pytest.mark.backends("sqlite", "postgresql")
def test_the_invoice_after_a_refused_line_bills_only_the_charged_lines_with_consistent_tax(client, admin, make_key,
                                                                                           db):
    from merx.core.uow import UnitOfWork
    from merx.fiscal import public as fiscal

    with UnitOfWork(db) as uow:
        fiscal.seed_default_rates(uow)
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books", name="The Long Book", attributes={"tax_class": "reduced"})
    m.product("MUG-1", "9.00", "home", name="Blue Mug")
    _, alfa = m.seller("alfa")
    book = m.offer(alfa, "BOOK-1", "27.00", quantity=3)
    mug = m.offer(alfa, "MUG-1", "12.30", quantity=3)
    order = m.ok(m.checkout([("BOOK-1", 1, book["id"]), ("MUG-1", 2, mug["id"])], fulfilment=PL,
                            payment={"provider": "test", "capture": False}), 201)
    assert order["payment"]["status"] == "authorized"
    # 27.00 book at 8% + 24.60 of mugs at 23% (+ shipping, standard rate)
    rates = {t["rate"] for t in order["tax_lines"]}
    assert rates == {"8", "23"}, order["tax_lines"]

    sub, = m.seller_orders(alfa)
    ids = {ln["sku"]: ln["id"] for ln in sub["lines"]}
    m.ok(client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=alfa, json={"lines": [
        {"line_id": ids["BOOK-1"], "accepted": True},
        {"line_id": ids["MUG-1"], "accepted": False, "reason": "out of blue glaze"}]}))
    assert m.ok(client.get("/api/v1/invoices", params={"order_id": order["id"]}, headers=admin))["items"] == []

    captured = m.ok(client.post(f"/api/v1/orders/{order['id']}/capture", headers=admin))
    assert captured["payment"]["status"] == "captured"
    charged = Decimal(order["totals"]["total"]) - Decimal("24.60")

    inv, = m.ok(client.get("/api/v1/invoices", params={"order_id": order["id"]}, headers=admin))["items"]
    assert Decimal(inv["gross"]) == charged  # what the card was charged, not the order total
    assert not any("MUG-1" in ln["description"] for ln in inv["lines"])
    assert any("BOOK-1" in ln["description"] for ln in inv["lines"])
    assert sum(Decimal(ln["total"]) for ln in inv["lines"]) == charged
    # the mugs' 23% tax is gone: 24.60 gross = 20.00 net + 4.60 tax
    before = {t["rate"]: (Decimal(t["net"]), Decimal(t["tax"])) for t in order["tax_lines"]}
    after = {t["rate"]: (Decimal(t["net"]), Decimal(t["tax"])) for t in inv["tax_lines"]}
    assert after["8"] == before["8"]
    left = (before["23"][0] - Decimal("20.00"), before["23"][1] - Decimal("4.60"))
    # nothing else at 23% (no shipping fee in this shop): the rate is not on the invoice at all
    assert after.get("23", (Decimal(0), Decimal(0))) == left
    assert Decimal(inv["tax"]) == sum(t for _, t in after.values())
    assert Decimal(inv["net"]) + Decimal(inv["tax"]) == Decimal(inv["gross"])
    assert sum(n + t for n, t in after.values()) == Decimal(inv["gross"])


@pytest.mark.backends("sqlite")
def test_an_order_without_released_lines_is_invoiced_whole(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    _, alfa = m.seller("alfa")
    book = m.offer(alfa, "BOOK-1", "25.00", quantity=3)
    order = m.ok(m.checkout([("BOOK-1", 2, book["id"])]), 201)
    inv, = m.ok(client.get("/api/v1/invoices", params={"order_id": order["id"]}, headers=admin))["items"]
    assert inv["gross"] == order["totals"]["total"]
    assert [ln["description"] for ln in inv["lines"]][0].endswith("(BOOK-1)")
