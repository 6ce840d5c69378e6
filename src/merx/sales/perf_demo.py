"""The demo's sales performance (`merx demo`, after the sales team): landed costs on the products
the accounts buy (two left without one, so "cost unknown" shows), a year of account orders placed
through the orders context at the moments they happened (paid, some late or never, a few
returned), this year's revenue target by hand and next year's by seasonality, a commission plan
with three months of statements (all but the last approved), five dealers (two in reserve)
with stock reports and rebate agreements. Everything goes through the use cases."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.catalog import public as catalog
from merx.core.auth import Principal, Role
from merx.core.db import Database, simulated_clock, utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import public as orders
from merx.sales import commissions, dealers, targets
from merx.sales.models import Account
from merx.sales.schemas import (CommissionPlanIn, DealerIn, DealerReportIn, DecomposeIn, RebateAgreementIn,
                                TargetPartIn)

PLAN_RULES = {
    "class_rates": {"gold": "0.05", "sunrise": "0.045", "sunset": "0.025", "rest": "0.02"},
    "margin_bands": [{"from": "0", "factor": "0.5"}, {"from": "0.25", "factor": "1"}, {"from": "0.45", "factor": "1.2"}],
    "unknown_cost_factor": "0.8", "team_share": "0.1",
    "tiers": [{"from": "0", "to": "0.8", "multiplier": "0.6"}, {"from": "0.8", "to": "1", "multiplier": "1"},
              {"from": "1", "to": None, "multiplier": "1.4"}],
    "clawback_days": 60, "cap": "4000.00",
}


def _months_back(today: dt.date, n: int) -> dt.date:
    d = today.replace(day=1)
    for _ in range(n):
        d = (d - dt.timedelta(days=1)).replace(day=1)
    return d


def seed_orders(db: Database, rng: random.Random, progress: Any) -> dict[str, Any]:
    """Costs and a year of account orders (the first half: the ledger then catches up)."""
    task = progress.add_task("sales performance", total=5)
    now = utcnow()
    with UnitOfWork(db) as uow:
        accs = [(a.id, a.customer_id, a.owner_user_id, a.territory) for a in uow.session.scalars(
            sa.select(Account).where(Account.customer_id.is_not(None)).order_by(Account.id))]
        levels = inventory.stock_levels(uow)
        staff_id = uow.session.execute(sa.text("SELECT id FROM users WHERE role = 'staff' ORDER BY id LIMIT 1")).scalar()
    if not accs or staff_id is None:
        return {}
    manager = Principal(user_id=staff_id, role=Role.staff, name="Sales manager")
    reps = sorted({a[2] for a in accs})
    skus = list(dict.fromkeys(r["sku"] for r in levels if r["available"] >= 60))[:30]
    if len(skus) < 6:  # a small catalog (`merx demo --products 300`): the best-stocked SKUs instead
        best = sorted(levels, key=lambda r: (-r["available"], r["sku"]))
        skus = list(dict.fromkeys(r["sku"] for r in best if r["available"] >= 15))[:30]
    if len(skus) < 6:
        return {}
    with UnitOfWork(db, manager) as uow:  # the catalog's landed costs (the catalog demo sets most)
        known = catalog.costs_at(uow, skus, "EUR", now)
    # B2B prices are a markup on the cost, so margins are real; SKUs without a cost get one from the
    # "ERP" (all but two, which stay "cost unknown")
    prices = {s: (Decimal(known[s]) * Decimal(str(round(rng.uniform(1.25, 1.9), 2)))).quantize(Decimal("0.01"))
              if s in known else Decimal(rng.choice([45, 60, 85, 120, 180, 240])) for s in skus}
    missing = [s for s in skus if s not in known]
    if len(missing) > 2:
        with UnitOfWork(db, manager) as uow:
            catalog.import_costs(uow, catalog.CostImport(source="erp", reference="demo ERP cost list", rows=[
                catalog.CostRowIn(sku=s, currency="EUR", amount=str((prices[s] * Decimal(str(round(rng.uniform(0.4, 0.8), 2))))
                                                                    .quantize(Decimal("0.01"))),
                                  effective_from=now - dt.timedelta(days=800)) for s in missing[2:]]))
    progress.advance(task)

    # -- a year of orders from the accounts -----------------------------------------------------------
    first = _months_back(now.date(), 12)
    placed = paid = returned = 0
    weights = [1.0, 0.8, 1.0, 1.2, 1.3, 1.5, 1.1, 0.9, 1.2, 1.4, 1.6, 1.0]  # a season per calendar month
    day = dt.datetime(first.year, first.month, 1, 9, tzinfo=dt.timezone.utc)
    returnable: list[tuple[dt.datetime, dict[str, Any]]] = []
    while day < now - dt.timedelta(days=1):
        if rng.random() < 0.15 * weights[day.month - 1]:
            acc_id, customer_id, owner, _territory = accs[rng.randrange(len(accs))]
            lines = [orders.PricedLine(s, rng.randint(1, 4), prices[s]) for s in rng.sample(skus, k=rng.randint(1, 3))]
            try:
                with simulated_clock(day):
                    with UnitOfWork(db, manager) as uow:
                        o = orders.place_order_at_prices(uow, customer_id=customer_id, currency="EUR", lines=lines,
                                                         placed_by=Principal(user_id=owner, role=Role.sales_rep))
                placed += 1
            except Problem:
                o = None
            if o is not None and rng.random() < 0.88:  # most pay within their terms, a few late, some never
                pay_at = day + dt.timedelta(days=rng.choice([3, 7, 12, 20, 28, 75]))
                if pay_at < now:
                    with simulated_clock(pay_at):
                        with UnitOfWork(db, manager) as uow:
                            orders.capture_payment(uow, o["id"])
                    paid += 1
                    if rng.random() < 0.06:
                        returnable.append((pay_at + dt.timedelta(days=5), o))
        day += dt.timedelta(hours=rng.choice([10, 19, 26, 31]))
    with UnitOfWork(db) as uow:
        locations, _ = inventory.list_locations(uow, limit=200)
    back = next((loc["code"] for loc in locations if loc.get("accepts_returns") and loc.get("active", True)), None)
    for when, o in returnable:
        if when >= now or back is None:
            continue
        try:
            with simulated_clock(when):
                with UnitOfWork(db, manager) as uow:
                    orders.fulfil(uow, o["id"], carrier="DPD", tracking_number=f"DPD{o['id']:08d}")
                with UnitOfWork(db, manager) as uow:
                    ra = orders.create_return(uow, o["id"], orders.ReturnCreate(
                        location=back, lines=[{"line": 1, "quantity": 1, "reason": "damaged"}]))
                with UnitOfWork(db, manager) as uow:
                    orders.receive_return(uow, ra["id"], refund=False)
            returned += 1
        except Problem:
            continue
    progress.advance(task)
    return {"task": task, "now": now, "reps": reps, "accs": accs, "skus": skus, "manager": manager,
            "counts": {"account orders (a year)": placed, "account orders paid": paid, "account returns": returned}}


def seed_plans(db: Database, rng: random.Random, progress: Any, state: dict[str, Any]) -> dict[str, int]:
    """After the ledger has caught up with the orders: targets, statements, dealers."""
    if not state:
        return {}
    task, now, reps, accs, skus, manager = (state[k] for k in ("task", "now", "reps", "accs", "skus", "manager"))

    # -- targets: this year by hand (even months per rep), next year by this year's seasonality -------
    year = now.year
    with UnitOfWork(db, manager) as uow:
        got = targets.measure(uow, "revenue", targets.at(dt.date(year - 1, now.month, 1)),
                              targets.at(dt.date(year, now.month, 1)), rep=None, currency="EUR")
    annual = max(Decimal(got["revenue"]) / 100 * Decimal("1.1"), Decimal(1000))  # last 12 months + 10%
    per_part = (annual / (12 * len(reps))).quantize(Decimal("0.01"))
    parts = [TargetPartIn(month=m, owner_user_id=r, value=str(per_part)) for m in range(1, 13) for r in reps]
    with UnitOfWork(db, manager) as uow:
        targets.decompose(uow, DecomposeIn(name="Revenue", year=year, measure="revenue", currency="EUR",
                                           total=str(per_part * 12 * len(reps)), method="manual", parts=parts))
    try:
        with UnitOfWork(db, manager) as uow:
            targets.decompose(uow, DecomposeIn(name="Revenue", year=year + 1, measure="revenue", currency="EUR",
                                               total=str((annual * Decimal("1.08")).quantize(Decimal(1))),
                                               method="seasonality", owners=reps))
    except Problem:
        pass
    progress.advance(task)

    # -- commissions: a plan and its statements, all but the last month approved -----------------------
    with UnitOfWork(db, manager) as uow:
        plan = commissions.create_plan(uow, CommissionPlanIn(name="Field reps", currency="EUR", members=reps,
                                                             rules=PLAN_RULES))
    statements = 0
    last = _months_back(now.date(), 1)
    with UnitOfWork(db, manager) as uow:  # one portfolio report for the three months (the demo's build time)
        classes = commissions.portfolio_classes(uow, "EUR", targets.at(targets.next_month(last)))
    for back_n in range(3, 0, -1):
        month = _months_back(now.date(), back_n)
        with UnitOfWork(db, manager) as uow:
            out = commissions.compute_statements(uow, plan["id"], month, classes=classes)
        statements += len(out)
        if month != last:
            for st in out:
                with UnitOfWork(db, manager) as uow:
                    commissions.approve(uow, st["id"])
    progress.advance(task)

    # -- dealers: three active in their territories, two in reserve; stock reports and rebates -----------
    dealer_ids = []
    for i, (acc_id, _c, _o, territory) in enumerate(accs[:5]):
        with UnitOfWork(db, manager) as uow:
            d = dealers.create_dealer(uow, DealerIn(account_id=acc_id, tier=["gold", "silver", "standard"][i % 3],
                                                    territory=territory or "PL-west", price_list="dealers",
                                                    status="reserve" if i >= 3 else "active"))
        dealer_ids.append(d["id"])
        with UnitOfWork(db, manager) as uow:
            dealers.report_stock(uow, d["id"], DealerReportIn(month=last.strftime("%Y-%m"), lines=[
                {"sku": s, "stock_units": rng.randint(2, 40) * (3 if i == 1 else 1), "sell_out_units": rng.randint(10, 40)}
                for s in skus[:6]]))
        with UnitOfWork(db, manager) as uow:
            dealers.create_agreement(uow, RebateAgreementIn(dealer_id=d["id"], year=year, currency="EUR", steps=[
                {"from": "1000.00", "rate": "0.02"}, {"from": "3000.00", "rate": "0.03"},
                {"from": "6000.00", "rate": "0.04"}]))
    # -- budgets: the team's last two months, with recorded expenses ------------------------------------
    from merx.sales import budgets
    from merx.sales.schemas import BudgetIn, ExpenseIn

    for back_n in (2, 1):
        month = _months_back(now.date(), back_n)
        with UnitOfWork(db, manager) as uow:
            got = targets.measure(uow, "revenue", targets.at(month), targets.at(targets.next_month(month)), rep=None,
                                  currency="EUR")
        revenue = Decimal(got["revenue"]) / 100
        with UnitOfWork(db, manager) as uow:
            budgets.create_budget(uow, BudgetIn(month=month.strftime("%Y-%m"), currency="EUR", lines={
                "revenue": str((revenue * Decimal("1.05")).quantize(Decimal("0.01"))),
                "cost_of_goods": str((revenue * Decimal("0.55")).quantize(Decimal("0.01"))),
                "people": "9000.00", "promotion": "800.00", "trade_fees": "300.00", "ka_fees": "450.00"}))
        for kind, amount in (("people", "9000.00"), ("promotion", str(rng.choice([760, 990]))),
                             ("trade_fees", "310.00"), ("ka_fees", str(rng.choice([440, 600])))):
            with UnitOfWork(db, manager) as uow:
                budgets.record_expense(uow, ExpenseIn(month=month.strftime("%Y-%m"), kind=kind,
                                                      amount={"currency": "EUR", "amount": amount}))
    contests = seed_contests(db, manager, reps, now)
    progress.advance(task)
    return state["counts"] | {"commission statements": statements, "dealers": len(dealer_ids), "contests": contests}


def seed_contests(db: Database, manager: Principal, reps: list[int], now: dt.datetime) -> int:
    """Last quarter's revenue contest (over: frozen with its winners), this month's margin race
    for everyone and a visits contest for two reps (running, live standings)."""
    from merx.core import accounts
    from merx.sales import contests
    from merx.sales.schemas import ContestIn

    with UnitOfWork(db, manager) as uow:
        field = [r for r in reps if accounts.user_role(uow, r) == Role.sales_rep]
    this_month = now.date().replace(day=1)
    quarter = _months_back(now.date(), 3)
    specs = [
        ContestIn(name="Quarter sprint", metric="revenue", period_start=quarter, period_end=this_month, currency="EUR",
                  prizes=[{"rank": 1, "text": "Weekend in Kraków for two", "amount": {"currency": "EUR", "amount": "600.00"}},
                          {"rank": 2, "text": "Noise-cancelling headphones"}, {"rank": 3, "text": "Restaurant voucher",
                                                                              "amount": {"currency": "EUR", "amount": "80.00"}}]),
        ContestIn(name="Margin month", metric="margin", period_start=this_month,
                  period_end=targets.next_month(this_month), currency="EUR",
                  prizes=[{"rank": 1, "text": "Extra day off"}]),
    ]
    if len(field) >= 2:
        specs.append(ContestIn(name="Visit challenge", metric="visits", period_start=this_month,
                               period_end=targets.next_month(this_month), scope="team", members=field[:2],
                               prizes=[{"rank": 1, "text": "Team lunch on the company"}]))
    for spec in specs:
        with UnitOfWork(db, manager) as uow:
            contests.create_contest(uow, spec)
    with UnitOfWork(db) as uow:
        contests.finalise_ended(uow, now)
    return len(specs)
