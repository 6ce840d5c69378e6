"""SMART targets and dealer rebates from real orders.

- An annual target decomposed by last year's seasonality adds up exactly to the annual figure,
  each part in the proportion of last year's month x rep x category; a manual decomposition
  that does not add up is refused naming the difference.
- Attainment (revenue, units, margin with its cost-unknown lines, visits, new accounts) equals
  an independent sum over the orders, returns and activities; the run-rate forecast is the
  actual scaled to the whole period.
- A dealer's stepped annual rebate, accrued month by month across a year whose volume crosses a
  step in mid-year, equals an independent computation; steps that do not rise are refused; the
  year is settled once, after it ends.
- Reps and dealers' data cross no lines: another rep's target, statement, dealer and rebate are 404."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from sales_helpers import person, product, warehouse_with_stock

UTC = dt.timezone.utc


def _as(db, who, role, fn):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, Principal(user_id=who, role=Role(role))) as uow:
        return fn(uow)


def _place(db, rep, customer_id, lines, when, prices):
    from merx.core.auth import Principal, Role
    from merx.core.db import simulated_clock
    from merx.orders import public as orders

    who = Principal(user_id=rep.user_id, role=Role.sales_rep)
    with simulated_clock(when):
        return _as(db, rep.user_id, "sales_rep", lambda uow: orders.place_order_at_prices(
            uow, customer_id=customer_id, currency="EUR", placed_by=who,
            lines=[orders.PricedLine(sku, q, prices[sku]) for sku, q in lines]))


def _account(client, who, name, email):
    r = client.post("/api/v1/accounts", headers=who.headers,
                    json={"name": name, "contacts": [{"name": name + " buyer", "email": email}]})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_decomposition_adds_up_and_attainment_equals_an_independent_sum(client, db, admin):
    from merx.core.db import simulated_clock

    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    bob = person(db, "sales_rep", "Bob Rep")
    prices = {"TG-A": Decimal("80.00"), "TG-B": Decimal("30.00")}
    for sku, price in prices.items():
        product(db, sku, str(price))
    warehouse_with_stock(client, admin, {sku: 500 for sku in prices})
    pid = client.get("/api/v1/products", params={"sku": "TG-A"}, headers=admin).json()["items"][0]["id"]
    assert client.post(f"/api/v1/products/{pid}/costs", headers=admin, json={
        "amount": "50.00", "currency": "EUR", "effective_from": "2024-01-01T00:00:00Z"}).status_code == 201
    acc_a = _account(client, ann, "Alder Ltd", "buy@alder.example")
    acc_b = _account(client, bob, "Birch Ltd", "buy@birch.example")

    # last year (2025): Ann sells in March and June, Bob in March
    history = [(ann, acc_a, [("TG-A", 2)], dt.datetime(2025, 3, 3, tzinfo=UTC)),
               (ann, acc_a, [("TG-A", 1), ("TG-B", 1)], dt.datetime(2025, 6, 9, tzinfo=UTC)),
               (bob, acc_b, [("TG-B", 3)], dt.datetime(2025, 3, 20, tzinfo=UTC))]
    for rep, acc, lines, when in history:
        _place(db, rep, acc["customer_id"], lines, when, prices)
    # last year's revenue: Ann March 160, Ann June 110, Bob March 90 (total 360)
    r = client.post("/api/v1/sales/targets/decompose", headers=manager.headers, json={
        "name": "Revenue 2026", "year": 2026, "measure": "revenue", "currency": "EUR", "total": "100000.00",
        "method": "seasonality", "owners": [ann.user_id, bob.user_id]})
    assert r.status_code == 201, r.text
    plan = r.json()
    parts = {(p["period_start"][:7], p["owner_user_id"]): Decimal(p["value"]) for p in plan["parts"]}
    assert sum(parts.values()) == Decimal("100000.00") == Decimal(plan["parts_total"])
    weights = {("2026-03", ann.user_id): 160, ("2026-06", ann.user_id): 110, ("2026-03", bob.user_id): 90}
    for key, w in weights.items():  # each part within a cent of its exact share
        assert abs(parts[key] - Decimal("100000.00") * w / 360) <= Decimal("0.01"), (key, parts[key])
    assert set(parts) == set(weights)

    bad = client.post("/api/v1/sales/targets/decompose", headers=manager.headers, json={
        "name": "Units 2026", "year": 2026, "measure": "units", "total": 100, "method": "manual",
        "parts": [{"month": 1, "owner_user_id": ann.user_id, "value": 60},
                  {"month": 2, "owner_user_id": bob.user_id, "value": 30}]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "parts" and "difference 10" in bad.json()["errors"][0]["message"]
    no_history = client.post("/api/v1/sales/targets/decompose", headers=manager.headers, json={
        "name": "Visits 2026", "year": 2030, "measure": "visits", "total": 100, "method": "seasonality",
        "owners": [ann.user_id]})
    assert no_history.status_code == 422 and no_history.json()["errors"][0]["field"] == "method"
    assert client.post("/api/v1/sales/targets/decompose", headers=ann.headers, json={
        "name": "Mine", "year": 2026, "measure": "units", "total": 1, "method": "manual",
        "parts": [{"month": 1, "owner_user_id": ann.user_id, "value": 1}]}).status_code == 403

    # October 2026: orders, a return, a cancelled order and visits; attainment against the sum
    orders = [(ann, acc_a, [("TG-A", 3), ("TG-B", 2)], dt.datetime(2026, 10, 2, tzinfo=UTC)),
              (ann, acc_a, [("TG-B", 4)], dt.datetime(2026, 10, 12, tzinfo=UTC)),
              (ann, acc_a, [("TG-A", 5)], dt.datetime(2026, 10, 14, tzinfo=UTC)),  # cancelled below
              (bob, acc_b, [("TG-A", 7)], dt.datetime(2026, 10, 5, tzinfo=UTC)),
              (ann, acc_a, [("TG-A", 9)], dt.datetime(2026, 11, 2, tzinfo=UTC))]  # outside the month
    placed = [_place(db, rep, acc["customer_id"], lines, when, prices) for rep, acc, lines, when in orders]
    with simulated_clock(dt.datetime(2026, 10, 15, tzinfo=UTC)):
        from merx.orders import public as orders_api

        _as(db, manager.user_id, "staff", lambda uow: orders_api.cancel(uow, placed[2]["id"], reason="duplicate"))
    with simulated_clock(dt.datetime(2026, 10, 20, tzinfo=UTC)):
        r = client.post("/api/v1/locations", headers=admin, json={"code": "RET", "name": "Returns", "kind": "warehouse",
                                                                   "accepts_returns": True})
        assert r.status_code == 201
        _as(db, manager.user_id, "staff", lambda uow: orders_api.capture_payment(uow, placed[0]["id"]))
        _as(db, manager.user_id, "staff", lambda uow: orders_api.fulfil(uow, placed[0]["id"], carrier="DHL",
                                                                        tracking_number="X"))
        ra = _as(db, manager.user_id, "staff", lambda uow: orders_api.create_return(uow, placed[0]["id"],
                 orders_api.ReturnCreate(location="RET", lines=[{"line": 1, "quantity": 1, "reason": "damaged"}])))
        _as(db, manager.user_id, "staff", lambda uow: orders_api.receive_return(uow, ra["id"], refund=False))
        for i in range(3):
            assert client.post("/api/v1/activities", headers=ann.headers, json={
                "kind": "visit", "subject": f"Visit {i}", "account_id": acc_a["id"], "location": "Alder HQ"}
            ).status_code == 201

    def target(measure, value, currency="EUR", owner=ann.user_id):
        r = client.post("/api/v1/sales/targets", headers=manager.headers, json={
            "name": f"Ann {measure}", "measure": measure, "period_start": "2026-10-01", "period_end": "2026-11-01",
            "owner_user_id": owner, "currency": currency if measure in ("revenue", "margin") else None,
            "value": value})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    # the independent sums over Ann's October (orders 0 and 1; 2 cancelled; one TG-A returned)
    revenue = 3 * 80 + 2 * 30 + 4 * 30 - 80
    units = 3 + 2 + 4 - 1
    margin = (3 * 80 - 3 * 50) - (80 - 50)  # only TG-A has a cost; the returned TG-A takes its margin back
    unknown_lines, unknown_revenue = 2, 2 * 30 + 4 * 30
    expect = {"revenue": (str(Decimal(revenue).quantize(Decimal("0.01"))), "400.00"),
              "units": (str(units), "10"), "margin": (str(Decimal(margin).quantize(Decimal("0.01"))), "100.00"),
              "visits": ("3", "5")}
    for measure, (actual, goal) in expect.items():
        tid = target(measure, goal)
        got = client.get(f"/api/v1/sales/targets/{tid}/attainment", headers=ann.headers).json()
        assert got["actual"] == actual, (measure, got)
        assert got["attainment"] == pytest.approx(float(Decimal(actual) / Decimal(goal)))
        assert got["will_meet"] == (Decimal(got["forecast"]) >= Decimal(goal))  # the month is over: forecast = actual
        assert Decimal(got["forecast"]) == Decimal(actual)
        if measure == "margin":
            assert got["cost_unknown"] == {"lines": unknown_lines, "revenue_minor": unknown_revenue * 100}
    # run rate: halfway through a 30-day period, the forecast doubles the actual
    from merx.sales import targets as sales_targets
    start = dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert sales_targets.run_rate(Decimal("50"), start, start + dt.timedelta(days=30),
                                  start + dt.timedelta(days=15)) == Decimal("100")
    # isolation: Bob does not see Ann's target
    assert client.get(f"/api/v1/sales/targets/{tid}/attainment", headers=bob.headers).status_code == 404
    assert all(t["owner_user_id"] == bob.user_id
               for t in client.get("/api/v1/sales/targets", headers=bob.headers).json()["items"])


def _independent_rebate(monthly, steps):
    """All-units steps: the year-to-date volume's rate applies to all of it; a month accrues the change."""
    out, ytd, before = [], Decimal(0), Decimal(0)
    for v in monthly:
        ytd += v
        rate = Decimal(0)
        for threshold, r in steps:
            if ytd >= threshold:
                rate = r
        earned = (ytd * rate).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        out.append((rate, earned - before))
        before = earned
    return out, before


@pytest.mark.backends("sqlite", "postgresql")
def test_dealer_rebate_accrual_across_a_year_with_a_step_crossed_mid_year(client, db, admin):
    from merx.core.db import simulated_clock
    from merx.orders import public as orders_api

    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    bob = person(db, "sales_rep", "Bob Rep")
    prices = {"RB-1": Decimal("1000.00")}
    product(db, "RB-1", "1000.00")
    warehouse_with_stock(client, admin, {"RB-1": 10_000})
    acc = _account(client, ann, "Dealer North", "buy@north.example")
    other = _account(client, bob, "Dealer South", "buy@south.example")
    r = client.post("/api/v1/sales/dealers", headers=manager.headers, json={
        "account_id": acc["id"], "tier": "gold", "territory": "north", "price_list": "dealers"})
    assert r.status_code == 201, r.text
    dealer = r.json()
    south = client.post("/api/v1/sales/dealers", headers=manager.headers, json={
        "account_id": other["id"], "territory": "north", "status": "reserve"}).json()

    bad = client.post("/api/v1/sales/rebates", headers=manager.headers, json={
        "dealer_id": dealer["id"], "year": 2025, "currency": "EUR",
        "steps": [{"from": "100000.00", "rate": "0.03"}, {"from": "250000.00", "rate": "0.02"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "steps[1].rate"
    bad = client.post("/api/v1/sales/rebates", headers=manager.headers, json={
        "dealer_id": dealer["id"], "year": 2025, "currency": "EUR",
        "steps": [{"from": "100000.00", "rate": "0.02"}, {"from": "100000.00", "rate": "0.03"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "steps[1].from"
    r = client.post("/api/v1/sales/rebates", headers=manager.headers, json={
        "dealer_id": dealer["id"], "year": 2025, "currency": "EUR",
        "steps": [{"from": "100000.00", "rate": "0.02"}, {"from": "250000.00", "rate": "0.03"}]})
    assert r.status_code == 201, r.text
    agreement = r.json()

    # 2025: 30 units a month (30,000) ... 100k crossed in April, 250k crossed in September
    per_month = {m: 30 for m in range(1, 13)}
    per_month[6] = 45
    first = None
    for m, units in per_month.items():
        o = _place(db, ann, acc["customer_id"], [("RB-1", units)], dt.datetime(2025, m, 10, tzinfo=UTC), prices)
        first = first or o
    with simulated_clock(dt.datetime(2025, 7, 1, tzinfo=UTC)):  # a return in July lowers the volume
        r = client.post("/api/v1/locations", headers=admin, json={"code": "RET", "name": "Returns",
                                                                   "kind": "warehouse", "accepts_returns": True})
        _as(db, manager.user_id, "staff", lambda uow: orders_api.capture_payment(uow, first["id"]))
        _as(db, manager.user_id, "staff", lambda uow: orders_api.fulfil(uow, first["id"], carrier="DHL",
                                                                        tracking_number="X"))
        ra = _as(db, manager.user_id, "staff", lambda uow: orders_api.create_return(uow, first["id"],
                 orders_api.ReturnCreate(location="RET", lines=[{"line": 1, "quantity": 5, "reason": "other"}])))
        _as(db, manager.user_id, "staff", lambda uow: orders_api.receive_return(uow, ra["id"], refund=False))
    _place(db, ann, acc["customer_id"], [("RB-1", 99)], dt.datetime(2026, 1, 5, tzinfo=UTC), prices)  # next year

    monthly = [Decimal(per_month[m] * 1000) - (Decimal(5000) if m == 7 else 0) for m in range(1, 13)]
    expected, total = _independent_rebate(monthly, [(Decimal(100000), Decimal("0.02")),
                                                    (Decimal(250000), Decimal("0.03"))])
    got = client.get(f"/api/v1/sales/rebates/{agreement['id']}/accrual", headers=ann.headers).json()
    assert [(Decimal(m["rate"]), Decimal(m["accrual"])) for m in got["months"]] == expected
    assert Decimal(got["total"]["amount"]) == total == sum(a for _r, a in expected)
    rates = [r for r, _a in expected]
    assert rates[2] == 0 and rates[3] == Decimal("0.02") and rates[8] == Decimal("0.03")  # steps crossed mid-year

    # settled once the year is over, once; the event carries the credit
    from merx.core.errors import Conflict
    from merx.sales import dealers as sales_dealers
    with pytest.raises(Conflict, match="after the year ends"):
        _as(db, manager.user_id, "staff", lambda uow: sales_dealers.settle(
            uow, agreement["id"], now=dt.datetime(2025, 12, 31, 23, tzinfo=UTC)))
    r = client.post(f"/api/v1/sales/rebates/{agreement['id']}/settle", headers=manager.headers)
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["settled"]["amount"]) == total
    assert client.post(f"/api/v1/sales/rebates/{agreement['id']}/settle", headers=manager.headers).status_code == 409
    # the settlement is an invoicing credit note to the dealer's account, with the settlement's reference;
    # settling twice left one note
    notes = client.get("/api/v1/invoices", params={"kind": "credit_note"}, headers=admin).json()["items"]
    assert [(n["number"], n["reference"], n["customer_id"], n["order_id"], Decimal(n["gross"])) for n in notes] == [
        (r.json()["credit_note"], r.json()["settlement_ref"], acc["customer_id"], None, total)]
    assert r.json()["credit_note"].startswith("CN/")
    pdf = client.get(notes[0]["pdf_url"], headers=admin)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the dealer's staff read their credit note; the other dealer's do not
    from merx.core import accounts as users
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork
    keys = {}
    for name, customer in (("north", acc["customer_id"]), ("south", other["customer_id"])):
        with UnitOfWork(db) as uow:
            keys[name] = {"Authorization": "Bearer " + users.create_user_with_key(
                uow, name=f"{name} clerk", role=Role.dealer, customer_id=customer).key}
    assert client.get(f"/api/v1/invoices/{notes[0]['id']}", headers=keys["north"]).status_code == 200
    assert client.get(f"/api/v1/invoices/{notes[0]['id']}", headers=keys["south"]).status_code == 404
    assert client.get("/api/v1/invoices", headers=keys["south"]).json()["items"] == []

    card = client.get("/api/v1/sales/dealers/scorecard", params={"year": 2025}, headers=manager.headers).json()
    assert [(d["dealer_id"], Decimal(d["volume"]), d["replace"]) for d in card["dealers"]] == [
        (dealer["id"], sum(monthly), False)]  # the reserve dealer is not scored; one active dealer is not replaced

    # slow movers: 10% of 2025's purchases (after the 5 returned) and at least 90 days old
    from merx.sales import dealers as sales_dealers
    from merx.sales.schemas import SlowMoverReturnIn
    checked = _as(db, ann.user_id, "sales_rep", lambda uow: sales_dealers.slow_mover_returns(
        uow, dealer["id"], SlowMoverReturnIn(lines=[{"sku": "RB-1", "quantity": 30, "age_days": 120}]),
        now=dt.datetime(2025, 12, 20, tzinfo=UTC)))
    bought = sum(per_month.values())
    allowance = int(bought * Decimal("0.1")) - 5
    assert checked["lines"][0]["allowance"] == allowance and checked["lines"][0]["accepted"] is True
    r = client.post(f"/api/v1/sales/dealers/{dealer['id']}/slow-mover-returns", headers=ann.headers, json={
        "lines": [{"sku": "RB-1", "quantity": 1, "age_days": 30}]})
    assert r.json()["lines"][0]["accepted"] is False and "30 days old" in r.json()["lines"][0]["reasons"][0]

    # stock health: more stock than half a month's sell-out is flagged
    r = client.post(f"/api/v1/sales/dealers/{dealer['id']}/reports", headers=ann.headers, json={
        "month": "2026-10", "lines": [{"sku": "RB-1", "stock_units": 20, "sell_out_units": 30}]})
    assert r.status_code == 200 and r.json()["overstocked"] is True
    flagged = client.get("/api/v1/sales/dealers/overstocked", params={"month": "2026-10"}, headers=manager.headers)
    assert [d["dealer_id"] for d in flagged.json()["items"]] == [dealer["id"]]
    reserves = client.get("/api/v1/sales/dealers/reserves", headers=manager.headers).json()
    assert [d["id"] for d in reserves["north"]["reserve"]] == [south["id"]]

    # isolation: Bob sees neither Ann's dealer nor its rebate; Ann not Bob's
    assert client.get(f"/api/v1/sales/dealers/{dealer['id']}", headers=bob.headers).status_code == 404
    assert client.get(f"/api/v1/sales/rebates/{agreement['id']}/accrual", headers=bob.headers).status_code == 404
    assert client.post(f"/api/v1/sales/dealers/{dealer['id']}/reports", headers=bob.headers, json={
        "month": "2026-10", "lines": [{"sku": "RB-1", "stock_units": 1, "sell_out_units": 1}]}).status_code == 404
    assert [d["id"] for d in client.get("/api/v1/sales/dealers", headers=ann.headers).json()["items"]] == [dealer["id"]]
    assert client.get("/api/v1/sales/rebates", headers=bob.headers).json()["items"] == []

    # dealer users: each sees only its own dealer, reports and rebates; nothing of the CRM
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    def dealer_user(customer_id, name):
        with UnitOfWork(db) as uow:
            issued = accounts.create_user_with_key(uow, name=name, role=Role.dealer, customer_id=customer_id)
        return {"Authorization": f"Bearer {issued.key}"}

    north_user = dealer_user(acc["customer_id"], "North staff")
    south_user = dealer_user(other["customer_id"], "South staff")
    assert [d["id"] for d in client.get("/api/v1/sales/dealers", headers=north_user).json()["items"]] == [dealer["id"]]
    assert [d["id"] for d in client.get("/api/v1/sales/dealers", headers=south_user).json()["items"]] == [south["id"]]
    assert client.get(f"/api/v1/sales/dealers/{dealer['id']}", headers=south_user).status_code == 404
    assert client.get(f"/api/v1/sales/rebates/{agreement['id']}/accrual", headers=south_user).status_code == 404
    assert client.get(f"/api/v1/sales/rebates/{agreement['id']}/accrual", headers=north_user).status_code == 200
    assert client.get("/api/v1/sales/rebates", headers=south_user).json()["items"] == []
    assert client.post(f"/api/v1/sales/dealers/{dealer['id']}/reports", headers=south_user, json={
        "month": "2026-11", "lines": [{"sku": "RB-1", "stock_units": 1, "sell_out_units": 1}]}).status_code == 404
    r = client.post(f"/api/v1/sales/dealers/{south['id']}/reports", headers=south_user, json={
        "month": "2026-11", "lines": [{"sku": "RB-1", "stock_units": 1, "sell_out_units": 4}]})
    assert r.status_code == 200 and r.json()["overstocked"] is False
    for path in ("/api/v1/accounts", "/api/v1/sales/commission-statements", "/api/v1/sales/targets",
                 "/api/v1/sales/kpis"):
        assert client.get(path, headers=south_user).status_code == 403, path
    assert client.post("/api/v1/sales/rebates", headers=north_user, json={
        "dealer_id": dealer["id"], "year": 2027, "currency": "EUR",
        "steps": [{"from": "1.00", "rate": "0.5"}]}).status_code == 403
    with UnitOfWork(db) as uow:
        with pytest.raises(Exception, match="customer record"):
            accounts.create_user_with_key(uow, name="Nobody", role=Role.dealer)


def test_budget_against_actuals_with_variance_alerts(client, db, admin):
    manager = person(db, "staff", "Mia Manager")
    ann = person(db, "sales_rep", "Ann Rep")
    bob = person(db, "sales_rep", "Bob Rep")
    prices = {"BG-A": Decimal("100.00"), "BG-B": Decimal("40.00")}
    for sku, price in prices.items():
        product(db, sku, str(price))
    warehouse_with_stock(client, admin, {sku: 100 for sku in prices})
    pid = client.get("/api/v1/products", params={"sku": "BG-A"}, headers=admin).json()["items"][0]["id"]
    assert client.post(f"/api/v1/products/{pid}/costs", headers=admin, json={
        "amount": "60.00", "currency": "EUR", "effective_from": "2026-01-01T00:00:00Z"}).status_code == 201
    acc = _account(client, ann, "Budget Buyer", "buy@budget.example")
    _place(db, ann, acc["customer_id"], [("BG-A", 5), ("BG-B", 2)], dt.datetime(2026, 9, 8, tzinfo=UTC), prices)
    r = client.post("/api/v1/sales/budgets", headers=manager.headers, json={
        "month": "2026-09", "owner_user_id": ann.user_id, "currency": "EUR", "alert_threshold": "0.1",
        "lines": {"revenue": "600.00", "cost_of_goods": "300.00", "promotion": "50.00", "trade_fees": "20.00"}})
    assert r.status_code == 201, r.text
    budget = r.json()
    assert client.post("/api/v1/sales/expenses", headers=manager.headers, json={
        "month": "2026-09", "owner_user_id": ann.user_id, "kind": "promotion",
        "amount": {"amount": "52.00", "currency": "EUR"}}).status_code == 201
    v = client.get(f"/api/v1/sales/budgets/{budget['id']}/variance", headers=ann.headers).json()
    rows = {x["line"]: x for x in v["rows"]}
    assert rows["revenue"]["actual"] == "580.00" and rows["revenue"]["alert"] is False  # 5 x 100 + 2 x 40, -3.3%
    assert rows["cost_of_goods"]["actual"] == "300.00" and rows["cost_of_goods"]["alert"] is False  # 5 x 60
    assert rows["promotion"]["actual"] == "52.00" and rows["promotion"]["alert"] is False  # +4%
    assert rows["trade_fees"]["actual"] == "0.00" and rows["trade_fees"]["alert"] is True  # -100%
    assert v["alerts"] == ["trade fees is 100.0% below plan (0.00 against 20.00 EUR)"]
    assert v["cost_unknown"] == {"lines": 1, "revenue_minor": 8000}  # BG-B has no cost: listed, not guessed
    assert client.get(f"/api/v1/sales/budgets/{budget['id']}/variance", headers=bob.headers).status_code == 404
    dup = client.post("/api/v1/sales/budgets", headers=manager.headers, json={
        "month": "2026-09", "owner_user_id": ann.user_id, "currency": "EUR", "lines": {"revenue": "1.00"}})
    assert dup.status_code == 409
