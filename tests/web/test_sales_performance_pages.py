"""The sales performance console pages over the real ASGI stack: KPIs with the leaderboard and the
month's targets, commission statements (a manager computes and approves; a rep sees only their
own statement, another's is a 404 page), and the dealer network with stock health, rebates and
the bottom-3 review; each draws its Chart.js charts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _data(db: Any, shop: Any) -> dict[str, Any]:
    from merx.core import accounts as users
    from merx.core.auth import Principal, Role
    from merx.core.db import simulated_clock
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.sales import commissions, dealers, public as sales, targets
    from merx.sales.schemas import (AccountCreate, CommissionPlanIn, ContactIn, DealerIn, DealerReportIn,
                                    RebateAgreementIn, TargetIn)

    with UnitOfWork(db) as uow:
        rep = Principal(user_id=users.user_id_by_email(uow, shop.users["sales_rep"]), role=Role.sales_rep, name="rep")
        staff = Principal(user_id=users.user_id_by_email(uow, shop.users["staff"]), role=Role.staff, name="staff")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, AccountCreate(name="Lumen Lighting Shop",
                                                      contacts=[ContactIn(name="Lea", email="lea@lumen.example")]))
    with UnitOfWork(db, staff) as uow:
        other = sales.create_account(uow, AccountCreate(name="Staff Dealer Ltd",
                                                        contacts=[ContactIn(name="Sam", email="sam@dealer.example")]))
    with simulated_clock(dt.datetime(2026, 10, 7, 10, tzinfo=dt.timezone.utc)):
        with UnitOfWork(db, rep) as uow:
            orders.place_order_at_prices(uow, customer_id=acc.customer_id, currency="EUR", placed_by=rep,
                                         lines=[orders.PricedLine("MUG-1", 10, Decimal("9.00"))])
        with UnitOfWork(db, staff) as uow:
            orders.place_order_at_prices(uow, customer_id=other.customer_id, currency="EUR", placed_by=staff,
                                         lines=[orders.PricedLine("MUG-1", 5, Decimal("8.00"))])
    with UnitOfWork(db, staff) as uow:
        targets.create_target(uow, TargetIn(name="Rep October", measure="revenue", period_start=dt.date(2026, 10, 1),
                                            period_end=dt.date(2026, 11, 1), owner_user_id=rep.user_id,
                                            currency="EUR", value="120.00"))
    with UnitOfWork(db, staff) as uow:
        plan = commissions.create_plan(uow, CommissionPlanIn(name="Reps", currency="EUR",
                                                             members=[rep.user_id, staff.user_id], rules={
            "class_rates": {"gold": "0.05", "sunrise": "0.05", "sunset": "0.05", "rest": "0.05"}}))
    with UnitOfWork(db, staff) as uow:
        out = commissions.compute_statements(uow, plan["id"], dt.date(2026, 10, 1), classes={})
    with UnitOfWork(db, staff) as uow:
        d = dealers.create_dealer(uow, DealerIn(account_id=other.id, territory="PL-west", tier="gold"))
    with UnitOfWork(db, staff) as uow:
        dealers.report_stock(uow, d["id"], DealerReportIn(month="2026-10", lines=[
            {"sku": "MUG-1", "stock_units": 9, "sell_out_units": 10}]))
    with UnitOfWork(db, staff) as uow:
        dealers.create_agreement(uow, RebateAgreementIn(dealer_id=d["id"], year=2026, currency="EUR",
                                                        steps=[{"from": "10.00", "rate": "0.02"}]))
    from merx.sales import budgets
    from merx.sales.schemas import BudgetIn
    with UnitOfWork(db, staff) as uow:
        budgets.create_budget(uow, BudgetIn(month="2026-10", currency="EUR",
                                            lines={"revenue": "100.00", "promotion": "40.00"}))
    return {"statements": {s["rep_user_id"]: s["id"] for s in out}, "rep": rep.user_id, "staff": staff.user_id}


def test_performance_pages_for_a_manager_and_a_rep(client, shop, db):
    made = _data(db, shop)
    sign_in(client, shop.users["staff"])
    page = client.get("/console/sales/performance", params={"month": "2026-10"})
    assert page.status_code == 200 and "data-chart" in page.text
    assert "90.00" in page.text and "Rep October" in page.text  # the rep's revenue, the target row
    assert "75.0%" in page.text  # 90 of 120
    assert "Budget against actuals" in page.text and "promotion is 100.0% below plan" in page.text
    assert "revenue is 30.0% above plan (130.00 against 100.00 EUR)" in page.text  # 90 + 40 from the staff's order
    com = client.get("/console/sales/commissions", params={"month": "2026-10"})
    assert com.status_code == 200 and "Compute drafts" in com.text and "data-chart" in com.text
    st = client.get(f"/console/sales/commissions/{made['statements'][made['rep']]}")
    assert st.status_code == 200 and "Approve and lock" in st.text and "MUG-1" in st.text and "4.50" in st.text
    r = client.post(f"/console/sales/commissions/{made['statements'][made['rep']]}/approve",
                    data={"csrf_token": csrf_of(st.text)}, follow_redirects=False)
    assert r.status_code == 303
    st = client.get(f"/console/sales/commissions/{made['statements'][made['rep']]}")
    assert "approved" in st.text and "Approve and lock" not in st.text
    dealers = client.get("/console/sales/dealers", params={"month": "2026-10", "year": 2026})
    assert dealers.status_code == 200 and "Staff Dealer Ltd" in dealers.text
    assert "over 0.5 of monthly sales" in dealers.text and "Bottom-3 review" in dealers.text and "data-chart" in dealers.text

    client.cookies.clear()
    sign_in(client, shop.users["sales_rep"])
    com = client.get("/console/sales/commissions", params={"month": "2026-10"})
    assert com.status_code == 200 and "Compute drafts" not in com.text
    assert client.get(f"/console/sales/commissions/{made['statements'][made['rep']]}").status_code == 200
    assert client.get(f"/console/sales/commissions/{made['statements'][made['staff']]}").status_code == 404
    assert "Staff Dealer Ltd" not in client.get("/console/sales/dealers").text  # another owner's dealer


def test_contests_page_shows_standings_and_a_manager_freezes_them(client, shop, db):
    from merx.core import accounts as users
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.sales import contests
    from merx.sales.schemas import ContestIn

    made = _data(db, shop)
    with UnitOfWork(db) as uow:
        staff = Principal(user_id=users.user_id_by_email(uow, shop.users["staff"]), role=Role.staff, name="staff")
    with UnitOfWork(db, staff) as uow:
        c = contests.create_contest(uow, ContestIn(
            name="October sprint", metric="revenue", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 11, 1),
            scope="team", members=[made["rep"]], currency="EUR",
            prizes=[{"rank": 1, "text": "Lisbon weekend", "amount": {"currency": "EUR", "amount": "250.00"}}]))
    sign_in(client, shop.users["staff"])
    page = client.get("/console/sales/contests")
    assert page.status_code == 200 and "October sprint" in page.text and "data-chart" in page.text
    assert "90.00 EUR" in page.text and "Lisbon weekend (250.00 EUR)" in page.text and "Finalise now</button>" in page.text
    r = client.post(f"/console/sales/contests/{c['id']}/finalise", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/console/sales/contests")
    assert "Finalise now</button>" not in page.text and ">final<" in page.text
    client.cookies.clear()
    sign_in(client, shop.users["sales_rep"])  # a member of the team sees it, read-only
    page = client.get("/console/sales/contests")
    assert "October sprint" in page.text and "Finalise now</button>" not in page.text
