"""Sales contests: standings on a KPI over the contest's period equal the orders placed in it
(computed here from the orders' own API), prizes go to the ranks, the standings freeze once after
the period (job and manager, idempotent) and a later return does not move them; reps see only
the contests they take part in, and only managers create or finalise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sales_helpers import person, product, warehouse_with_stock

UTC = dt.timezone.utc
PRICES = {"CT-A": Decimal("120.00"), "CT-B": Decimal("35.50")}


def _as(db, who, role, fn):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, Principal(user_id=who, role=Role(role))) as uow:
        return fn(uow)


def _place(db, rep, customer_id, lines, when):
    from merx.core.auth import Principal, Role
    from merx.core.db import simulated_clock
    from merx.orders import public as orders

    who = Principal(user_id=rep.user_id, role=Role.sales_rep)
    with simulated_clock(when):
        return _as(db, rep.user_id, "sales_rep", lambda uow: orders.place_order_at_prices(
            uow, customer_id=customer_id, currency="EUR", placed_by=who,
            lines=[orders.PricedLine(sku, q, PRICES[sku]) for sku, q in lines]))


@pytest.mark.backends("sqlite", "postgresql")
def test_contest_standings_prizes_freeze_and_visibility(client, db, admin):
    from merx.core.uow import UnitOfWork
    from merx.sales import contests

    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    bob = person(db, "sales_rep", "Bob Rep")
    cat = person(db, "sales_rep", "Cat Rep")  # not in the team
    for sku, price in PRICES.items():
        product(db, sku, str(price))
    warehouse_with_stock(client, admin, {sku: 100 for sku in PRICES})
    r = client.post("/api/v1/locations", headers=admin, json={"code": "RET", "name": "Returns", "kind": "warehouse",
                                                               "accepts_returns": True})
    assert r.status_code == 201, r.text
    acc = {}
    for rep, name in ((ann, "Anvil GmbH"), (bob, "Bolt SA"), (cat, "Crate BV")):
        acc[rep.user_id] = client.post("/api/v1/accounts", headers=rep.headers, json={
            "name": name, "contacts": [{"name": f"{name} buyer", "email": f"buy@{name[:4].lower()}.example"}]}).json()

    def day(m, d):
        return dt.datetime(2026, m, d, 10, tzinfo=UTC)

    orders = [
        _place(db, ann, acc[ann.user_id]["customer_id"], [("CT-A", 3)], day(10, 3)),
        _place(db, ann, acc[ann.user_id]["customer_id"], [("CT-B", 1)], day(10, 20)),
        _place(db, bob, acc[bob.user_id]["customer_id"], [("CT-A", 3)], day(10, 11)),
        _place(db, cat, acc[cat.user_id]["customer_id"], [("CT-A", 9)], day(10, 12)),
    ]
    _place(db, ann, acc[ann.user_id]["customer_id"], [("CT-A", 5)], day(9, 28))  # before the contest
    _place(db, bob, acc[bob.user_id]["customer_id"], [("CT-A", 5)], day(11, 1))  # after it

    body = {"name": "October sprint", "metric": "revenue", "period_start": "2026-10-01", "period_end": "2026-11-01",
            "scope": "team", "members": [ann.user_id, bob.user_id],
            "prizes": [{"rank": 1, "text": "Weekend in Lisbon", "amount": {"amount": "250.00", "currency": "EUR"}},
                       {"rank": 2, "text": "Dinner voucher"}]}
    # only managers create; bad input names its field
    assert client.post("/api/v1/sales/contests", headers=ann.headers, json=body).status_code == 403
    r = client.post("/api/v1/sales/contests", headers=manager.headers, json={**body, "period_end": "2026-09-01"})
    assert r.status_code == 422 and "period_end" in r.text
    r = client.post("/api/v1/sales/contests", headers=manager.headers, json={**body, "members": [manager.user_id]})
    assert r.status_code == 422 and "members" in r.text
    r = client.post("/api/v1/sales/contests", headers=manager.headers, json={**body, "metric": "luck"})
    assert r.status_code == 422
    r = client.post("/api/v1/sales/contests", headers=manager.headers, json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    everyone = client.post("/api/v1/sales/contests", headers=manager.headers, json={
        **body, "name": "All reps, October", "scope": "all", "members": [], "prizes": [{"rank": 1, "text": "Trophy"}]})
    assert everyone.status_code == 201, everyone.text

    # the independent figure: October order totals per rep, read back from the orders API
    expected: dict[int, Decimal] = {}
    for o, rep in zip(orders, (ann, ann, bob, cat)):
        got = client.get(f"/api/v1/orders/{o['id']}", headers=admin).json()
        expected[rep.user_id] = expected.get(rep.user_id, Decimal(0)) + sum(Decimal(ln["total"]) for ln in got["lines"])
    assert expected[ann.user_id] > expected[bob.user_id]

    live = client.get(f"/api/v1/sales/contests/{cid}", headers=ann.headers)
    assert live.status_code == 200, live.text
    live = live.json()
    assert live["status"] == "ended"  # over, not frozen yet: provisional standings
    assert [(s["rank"], s["rep_user_id"], Decimal(s["value"])) for s in live["standings"]] == [
        (1, ann.user_id, expected[ann.user_id]), (2, bob.user_id, expected[bob.user_id])]
    assert live["winners"][0]["prize"] == {"rank": 1, "text": "Weekend in Lisbon",
                                           "amount": {"amount": "250.00", "currency": "EUR"}}
    all_reps = client.get(f"/api/v1/sales/contests/{everyone.json()['id']}", headers=cat.headers).json()
    assert all_reps["standings"][0]["rep_user_id"] == cat.user_id  # Cat sold most of all reps
    assert {s["rep_user_id"] for s in all_reps["standings"]} >= {ann.user_id, bob.user_id, cat.user_id}

    # a rep outside the team does not see it (404), nor in the list; reps may not finalise
    assert client.get(f"/api/v1/sales/contests/{cid}", headers=cat.headers).status_code == 404
    assert cid not in {c["id"] for c in client.get("/api/v1/sales/contests", headers=cat.headers).json()["items"]}
    assert cid in {c["id"] for c in client.get("/api/v1/sales/contests", headers=bob.headers).json()["items"]}
    assert client.post(f"/api/v1/sales/contests/{cid}/finalise", headers=ann.headers).status_code == 403

    # the daily pass freezes both once; a second pass and the manager's finalise change nothing
    with UnitOfWork(db) as uow:
        assert contests.finalise_ended(uow, dt.datetime.now(UTC)) == 2
    with UnitOfWork(db) as uow:
        assert contests.finalise_ended(uow, dt.datetime.now(UTC)) == 0
    frozen = client.get(f"/api/v1/sales/contests/{cid}", headers=manager.headers).json()
    assert frozen["status"] == "final" and frozen["standings"] == live["standings"]
    again = client.post(f"/api/v1/sales/contests/{cid}/finalise", headers=manager.headers)
    assert again.status_code == 200 and again.json()["finalised_at"] == frozen["finalised_at"]

    # a return received after the freeze would lower Ann's October revenue: the prize stays hers
    from merx.core.db import simulated_clock
    from merx.orders import public as op

    with simulated_clock(day(10, 30)):
        _as(db, manager.user_id, "staff", lambda uow: op.capture_payment(uow, orders[0]["id"]))
        _as(db, manager.user_id, "staff", lambda uow: op.fulfil(uow, orders[0]["id"], carrier="DHL", tracking_number="T1"))
        ra = _as(db, manager.user_id, "staff", lambda uow: op.create_return(uow, orders[0]["id"], op.ReturnCreate(
            location="RET", lines=[{"line": 1, "quantity": 2, "reason": "damaged"}])))
        _as(db, manager.user_id, "staff", lambda uow: op.receive_return(uow, ra["id"], refund=False))
    with UnitOfWork(db) as uow:
        assert contests.compute_standings(uow, uow.session.get(contests.Contest, cid))[0]["rep_user_id"] == bob.user_id
    assert client.get(f"/api/v1/sales/contests/{cid}", headers=ann.headers).json()["standings"] == live["standings"]
