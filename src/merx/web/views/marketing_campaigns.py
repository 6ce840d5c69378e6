"""Console campaigns (issue #20): the list (search by name, filter by status, paged), a new
campaign (segment, channel, template, optional A/B test), and a campaign's page to edit the
draft, start it now or at a time, pick an A/B test's winner, or cancel it; and switching a journey on or off. Admin,
staff and marketers, as the marketing API. A refused form comes back as the same page with
the message beside the field (422)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Problem
from merx.crm import public as crm
from merx.marketing import public as marketing
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.listing import list_query
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
ROLES = (Role.admin, Role.staff, Role.marketer)
STATUSES = ("draft", "scheduled", "testing", "sending", "sent", "cancelled")


def _refused(e: Exception) -> bool:
    return isinstance(e, ValidationError) or (isinstance(e, Problem) and e.status < 500 and e.status != 404)


def _choices(uow: Any) -> dict[str, Any]:
    return {"segments": [{"id": s.id, "name": s.name, "members": s.member_count} for s in crm.list_segments(uow)],
            "templates": [t["key"] for t in marketing.list_templates(uow)], "channels": marketing.CAMPAIGN_CHANNELS}


def _fields(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The form as the use case's fields; the A/B share is typed in percent (0 to 50)."""
    share_text = values.get("ab_percent", "").strip() or "0"
    try:
        share = Decimal(share_text) / 100
    except InvalidOperation:
        errors["ab_percent"] = "Give the A/B test's share in percent, 0 to 50."
        share = Decimal(0)
    template_b = text_or_none(values.get("template_b"))
    segment = int_or_none(values.get("segment_id"))
    if segment is None:
        errors["segment_id"] = "Choose the segment the campaign goes to."
    return {"name": values.get("name", "").strip(), "segment_id": segment or 0,
            "template": values.get("template", "").strip(), "channel": values.get("channel") or "email",
            "template_b": template_b, "ab_test_fraction": float(share)}


def _ab_error(errors: dict[str, str]) -> dict[str, str]:
    if "ab_test_fraction" in errors:
        errors["ab_percent"] = errors.pop("ab_test_fraction")
    return errors


# -- the list ------------------------------------------------------------------------------------

def _list_page(request: Request, me: Any, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    lq = list_query(request, "status", path="/console/marketing/campaigns")
    wanted = lq.filters.get("status") if lq.filters.get("status") in STATUSES else None
    with unit_of_work(request, me, readonly=True) as uow:
        page = marketing.list_campaigns(uow, status=wanted, limit=50, cursor=lq.cursor, q=lq.q or None)
        choices = _choices(uow)
    names = {s["id"]: s["name"] for s in choices["segments"]}
    return render(request, "console/marketing_campaigns.html", {
        "page": page, "lq": lq, "statuses": STATUSES, "segment_names": names, **choices,
        "values": values or {}, "errors": errors or {}}, status=status, principal=me)


@router.get("/console/marketing/campaigns")
def campaigns_list(request: Request) -> Response:
    return _list_page(request, console_user(request, *ROLES))


@router.post("/console/marketing/campaigns")
def create_campaign(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    fields = _fields(values, errors)
    if not fields["name"]:
        errors["name"] = "Give the campaign a name."
    if not errors:
        try:
            with unit_of_work(request, me) as uow:
                made = marketing.create_campaign(uow, **fields)
                made_id = made.id
        except (ValidationError, Problem) as e:
            if not _refused(e):
                raise
            errors = _ab_error(field_errors(e))
    if errors:
        return _list_page(request, me, values=values, errors=errors, status=422)
    return redirect(f"/console/marketing/campaigns/{made_id}", flash="Campaign saved as a draft.")


# -- one campaign -----------------------------------------------------------------------------------

def _campaign_page(request: Request, me: Any, campaign_id: int, *, values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        c = marketing.get_campaign(uow, campaign_id)
        choices = _choices(uow)
    shown = {"name": c.name, "segment_id": str(c.segment_id), "template": c.template, "channel": c.channel,
             "template_b": c.template_b or "", "ab_percent": format(Decimal(str(c.ab_test_fraction)) * 100, "f")}
    return render(request, "console/marketing_campaign.html", {
        "c": c, **choices, "values": shown | (values or {}), "errors": errors or {},
        "segment_names": {s["id"]: s["name"] for s in choices["segments"]}}, status=status, principal=me)


@router.get("/console/marketing/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: int) -> Response:
    return _campaign_page(request, console_user(request, *ROLES), campaign_id)


def _campaign_write(request: Request, campaign_id: int, values: dict[str, str], run: Any, done: str,
                    errors: dict[str, str] | None = None) -> Response:
    me = console_user(request, *ROLES)
    errors = dict(errors or {})
    if not errors:
        try:
            with unit_of_work(request, me) as uow:
                run(uow)
        except (ValidationError, Problem) as e:
            if not _refused(e):
                raise
            errors = _ab_error(field_errors(e))
    if errors:
        return _campaign_page(request, me, campaign_id, values=values, errors=errors, status=422)
    return redirect(f"/console/marketing/campaigns/{campaign_id}", flash=done)


@router.post("/console/marketing/campaigns/{campaign_id}")
def save_campaign(request: Request, campaign_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    fields = _fields(values, errors)
    if not fields["name"]:
        errors["name"] = "Give the campaign a name."
    return _campaign_write(request, campaign_id, values,
                           lambda uow: marketing.update_campaign(uow, campaign_id, fields), "Draft saved.", errors)


@router.post("/console/marketing/campaigns/{campaign_id}/start")
def start_campaign(request: Request, campaign_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Now, or at the time given (read as UTC, as the label says)."""
    text = str(form.get("at", "")).strip()
    at, errors = None, {}
    if text:
        try:
            at = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        except ValueError:
            errors["start.at"] = "Give a date and time, or leave it blank to start now."
        else:
            if at <= utcnow():
                errors["start.at"] = "That time has passed: leave it blank to start now."
    done = f"Campaign scheduled for {at:%Y-%m-%d %H:%M} UTC." if at else "Campaign started: messages go out in batches."
    return _campaign_write(request, campaign_id, {"start.at": text},
                           lambda uow: marketing.schedule_campaign(uow, campaign_id, at, utcnow()), done, errors)


@router.post("/console/marketing/campaigns/{campaign_id}/cancel")
def cancel_campaign(request: Request, campaign_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _campaign_write(request, campaign_id, {}, lambda uow: marketing.cancel_campaign(uow, campaign_id),
                           "Campaign cancelled; messages not yet sent are dropped.")


@router.post("/console/marketing/campaigns/{campaign_id}/pick-winner")
def pick_winner(request: Request, campaign_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The A/B test's significance test on click rates now; a significant winner goes to the rest
    of the segment. While the difference is not significant the page says so (and keeps testing)."""
    return _campaign_write(request, campaign_id, {}, lambda uow: marketing.pick_campaign_winner(uow, campaign_id),
                           "Winner picked: the rest of the segment gets it.")


# -- journeys on / off ------------------------------------------------------------------------------

@router.post("/console/marketing/journeys/{journey_id}/active")
def journey_active(request: Request, journey_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Switch a journey on (new triggers enrol people) or off (no one new is enrolled)."""
    me = console_user(request, *ROLES)
    active = form.get("active") == "on"
    with unit_of_work(request, me) as uow:
        j = marketing.set_journey_active(uow, journey_id, active)
        name = j.name
    return redirect(f"/console/marketing/journeys?journey={journey_id}",
                    flash=f"Journey {name} is {'on: new triggers enrol people' if active else 'off: no one new is enrolled'}.")
