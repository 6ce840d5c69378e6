"""Routes of sales performance under /sales: targets, commission plans and statements, KPIs,
dealers and rebates. Reps see their own targets, statements and dealers (404 for others');
staff and admins manage the team's."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from merx.core.auth import Principal, Role
from merx.core.errors import ValidationProblem
from merx.core.money import MoneyError, check_currency
from merx.core.pagination import check_limit
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_uow, require
from merx.sales import budgets, commissions, contests, dealers, kpis, targets
from merx.sales.schemas import (AdjustmentIn, BudgetIn, CommissionPlanIn, ContestIn, ExpenseIn, ComputeStatementsIn, DealerIn, DealerPatch,
                                DealerReportIn, DecomposeIn, RebateAgreementIn, SlowMoverReturnIn, TargetIn)
from merx.sales.scope import MANAGERS, SALES_ROLES

router = APIRouter(prefix="/sales", tags=["sales performance"])
SALES = require(*SALES_ROLES)
MANAGER = require(*MANAGERS)
DEALER_OR_SALES = require(*SALES_ROLES, Role.dealer)  # a dealer user sees only its own dealer


def _month(text: str | None, field: str = "month") -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date(int(text[:4]), int(text[5:7]), 1) if len(text) == 7 and text[4] == "-" else _bad(field)
    except ValueError:
        return _bad(field)


def _bad(field: str) -> Any:
    raise ValidationProblem.for_field(field, "must be a month as YYYY-MM")


# -- targets ---------------------------------------------------------------------------------------------

@router.post("/targets", status_code=201)
def create_target(body: TargetIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return targets.create_target(uow, body)


@router.post("/targets/decompose", status_code=201)
def decompose(body: DecomposeIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """An annual target split into month x rep x category parts (seasonality or by hand; parts add up)."""
    return targets.decompose(uow, body)


@router.get("/targets")
def list_targets(year: int | None = Query(None, ge=1900, le=2200), owner_user_id: int | None = None, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(SALES)) -> dict:
    return {"items": targets.list_targets(uow, year=year, owner_user_id=owner_user_id), "next_cursor": None}


@router.get("/targets/{target_id}")
def get_target(target_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return targets.get_target(uow, target_id)


@router.get("/targets/{target_id}/attainment")
def attainment(target_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """Actual, attainment and the run-rate forecast, live from orders, returns and activities."""
    return targets.attainment(uow, target_id)


# -- commissions ------------------------------------------------------------------------------------------

@router.post("/commission-plans", status_code=201)
def create_plan(body: CommissionPlanIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return commissions.create_plan(uow, body)


@router.get("/commission-plans")
def list_plans(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return {"items": commissions.list_plans(uow), "next_cursor": None}


@router.get("/commission-plans/{plan_id}")
def get_plan(plan_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return commissions.get_plan(uow, plan_id)


@router.post("/commission-statements/compute")
def compute(body: ComputeStatementsIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """(Re)compute the month's draft statements of the plan's members; approved ones stay locked."""
    return {"items": commissions.compute_statements(uow, body.plan_id, _month(body.month))}


@router.get("/commission-statements")
def list_statements(month: str | None = None, plan_id: int | None = None, rep_user_id: int | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return {"items": commissions.list_statements(uow, month=_month(month), plan_id=plan_id, rep_user_id=rep_user_id),
            "next_cursor": None}


@router.get("/commission-statements/{statement_id}")
def get_statement(statement_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return commissions.get_statement(uow, statement_id)


@router.post("/commission-statements/{statement_id}/approve")
def approve(statement_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """Approve and lock (emits commission_statement.approved for payroll)."""
    return commissions.approve(uow, statement_id)


@router.post("/commission-statements/{statement_id}/adjustments", status_code=201)
def adjust(statement_id: DbId, body: AdjustmentIn, uow: UnitOfWork = Depends(get_uow),
           _: Principal = Depends(MANAGER)) -> dict:
    """A correction of a locked statement, paid in the rep's next open month."""
    return commissions.adjust(uow, statement_id, body.amount, body.reason)


@router.get("/commission-statements/{statement_id}/export")
def export(statement_id: DbId, format: Literal["csv", "xlsx"] = "csv", uow: UnitOfWork = Depends(get_read_uow),
           _: Principal = Depends(SALES)) -> Response:
    body, media = commissions.export(uow, statement_id, format)
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="commission-statement-{statement_id}.{format}"'})


# -- KPIs --------------------------------------------------------------------------------------------------

@router.get("/kpis")
def get_kpis(month: str | None = None, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """Per rep: revenue, margin, new accounts, visits, quote-to-win, average deal size, DSO,
    collection rate, commission; the leaderboard by revenue."""
    return kpis.kpis(uow, _month(month) or dt.date.today().replace(day=1))


# -- dealers and rebates -------------------------------------------------------------------------------------

@router.post("/dealers", status_code=201)
def create_dealer(body: DealerIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return dealers.create_dealer(uow, body)


@router.get("/dealers")
def list_dealers(territory: str | None = None, status: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    return {"items": dealers.list_dealers(uow, territory=territory, status=status), "next_cursor": None}


@router.get("/dealers/overstocked")
def overstocked(month: str, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """Dealers whose reported stock exceeds their share (default 50%) of the month's sell-out."""
    return {"items": dealers.overstocked(uow, _month(month))}


@router.get("/dealers/reserves")
def reserves(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return dealers.reserves(uow)


@router.get("/dealers/scorecard")
def scorecard(year: int = Query(..., ge=1900, le=2200), currency: str = "EUR", uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(SALES)) -> dict:
    """Active dealers scored on volume, growth, margin, payment and stock health; the bottom 3 marked."""
    try:
        check_currency(currency)
    except MoneyError as e:
        raise ValidationProblem.for_field("currency", str(e)) from None
    return dealers.scorecard(uow, year, currency)


@router.get("/dealers/{dealer_id}")
def get_dealer(dealer_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    return dealers.get_dealer(uow, dealer_id)


@router.get("/dealers/{dealer_id}/orders")
def dealer_orders(dealer_id: DbId, status: str | None = None, limit: int | None = Query(None), cursor: str | None = None,
                  uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    """The dealer account's orders, newest first. A dealer user sees only its own dealer's (and
    reads each one at `GET /orders/{id}`); another dealer's is 404."""
    items, nxt = dealers.dealer_orders(uow, dealer_id, status=status, limit=check_limit(limit, 50, 200), cursor=cursor)
    return {"items": items, "next_cursor": nxt}


@router.patch("/dealers/{dealer_id}")
def update_dealer(dealer_id: DbId, body: DealerPatch, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(MANAGER)) -> dict:
    return dealers.update_dealer(uow, dealer_id, body)


@router.post("/dealers/{dealer_id}/reports")
def report_stock(dealer_id: DbId, body: DealerReportIn, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    """The dealer's stock and sell-out per SKU for a month; answers the month's stock health."""
    return dealers.report_stock(uow, dealer_id, body)


@router.post("/dealers/{dealer_id}/slow-mover-returns")
def slow_mover_returns(dealer_id: DbId, body: SlowMoverReturnIn, uow: UnitOfWork = Depends(get_read_uow),
                       _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    """Which slow movers the dealer may return or exchange under the policy (share of purchases, age)."""
    return dealers.slow_mover_returns(uow, dealer_id, body)


@router.post("/rebates", status_code=201)
def create_rebate(body: RebateAgreementIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return dealers.create_agreement(uow, body)


@router.get("/rebates")
def list_rebates(dealer_id: int | None = None, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    return {"items": dealers.list_agreements(uow, dealer_id=dealer_id), "next_cursor": None}


@router.get("/rebates/{agreement_id}/accrual")
def rebate_accrual(agreement_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(DEALER_OR_SALES)) -> dict:
    return dealers.accrual(uow, agreement_id)


@router.post("/rebates/{agreement_id}/settle")
def settle(agreement_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """Settle a finished year once: the credit granted is recorded with its reference."""
    return dealers.settle(uow, agreement_id)


@router.get("/reviews/bottom-3")
def bottom_three(year: int = Query(..., ge=1900, le=2200), by: Literal["dealer", "customer"] = "customer", currency: str = "EUR",
                 uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """The year's profit-contribution review of dealers or customer accounts: the three lowest named."""
    return kpis.profit_contributors(uow, year, currency, by=by)


# -- budgets ----------------------------------------------------------------------------------------------

@router.post("/budgets", status_code=201)
def create_budget(body: BudgetIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return budgets.create_budget(uow, body)


@router.get("/budgets")
def list_budgets(month: str | None = None, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return {"items": budgets.list_budgets(uow, month=_month(month)), "next_cursor": None}


@router.get("/budgets/{budget_id}/variance")
def budget_variance(budget_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """Plan against actual per line, with an alert for each line past the budget's threshold."""
    return budgets.variance(uow, budget_id)


@router.post("/expenses", status_code=201)
def record_expense(body: ExpenseIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    return budgets.record_expense(uow, body)


# -- contests ---------------------------------------------------------------------------------------------

@router.post("/contests", status_code=201)
def create_contest(body: ContestIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """A contest on one KPI over a period, for all reps or a team, with prizes per rank."""
    return contests.create_contest(uow, body)


@router.get("/contests")
def list_contests(status: Literal["upcoming", "running", "ended", "final"] | None = None,
                  uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    return {"items": contests.list_contests(uow, status=status), "next_cursor": None}


@router.get("/contests/{contest_id}")
def get_contest(contest_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> dict:
    """The contest with its standings: live while it runs, frozen with the winners once final."""
    return contests.get_contest(uow, contest_id)


@router.post("/contests/{contest_id}/finalise")
def finalise_contest(contest_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> dict:
    """Freeze an ended contest's standings and winners now (the daily job does it too; idempotent)."""
    return contests.finalise(uow, contest_id)
