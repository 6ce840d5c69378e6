"""A deal's own page (`/console/sales/deals/{id}`) and a lead's (`/console/sales/leads/{id}`).

The deal page edits what `PATCH /api/v1/deals/{id}` edits (title, amount in the deal's currency,
expected close, stage, owner) as the signed-in user, so the sales rules are the API's: a rep
sees and edits only their own deals (another's is a 404) and cannot give one away; a stage
change follows the pipeline's moves; a deal changed by someone else since the page was drawn is
refused (the version check). The lead page shows where a lead came from, why it scored as it
did and who has it, and converts it into an account and a deal. Refusals come back beside the
field (422)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.sales import public as sales
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
SALES_ROLES = (Role.admin, Role.staff, Role.sales_rep)
MANAGERS = (Role.admin, Role.staff)


def _account_name(uow: Any, account_id: int) -> str | None:
    """The account's name when the caller may open it (a rep may own a deal on a colleague's account)."""
    try:
        return sales.get_account(uow, account_id).name
    except NotFound:
        return None


def _deal_page(request: Request, me: Any, deal_id: int, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        deal = sales.get_deal(uow, deal_id)
        account_name = _account_name(uow, deal.account_id)
        stages = sales.stages_out(uow)
        activities = sales.list_activities(uow, deal_id=deal_id, limit=50).items
        owners = users.active_users(uow, *SALES_ROLES) if me.role in MANAGERS else []
        names = users.user_names(uow, [deal.owner_user_id, *(a.owner_user_id for a in activities)])
    shown = values if values is not None else {
        "title": deal.title, "amount": deal.amount.amount, "expected_close": str(deal.expected_close or ""),
        "stage": deal.stage, "owner_user_id": str(deal.owner_user_id), "version": str(deal.version)}
    return render(request, "console/sales_deal.html", {
        "deal": deal, "account_name": account_name, "stages": stages, "activities": activities, "owners": owners,
        "names": names, "values": shown, "errors": errors or {}, "can_reassign": me.role in MANAGERS},
        status=status, principal=me)


@router.get("/console/sales/deals/{deal_id}")
def deal_page(request: Request, deal_id: int) -> Response:
    return _deal_page(request, console_user(request, *SALES_ROLES), deal_id)


@router.post("/console/sales/deals/{deal_id}")
def edit_deal(request: Request, deal_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SALES_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with unit_of_work(request, me) as uow:
            current = sales.get_deal(uow, deal_id)
            amount = text_or_none(values.get("amount"))
            data: dict[str, Any] = {
                "title": values.get("title", "").strip(), "stage": text_or_none(values.get("stage")),
                "lost_reason": text_or_none(values.get("lost_reason")),
                "expected_close": text_or_none(values.get("expected_close")),
                "amount": {"amount": amount.replace(",", "."), "currency": current.amount.currency} if amount else None,
                "version": int_or_none(values.get("version"))}
            if me.role in MANAGERS and text_or_none(values.get("owner_user_id")):
                data["owner_user_id"] = values["owner_user_id"]
            if data["amount"] is None:
                data.pop("amount")
            saved = sales.update_deal(uow, deal_id, sales.DealPatch.model_validate(data))
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        return _deal_page(request, me, deal_id, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/sales/deals/{deal_id}", flash=f"Deal {saved.title} saved ({saved.stage.replace('_', ' ')}).")


# -- a lead ------------------------------------------------------------------------------------------


def _lead_page(request: Request, me: Any, lead_id: int, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        lead = sales.get_lead(uow, lead_id)
        names = users.user_names(uow, [lead.owner_user_id] if lead.owner_user_id else [])
        account_name = _account_name(uow, lead.account_id) if lead.account_id else None
    return render(request, "console/sales_lead.html", {
        "lead": lead, "names": names, "account_name": account_name, "values": values or {}, "errors": errors or {},
        "currency": request.app.state.settings.default_currency}, status=status, principal=me)


@router.get("/console/sales/leads/{lead_id}")
def lead_page(request: Request, lead_id: int) -> Response:
    return _lead_page(request, console_user(request, *SALES_ROLES), lead_id)


@router.post("/console/sales/leads/{lead_id}")
def convert_from_lead_page(request: Request, lead_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Convert the lead into an account (made from it) and a deal, from its own page."""
    me = console_user(request, *SALES_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    amount = text_or_none(values.get("amount"))
    try:
        with unit_of_work(request, me) as uow:
            currency = text_or_none(values.get("currency")) or uow.settings.default_currency
            done = sales.convert_lead(uow, lead_id, sales.ConvertLead(
                title=text_or_none(values.get("title")), expected_close=text_or_none(values.get("expected_close")),
                amount={"currency": currency, "amount": amount.replace(",", ".")} if amount else None))
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        return _lead_page(request, me, lead_id, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/sales/deals/{done['deal'].id}", flash=f"Lead converted: deal {done['deal'].title}.")
