"""Console marketing pages: campaign report (sent, delivered, opened, clicked, unsubscribed,
revenue by first and last touch, chart) with a calendar of campaigns, revenue per source,
journeys with each person's position, the message log, templates (edit, preview with a real
profile), QR codes and giveaways."""

from __future__ import annotations

import base64
from collections import defaultdict
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.marketing import public as marketing
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none

router = APIRouter(route_class=PageRoute)
ROLES = (Role.admin, Role.staff, Role.marketer)


def _revenue(entry: dict[str, Any]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in entry["revenue"]), Decimal(0))


@router.get("/console/marketing")
def campaigns_page(request: Request) -> Response:
    me = console_user(request, *ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        report = marketing.campaign_report(uow)
        sources = marketing.source_report(uow)
        giveaways = marketing.list_giveaways(uow)
    shown = report[:12]
    spec = {"type": "bar", "data": {"labels": [r["name"] for r in shown], "datasets": [
        {"label": "Revenue, last touch", "data": [float(_revenue(r["last_touch"])) for r in shown]},
        {"label": "Revenue, first touch", "data": [float(_revenue(r["first_touch"])) for r in shown]}]},
        "options": {"indexAxis": "y"}}
    calendar: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in report:
        if r["started_at"]:
            calendar[r["started_at"].date().isoformat()].append(r)
    return render(request, "console/marketing.html", {
        "report": report, "sources": sources, "spec": spec, "giveaways": giveaways,
        "calendar": sorted(calendar.items(), reverse=True)[:30]}, principal=me)


@router.get("/console/marketing/journeys")
def journeys_page(request: Request, journey: int | None = Query(None, ge=1), state: str | None = Query(None, max_length=16),
                  cursor: str | None = Query(None, max_length=200)) -> Response:
    me = console_user(request, *ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        journeys = marketing.list_journeys(uow)
        chosen = next((j for j in journeys if j.id == journey), journeys[0] if journeys else None)
        page = marketing.enrolments(uow, chosen.id, state=state, customer_id=None, limit=50, cursor=cursor) if chosen else None
    return render(request, "console/marketing_journeys.html", {"journeys": journeys, "chosen": chosen, "page": page,
                                                               "state": state}, principal=me)


@router.get("/console/marketing/messages")
def messages_page(request: Request, status: str | None = Query(None, max_length=16),
                  campaign: int | None = Query(None, ge=1), cursor: str | None = Query(None, max_length=200)) -> Response:
    me = console_user(request, *ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        page = marketing.list_messages(uow, status=status or None, customer_id=None, campaign_id=campaign, kind=None,
                                       limit=50, cursor=cursor)
    return render(request, "console/marketing_messages.html", {"page": page, "status": status, "campaign": campaign},
                  principal=me)


@router.get("/console/marketing/messages/{message_id}")
def message_page(request: Request, message_id: int) -> Response:
    me = console_user(request, *ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        message = marketing.get_message(uow, message_id)
        recipient = None
        if message.get("customer_id") is not None:
            try:
                recipient = marketing.recipient_out(uow, message["customer_id"])
            except Problem:  # erased or merged since
                recipient = None
    return render(request, "console/marketing_message.html", {"m": message, "recipient": recipient}, principal=me)


@router.get("/console/marketing/templates")
def templates_page(request: Request, key: str | None = Query(None, max_length=64),
                   locale: str = Query("en", max_length=8), customer: str | None = Query(None, max_length=20)) -> Response:
    me = console_user(request, *ROLES)
    preview, error = None, None
    with unit_of_work(request, me, readonly=True) as uow:
        templates = marketing.list_templates(uow)
        current = marketing.get_template(uow, key, locale) if key else None
        if key:
            try:
                preview = marketing.preview(uow, key, locale, int_or_none(customer))
            except Problem as e:
                error = problem_sentence(e)
    return render(request, "console/marketing_templates.html", {
        "templates": templates, "current": current, "preview": preview, "error": error, "locale": locale,
        "customer": customer or "", "locales": request.app.state.settings.locales}, principal=me)


@router.post("/console/marketing/templates")
def save_template(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ROLES)
    key, locale = str(form.get("key", "")), str(form.get("locale", "en"))
    try:
        with unit_of_work(request, me) as uow:
            marketing.save_template(uow, key, locale, subject=str(form.get("subject", "")),
                                    body_text=str(form.get("body_text", "")), body_html=text_or_none(form.get("body_html")))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(f"/console/marketing/templates?key={key}&locale={locale}", flash=f"Not saved: {problem_sentence(e)}")
    return redirect(f"/console/marketing/templates?key={key}&locale={locale}", flash="Template saved.")


@router.get("/console/marketing/qr-codes")
def qr_page(request: Request, cursor: str | None = Query(None, max_length=200)) -> Response:
    me = console_user(request, *ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        page = marketing.list_qr(uow, limit=24, cursor=cursor)
        images = {q.id: "data:image/svg+xml;base64," + base64.b64encode(
            marketing.qr_image(marketing.get_qr(uow, q.id), "svg", 3)[0]).decode() for q in page.items}
    return render(request, "console/marketing_qr.html", {"page": page, "images": images}, principal=me)
