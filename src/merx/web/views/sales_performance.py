"""Console pages of sales performance: KPIs with the leaderboard and the month's targets,
commission statements (compute, approve and lock, export), and the dealer network (stock
health, reserves, rebate accruals, the bottom-3 review). Charts are Chart.js configs drawn by
web.js; every figure comes from the sales context's public functions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Problem
from merx.sales import public as sales
from merx.web.common import PageRoute, checked_form, console_user, problem_sentence, redirect, render, unit_of_work

router = APIRouter(route_class=PageRoute)
SALES_ROLES = (Role.admin, Role.staff, Role.sales_rep)
MANAGERS = (Role.admin, Role.staff)


def _month(text: str | None) -> dt.date:
    """The month asked for (YYYY-MM), else the last full month."""
    if text and len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
        return dt.date(int(text[:4]), int(text[5:]), 1)
    first = utcnow().date().replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def _names(uow: Any, ids: Any) -> dict[int, str]:
    return users.user_names(uow, [i for i in ids if i is not None])


@router.get("/console/sales/performance")
def performance(request: Request, month: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    m = _month(month)
    with unit_of_work(request, me, readonly=True) as uow:
        report = sales.kpis(uow, m)
        goals = sales.month_attainments(uow, m)
        budgets = [sales.budget_variance(uow, b["id"]) for b in sales.list_budgets(uow, month=m)]
        names = _names(uow, [r["rep_user_id"] for r in report["reps"]] + [g["target"]["owner_user_id"] for g in goals])
    labels = [names.get(r["rep_user_id"], str(r["rep_user_id"])) for r in report["reps"]]
    chart = {"type": "bar", "data": {"labels": labels, "datasets": [
        {"label": "Revenue", "data": [float(r["revenue"]) for r in report["reps"]]},
        {"label": "Margin (known costs)", "data": [float(r["margin"]) for r in report["reps"]]}]}}
    goal_chart = {"type": "bar", "data": {
        "labels": [f'{names.get(g["target"]["owner_user_id"], "Team")} · {g["target"]["measure"]}'
                   + (f' · {g["target"]["category"]}' if g["target"]["category"] else "") for g in goals],
        "datasets": [{"label": "Attainment %", "data": [round((g["attainment"] or 0) * 100, 1) for g in goals]},
                     {"label": "Forecast %", "data": [round(float(Decimal(g["forecast"]) / Decimal(g["target"]["value"]))
                                                           * 100, 1) if Decimal(g["target"]["value"]) else 0
                                                     for g in goals]}]},
        "options": {"indexAxis": "y"}}
    budget_charts = [{"type": "bar", "data": {"labels": [r["line"].replace("_", " ") for r in b["rows"]], "datasets": [
        {"label": "Plan", "data": [float(r["plan"]) for r in b["rows"]]},
        {"label": "Actual", "data": [float(r["actual"]) for r in b["rows"]]}]}} for b in budgets]
    return render(request, "console/sales_performance.html", {
        "report": report, "goals": goals, "names": names, "month": m.strftime("%Y-%m"), "chart": chart,
        "goal_chart": goal_chart, "budgets": list(zip(budgets, budget_charts))}, principal=me)


@router.get("/console/sales/commissions")
def commissions_page(request: Request, month: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    m = _month(month)
    with unit_of_work(request, me, readonly=True) as uow:
        statements = sales.list_statements(uow, month=m)
        plans = sales.list_plans(uow)
        names = _names(uow, [s["rep_user_id"] for s in statements])
    chart = {"type": "bar", "data": {"labels": [names.get(s["rep_user_id"], str(s["rep_user_id"])) for s in statements],
                                     "datasets": [{"label": "Commission", "data": [float(s["total"]["amount"])
                                                                                   for s in statements]}]}}
    return render(request, "console/sales_commissions.html", {
        "statements": statements, "plans": plans, "names": names, "month": m.strftime("%Y-%m"), "chart": chart,
        "manager": me.role in MANAGERS}, principal=me)


@router.get("/console/sales/commissions/{statement_id}")
def statement_page(request: Request, statement_id: int) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        st = sales.get_statement(uow, statement_id)
        names = _names(uow, [st["rep_user_id"]])
    by_kind = st["summary"].get("by_kind", {})
    chart = {"type": "bar", "data": {"labels": list(by_kind), "datasets": [
        {"label": "Amount", "data": [float(v) for v in by_kind.values()]}]}}
    return render(request, "console/sales_statement.html", {"st": st, "names": names, "chart": chart,
                                                            "manager": me.role in MANAGERS}, principal=me)


@router.post("/console/sales/commissions/compute")
async def compute(request: Request) -> Response:
    form = await checked_form(request)
    me = console_user(request, *MANAGERS)
    m = _month(str(form.get("month", "")))

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return sales.compute_statements(uow, int(str(form.get("plan_id", "0")) or 0), m)
    try:
        out = await run_in_threadpool(run)
    except Problem as p:
        return redirect(f"/console/sales/commissions?month={m:%Y-%m}", flash=problem_sentence(p))
    return redirect(f"/console/sales/commissions?month={m:%Y-%m}", flash=f"{len(out)} statements computed")


@router.post("/console/sales/commissions/{statement_id}/approve")
async def approve(request: Request, statement_id: int) -> Response:
    await checked_form(request)
    me = console_user(request, *MANAGERS)

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return sales.approve_statement(uow, statement_id)
    try:
        st = await run_in_threadpool(run)
    except Problem as p:
        return redirect(f"/console/sales/commissions/{statement_id}", flash=problem_sentence(p))
    return redirect(f"/console/sales/commissions/{statement_id}", flash=f"Statement approved and locked ({st['month']})")


@router.get("/console/sales/dealers")
def dealers_page(request: Request, month: str | None = None, year: int | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    m = _month(month)
    y = year or m.year
    with unit_of_work(request, me, readonly=True) as uow:
        dealers = sales.list_dealers(uow)
        health = {d["id"]: sales.stock_health(uow, d["id"], m) for d in dealers}
        reserves = sales.reserves(uow)
        rebates = [sales.rebate_accrual(uow, a["id"]) for a in sales.list_rebates(uow) if a["year"] == y]
        review_dealers = sales.profit_contributors(uow, y, uow.settings.default_currency, by="dealer")
        review_customers = sales.profit_contributors(uow, y, uow.settings.default_currency, by="customer")
        card = sales.dealer_scorecard(uow, y, uow.settings.default_currency)
    names = {d["id"]: d["name"] for d in dealers}
    rebate_chart = {"type": "line", "data": {"labels": [f"{y}-{i:02d}" for i in range(1, 13)], "datasets": [
        {"label": names.get(r["dealer_id"], str(r["dealer_id"])),
         "data": [float(mm["earned_to_date"]) for mm in r["months"]]} for r in rebates]}}
    stock_chart = {"type": "bar", "data": {"labels": [names[i] for i in health if health[i]["reported"]], "datasets": [
        {"label": "Stock / month's sell-out", "data": [float(h["stock_share"] or 0) for h in health.values()
                                                       if h["reported"]]}]}}
    return render(request, "console/sales_dealers.html", {
        "dealers": dealers, "health": health, "reserves": reserves, "rebates": rebates, "names": names,
        "month": m.strftime("%Y-%m"), "year": y, "review_dealers": review_dealers,
        "review_customers": review_customers, "card": card, "rebate_chart": rebate_chart, "stock_chart": stock_chart}, principal=me)


@router.get("/console/sales/contests")
def contests_page(request: Request) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        items = [sales.get_contest(uow, c["id"]) for c in sales.list_contests(uow)]
    charts = [{"type": "bar", "data": {"labels": [s["name"] or str(s["rep_user_id"]) for s in c["standings"]], "datasets": [
        {"label": c["metric"].replace("_", " "), "data": [float(s["value"] or 0) for s in c["standings"]]}]},
        "options": {"indexAxis": "y"}} for c in items]
    return render(request, "console/sales_contests.html", {"contests": list(zip(items, charts)),
                                                           "manager": me.role in MANAGERS}, principal=me)


@router.post("/console/sales/contests/{contest_id}/finalise")
async def finalise_contest(request: Request, contest_id: int) -> Response:
    await checked_form(request)
    me = console_user(request, *MANAGERS)

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return sales.finalise_contest(uow, contest_id)
    try:
        c = await run_in_threadpool(run)
    except Problem as p:
        return redirect("/console/sales/contests", flash=problem_sentence(p))
    return redirect("/console/sales/contests", flash=f"{c['name']}: standings frozen")
