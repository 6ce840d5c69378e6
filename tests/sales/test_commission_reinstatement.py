"""An order clawed back for being unpaid past the window and paid later is reinstated: the
statement of the payment's month carries a `reinstatement` line naming the order, worth what was
taken back (less units returned before the payment); a locked statement is never changed, so a
payment dated in a locked month is reinstated in the rep's next open month. The expected amounts
are computed here from the orders' own totals and the plan's flat rate."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from sales_helpers import person, product, warehouse_with_stock

UTC = dt.timezone.utc
RATE = Decimal("0.05")  # every class, no margin bands, no team share: commission = 5% of the line
RULES = {"class_rates": {"gold": "0.05", "sunrise": "0.05", "sunset": "0.05", "rest": "0.05"}, "clawback_days": 10}


def _as(db, who, role, fn):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, Principal(user_id=who, role=Role(role))) as uow:
        return fn(uow)


def _day(m, d):
    return dt.datetime(2026, m, d, 10, tzinfo=UTC)


def _place(db, rep, customer_id, qty, when):
    from merx.core.auth import Principal, Role
    from merx.core.db import simulated_clock
    from merx.orders import public as orders

    who = Principal(user_id=rep.user_id, role=Role.sales_rep)
    with simulated_clock(when):
        return _as(db, rep.user_id, "sales_rep", lambda uow: orders.place_order_at_prices(
            uow, customer_id=customer_id, currency="EUR", placed_by=who,
            lines=[orders.PricedLine("RI-1", qty, Decimal("33.30"))]))


def _pay(db, staff, order_id, when):
    from merx.core.db import simulated_clock
    from merx.orders import public as orders

    with simulated_clock(when):
        _as(db, staff.user_id, "staff", lambda uow: orders.capture_payment(uow, order_id))


def _commission(client, admin, order):
    got = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
    total = sum(Decimal(ln["total"]) for ln in got["lines"])
    return int((total * 100 * RATE).quantize(Decimal(1), ROUND_HALF_EVEN))


@pytest.mark.backends("sqlite", "postgresql")
def test_a_clawed_back_order_paid_later_is_reinstated_and_locked_months_stay_locked(client, db, admin):
    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    product(db, "RI-1", "33.30")
    warehouse_with_stock(client, admin, {"RI-1": 100})
    acc = client.post("/api/v1/accounts", headers=ann.headers, json={
        "name": "Anvil GmbH", "contacts": [{"name": "Anvil buyer", "email": "buy@anvil.example"}]}).json()
    late = _place(db, ann, acc["customer_id"], 3, _day(10, 2))    # window closes 12 Oct; paid 5 Nov
    locked = _place(db, ann, acc["customer_id"], 2, _day(10, 6))  # window closes 16 Oct; paid in a locked November
    _place(db, ann, acc["customer_id"], 1, _day(10, 7))           # never paid: stays clawed back
    plan = client.post("/api/v1/sales/commission-plans", headers=manager.headers, json={
        "name": "Flat 5%", "currency": "EUR", "members": [ann.user_id], "rules": RULES}).json()

    def compute(month):
        r = client.post("/api/v1/sales/commission-statements/compute", headers=manager.headers,
                        json={"plan_id": plan["id"], "month": month})
        assert r.status_code == 200, r.text
        sid = r.json()["items"][0]["id"]
        st = client.get(f"/api/v1/sales/commission-statements/{sid}", headers=manager.headers).json()
        return st, [(ln["kind"], ln["order_number"], int(Decimal(ln["amount"]) * 100)) for ln in st["lines"]]

    octo, lines = compute("2026-10")
    clawed = {n: a for k, n, a in lines if k == "clawback_unpaid"}
    assert len(clawed) == 3 and clawed[late["number"]] == -_commission(client, admin, late)
    assert client.post(f"/api/v1/sales/commission-statements/{octo['id']}/approve",
                       headers=manager.headers).status_code == 200

    _pay(db, manager, late["id"], _day(11, 5))
    nov, lines = compute("2026-11")
    assert [(k, n, a) for k, n, a in lines if k == "reinstatement"] == [
        ("reinstatement", late["number"], _commission(client, admin, late))]
    note = next(ln["note"] for ln in nov["lines"] if ln["kind"] == "reinstatement")
    assert "paid 2026-11-05" in note and "2026-10-12" in note
    assert client.post(f"/api/v1/sales/commission-statements/{nov['id']}/approve",
                       headers=manager.headers).status_code == 200

    # a payment recorded after November was locked, dated in November: November stays as approved,
    # the reinstatement comes in December
    approved_nov = client.get(f"/api/v1/sales/commission-statements/{nov['id']}", headers=manager.headers).json()
    _pay(db, manager, locked["id"], _day(11, 28))
    again, _ = compute("2026-11")
    assert again == approved_nov and again["status"] == "approved"
    dec, lines = compute("2026-12")
    assert [(k, n, a) for k, n, a in lines if k == "reinstatement"] == [
        ("reinstatement", locked["number"], _commission(client, admin, locked))]
    assert "locked" in next(ln["note"] for ln in dec["lines"] if ln["kind"] == "reinstatement")
    # recomputing December and then computing January reinstates nothing twice
    assert compute("2026-12")[1] == lines
    assert client.post(f"/api/v1/sales/commission-statements/{dec['id']}/approve",
                       headers=manager.headers).status_code == 200
    assert [x for x in compute("2027-01")[1] if x[0] == "reinstatement"] == []
