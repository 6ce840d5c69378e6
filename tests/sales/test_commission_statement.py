"""A month of real orders (placed, paid, fulfilled and returned through the orders context's public
functions, at the moments they would have happened) gives commission statements that equal,
line by line, an independent computation written here from the plan's documented rules: class
rates from analytics' portfolio report, margin bands (or "cost unknown"), the attainment tier
with its accelerator, the team pool, the cap, the clawback of a return and of an order left
unpaid past the window (one placed the month before). Approval locks the statement and emits the
payroll event; a correction lands in the next month as an adjustment; exports trace to orders."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
import sqlalchemy as sa

from sales_helpers import person, product, warehouse_with_stock

UTC = dt.timezone.utc
OCT = dt.datetime(2026, 10, 1, tzinfo=UTC)
NOV = dt.datetime(2026, 11, 1, tzinfo=UTC)
PRICES = {"CM-A": Decimal("100.00"), "CM-B": Decimal("50.00"), "CM-C": Decimal("25.00")}

RULES = {
    "class_rates": {"gold": "0.06", "sunrise": "0.05", "sunset": "0.03", "rest": "0.02"},
    "margin_bands": [{"from": "0", "factor": "0.5"}, {"from": "0.3", "factor": "1"}, {"from": "0.5", "factor": "1.2"}],
    "unknown_cost_factor": "0.8",
    "team_share": "0.1",
    "tiers": [{"from": "0", "to": "0.8", "multiplier": "0.5"}, {"from": "0.8", "to": "1", "multiplier": "1"},
              {"from": "1", "to": None, "multiplier": "1.5"}],
    "clawback_days": 10,
    "cap": "30.00",
}


def _as(db, who, role, fn):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, Principal(user_id=who, role=Role(role))) as uow:
        return fn(uow)


def _at(moment, fn):
    from merx.core.db import simulated_clock

    with simulated_clock(moment):
        return fn()


def _day(d, h=10):
    return dt.datetime(2026, d[0], d[1], h, tzinfo=UTC)


def _place(db, rep, customer_id, lines, when):
    from merx.core.auth import Principal, Role
    from merx.orders import public as orders

    who = Principal(user_id=rep.user_id, role=Role.sales_rep)
    return _at(when, lambda: _as(db, rep.user_id, "sales_rep", lambda uow: orders.place_order_at_prices(
        uow, customer_id=customer_id, currency="EUR", placed_by=who,
        lines=[orders.PricedLine(sku, q, PRICES[sku]) for sku, q in lines])))


def _pay(db, staff, order_id, when):
    from merx.orders import public as orders

    _at(when, lambda: _as(db, staff.user_id, "staff", lambda uow: orders.capture_payment(uow, order_id)))


def _return(db, staff, order_id, line, qty, when):
    from merx.orders import public as orders

    def go():
        _as(db, staff.user_id, "staff", lambda uow: orders.fulfil(uow, order_id, carrier="DHL", tracking_number="T1"))
        ra = _as(db, staff.user_id, "staff", lambda uow: orders.create_return(uow, order_id, orders.ReturnCreate(
            location="RET", lines=[{"line": line, "quantity": qty, "reason": "damaged"}])))
        _as(db, staff.user_id, "staff", lambda uow: orders.receive_return(uow, ra["id"], refund=False))
    _at(when, go)


# -- the independent computation -------------------------------------------------------------------

def _r(x):
    return int(Decimal(x).quantize(Decimal(1), ROUND_HALF_EVEN))


def _expected(orders, returns, classes, members, rep, attainment, now):
    """orders: [(order, rep, placed_at, paid_at, [(line_no, sku, qty, revenue_minor, unit_cost_minor)])]."""
    rates = {k: Decimal(v) for k, v in RULES["class_rates"].items()}
    team, days = Decimal(RULES["team_share"]), RULES["clawback_days"]

    def rate(sku, qty, rev, cost):
        base = rates.get(classes.get(sku), rates["rest"])
        if cost is None:
            return base * Decimal(RULES["unknown_cost_factor"])
        m = (Decimal(rev) - Decimal(cost) * qty) / Decimal(rev)
        factor = Decimal("0.5")
        for b in RULES["margin_bands"]:
            if m >= Decimal(b["from"]):
                factor = Decimal(b["factor"])
        return base * factor

    lines, pool = [], Decimal(0)
    for number, who, placed, _paid, items in orders:
        if not OCT <= placed < NOV:
            continue
        for line_no, sku, qty, rev, cost in items:
            r = rate(sku, qty, rev, cost)
            if who in members:
                pool += Decimal(rev) * r * team
            if who == rep:
                lines.append(("earning", number, line_no, _r(Decimal(rev) * r * (1 - team))))
    earned = sum(x[3] for x in lines)
    if attainment is None:
        lines.append(("tier", None, None, 0))
    else:
        mult = next(Decimal(t["multiplier"]) for t in RULES["tiers"]
                    if attainment >= Decimal(t["from"]) and (t["to"] is None or attainment < Decimal(t["to"])))
        if mult != 1:
            lines.append(("tier", None, None, _r(earned * (mult - 1))))
    lines.append(("team_pool", None, None, _r(Decimal(_r(pool)) / len(members))))
    positive = sum(x[3] for x in lines)
    cap = int(Decimal(RULES["cap"]) * 100)
    if positive > cap:
        lines.append(("cap", None, None, cap - positive))
    for number, who, placed, paid, items in orders:
        if who != rep:
            continue
        deadline = placed + dt.timedelta(days=days)
        unpaid = deadline <= now and (paid is None or paid > deadline)
        for line_no, sku, qty, rev, cost in items:
            for (rnum, rline, rqty, rvalue, rwhen) in returns:
                if (rnum, rline) == (number, line_no) and OCT <= rwhen < NOV and not (unpaid and rwhen >= deadline):
                    lines.append(("clawback_return", number, line_no,
                                  -_r(Decimal(rvalue) * rate(sku, qty, rev, cost) * (1 - team))))
            if OCT <= deadline < NOV and unpaid:
                lines.append(("clawback_unpaid", number, line_no,
                              -_r(Decimal(rev) * rate(sku, qty, rev, cost) * (1 - team))))
    return lines


@pytest.mark.backends("sqlite", "postgresql")
def test_a_month_of_orders_gives_statements_equal_to_an_independent_computation(client, db, admin):
    from merx.core.models import OutboxEvent

    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    bob = person(db, "sales_rep", "Bob Rep")
    for sku, price in PRICES.items():
        product(db, sku, str(price))
    warehouse_with_stock(client, admin, {sku: 100 for sku in PRICES})
    # landed costs: CM-A earns a high margin (60%), CM-B a low one (20%); CM-C has no cost ("cost unknown")
    for sku, cost in (("CM-A", "40.00"), ("CM-B", "40.00")):
        pid = client.get("/api/v1/products", params={"sku": sku}, headers=admin).json()["items"][0]["id"]
        r = client.post(f"/api/v1/products/{pid}/costs", headers=admin, json={
            "amount": cost, "currency": "EUR", "effective_from": "2026-01-01T00:00:00Z", "reference": "ERP"})
        assert r.status_code == 201, r.text
    r = client.post("/api/v1/locations", headers=admin, json={"code": "RET", "name": "Returns desk", "kind": "warehouse",
                                                               "accepts_returns": True})
    assert r.status_code == 201, r.text
    acc_a = client.post("/api/v1/accounts", headers=ann.headers, json={
        "name": "Anvil GmbH", "contacts": [{"name": "Anvil buyer", "email": "buy@anvil.example"}]}).json()
    acc_b = client.post("/api/v1/accounts", headers=bob.headers, json={
        "name": "Bolt SA", "contacts": [{"name": "Bolt buyer", "email": "buy@bolt.example"}]}).json()

    placed = {}
    # September: Ann's order left unpaid; its 10-day window closes on 8 October
    placed["sep"] = (_place(db, ann, acc_a["customer_id"], [("CM-A", 1)], _day((9, 28))), ann, _day((9, 28)), None)
    o1 = _place(db, ann, acc_a["customer_id"], [("CM-A", 3), ("CM-B", 2)], _day((10, 2)))
    _pay(db, manager, o1["id"], _day((10, 5)))
    _return(db, manager, o1["id"], 1, 1, _day((10, 20)))  # one CM-A back: clawed back in October
    placed["o1"] = (o1, ann, _day((10, 2)), _day((10, 5)))
    o2 = _place(db, ann, acc_a["customer_id"], [("CM-C", 4)], _day((10, 3)))  # never paid: clawed back on 13 Oct
    placed["o2"] = (o2, ann, _day((10, 3)), None)
    o3 = _place(db, ann, acc_a["customer_id"], [("CM-A", 2)], _day((10, 15)))
    _pay(db, manager, o3["id"], _day((10, 16)))
    placed["o3"] = (o3, ann, _day((10, 15)), _day((10, 16)))
    o4 = _place(db, bob, acc_b["customer_id"], [("CM-B", 5)], _day((10, 6)))
    _pay(db, manager, o4["id"], _day((10, 8)))
    placed["o4"] = (o4, bob, _day((10, 6)), _day((10, 8)))
    o5 = _place(db, bob, acc_b["customer_id"], [("CM-C", 2)], _day((10, 25)))  # window closes in November
    placed["o5"] = (o5, bob, _day((10, 25)), None)

    # Ann's October revenue target: 500.00 (she sells 700 - 100 returned = 600: accelerator tier)
    r = client.post("/api/v1/sales/targets", headers=manager.headers, json={
        "name": "Ann October", "measure": "revenue", "period_start": "2026-10-01", "period_end": "2026-11-01",
        "owner_user_id": ann.user_id, "currency": "EUR", "value": "500.00"})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/sales/commission-plans", headers=manager.headers, json={
        "name": "Field reps 2026", "currency": "EUR", "members": [ann.user_id, bob.user_id], "rules": RULES})
    assert r.status_code == 201, r.text
    plan = r.json()
    r = client.post("/api/v1/sales/commission-statements/compute", headers=manager.headers,
                    json={"plan_id": plan["id"], "month": "2026-10"})
    assert r.status_code == 200, r.text
    computed = {s["rep_user_id"]: s for s in r.json()["items"]}

    # the inputs, read back from the other contexts' own APIs
    portfolio = client.get("/api/v1/analytics/portfolio", headers=admin,
                           params={"from": "2025-11-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "currency": "EUR"})
    assert portfolio.status_code == 200, portfolio.text
    classes = {p["sku"]: p["class"] for p in portfolio.json()["products"]}
    orders_in = []
    for order, who, when, paid in placed.values():
        got = client.get(f"/api/v1/orders/{order['id']}", headers=admin).json()
        items = [(ln["line"], ln["sku"], ln["quantity"], int(Decimal(ln["total"]) * 100),
                  None if ln.get("unit_cost") is None else int(Decimal(ln["unit_cost"]) * 100))
                 for ln in got["lines"]]
        orders_in.append((got["number"], who.user_id, when, paid, items))
    returns = [(o1["number"], 1, 1, 10000, _day((10, 20)))]
    now = dt.datetime.now(UTC)

    ann_att = Decimal("600.00") / Decimal("500.00")
    for rep, att in ((ann.user_id, ann_att), (bob.user_id, None)):
        expected = _expected(orders_in, returns, classes, [ann.user_id, bob.user_id], rep, att, now)
        st = client.get(f"/api/v1/sales/commission-statements/{computed[rep]['id']}", headers=manager.headers).json()
        got = [(ln["kind"], ln["order_number"], ln["line"], int(Decimal(ln["amount"]) * 100)) for ln in st["lines"]]
        assert sorted(got, key=str) == sorted(expected, key=str), (rep, got, expected)
        assert int(Decimal(st["total"]["amount"]) * 100) == sum(x[3] for x in expected)
        kinds = {x[0] for x in got}
        bands = {ln["sku"]: ln["margin_band"] for ln in st["lines"] if ln["kind"] == "earning"}
        assert bands.get("CM-A", "margin >= 0.5") == "margin >= 0.5" and bands.get("CM-B", "margin >= 0") == "margin >= 0"
        assert bands.get("CM-C", "cost unknown") == "cost unknown"
        if rep == ann.user_id:
            assert {"earning", "tier", "team_pool", "clawback_return", "clawback_unpaid"} <= kinds
            assert sum(1 for x in got if x[0] == "clawback_unpaid") == 2  # September's order and o2
        assert st["summary"]["cost_unknown"]["lines"] == sum(
            1 for _n, who, when, _p, items in orders_in if who == rep and OCT <= when < NOV
            for it in items if it[4] is None)

    # a rep sees their own statement, not a colleague's (404), and cannot approve
    assert client.get(f"/api/v1/sales/commission-statements/{computed[ann.user_id]['id']}",
                      headers=bob.headers).status_code == 404
    mine = client.get("/api/v1/sales/commission-statements", headers=bob.headers).json()["items"]
    assert {s["rep_user_id"] for s in mine} == {bob.user_id}
    assert client.post(f"/api/v1/sales/commission-statements/{computed[bob.user_id]['id']}/approve",
                       headers=bob.headers).status_code == 403

    # export: every earning line names its order
    csv_body = client.get(f"/api/v1/sales/commission-statements/{computed[ann.user_id]['id']}/export",
                          params={"format": "csv"}, headers=ann.headers)
    assert csv_body.status_code == 200
    rows = list(csv.DictReader(io.StringIO(csv_body.text)))
    assert {r["order_number"] for r in rows if r["kind"] == "earning"} == {o1["number"], o2["number"], o3["number"]}
    xlsx = client.get(f"/api/v1/sales/commission-statements/{computed[ann.user_id]['id']}/export",
                      params={"format": "xlsx"}, headers=ann.headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    # approve: locked, the payroll event carries the total; recomputing leaves it as it was
    sid = computed[ann.user_id]["id"]
    r = client.post(f"/api/v1/sales/commission-statements/{sid}/approve", headers=manager.headers)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert client.post(f"/api/v1/sales/commission-statements/{sid}/approve", headers=manager.headers).status_code == 409
    with db.engine.connect() as conn:
        ev = conn.execute(sa.select(OutboxEvent.__table__.c.payload).where(
            OutboxEvent.__table__.c.type == "commission_statement.approved")).scalars().all()
    assert [(e["total"], e["currency"]) for e in ev] == [(computed[ann.user_id]["total"]["amount"], "EUR")]
    before = client.get(f"/api/v1/sales/commission-statements/{sid}", headers=manager.headers).json()
    r = client.post("/api/v1/sales/commission-statements/compute", headers=manager.headers,
                    json={"plan_id": plan["id"], "month": "2026-10"})
    assert {s["rep_user_id"]: s["locked"] for s in r.json()["items"]} == {ann.user_id: True, bob.user_id: False}
    assert client.get(f"/api/v1/sales/commission-statements/{sid}", headers=manager.headers).json() == before

    # a correction goes to November as an adjustment line
    r = client.post(f"/api/v1/sales/commission-statements/{sid}/adjustments", headers=manager.headers,
                    json={"amount": {"amount": "-2.50", "currency": "EUR"}, "reason": "wrong class on CM-B"})
    assert r.status_code == 201, r.text
    assert r.json()["paid_in"] == "2026-11"
    r = client.post("/api/v1/sales/commission-statements/compute", headers=manager.headers,
                    json={"plan_id": plan["id"], "month": "2026-11"})
    nov = {s["rep_user_id"]: s for s in r.json()["items"]}
    nov_lines = client.get(f"/api/v1/sales/commission-statements/{nov[ann.user_id]['id']}",
                           headers=manager.headers).json()["lines"]
    assert [ln["amount"] for ln in nov_lines if ln["kind"] == "adjustment"] == ["-2.50"]
    # Bob's October order o5 is unpaid past its window on 4 November: clawed back in November
    bob_nov = client.get(f"/api/v1/sales/commission-statements/{nov[bob.user_id]['id']}",
                         headers=manager.headers).json()["lines"]
    assert [ln["order_number"] for ln in bob_nov if ln["kind"] == "clawback_unpaid"] == [o5["number"]]
