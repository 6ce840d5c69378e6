"""orders.public.place_order_at_prices (for sales' accepted quotes): the agreed unit prices are
kept (no price list, no automatic promotion), stock is reserved, the order is the placing rep's;
only a rep or staff may place one; payment_facts reports when the money came in."""

from __future__ import annotations

from decimal import Decimal

import pytest

API = "/api/v1"


def _place(db, principal, customer_id, qty=2, price="70.00"):  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    with UnitOfWork(db) as uow:
        return orders.place_order_at_prices(uow, customer_id=customer_id, currency="EUR", placed_by=principal,
                                            lines=[orders.PricedLine("ITEM", qty, Decimal(price))])


def test_agreed_prices_are_kept_and_stock_reserved(shop, db):
    from merx.core import accounts
    from merx.core.auth import Principal, Role
    from merx.core.errors import Forbidden
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    shop.location("WH")
    shop.product("ITEM", price="100.00")
    shop.stock("ITEM", "WH", 10)
    r = shop.client.post(f"{API}/promotions", json={"name": "10% off", "kind": "order_percent", "percent": "10"},
                         headers=shop.admin)
    assert r.status_code == 201, r.text
    customer = shop.client.post(f"{API}/customers", json={"email": "b2b@buyer.example"}, headers=shop.admin).json()
    with UnitOfWork(db) as uow:
        rep = accounts.create_user(uow, name="Rep", role=Role.sales_rep)
        uow.commit()
        rep_id = rep.id
    staff = Principal(user_id=None, role=Role.staff, name="staff")
    order = _place(db, staff, customer["id"])
    assert order["channel"] == "b2b" and order["customer_id"] == customer["id"]
    assert [(ln["unit_price"], ln["discount"]) for ln in order["lines"]] == [("70.00", "0.00")]
    assert order["promotions"] == [] and order["totals"]["subtotal"] == "140.00"
    assert order["payment"]["provider"] == "manual" and order["status"] == "confirmed"
    assert shop.levels("ITEM")["WH"]["reserved"] == 2
    # a web order on the same shop still gets the promotion: the flag is per call
    web = shop.order([("ITEM", 1)], email="b2b@buyer.example").json()
    assert web["totals"]["discount"] == "10.00"

    with pytest.raises(Forbidden):
        _place(db, Principal(user_id=None, role=Role.support_agent, name="agent"), customer["id"])
    # a rep places only for their own customers (the customer record's rep): others are unknown to them
    from merx.core.errors import ValidationProblem

    with pytest.raises(ValidationProblem):
        _place(db, Principal(user_id=rep_id, role=Role.sales_rep, name="rep"), customer["id"])

    shop.client.post(f"{API}/orders/{order['id']}/capture", headers=shop.admin)
    with UnitOfWork(db) as uow:
        facts = {f.order_id: f for f in orders.payment_facts(uow, [customer["id"]])}
    assert facts[order["id"]].paid_at is not None and facts[order["id"]].total.amount == Decimal("140.00")
    assert facts[web["id"]].total.amount == Decimal(web["totals"]["total"])
