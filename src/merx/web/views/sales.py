"""Console pages of the sales context: the pipeline kanban (drag a card to another stage: plain
JavaScript posts the move, the server checks it), accounts (the account page and its forms are in
sales_account.py), leads (with the CSV/XLSX import and convert-to-account+deal), quotes (approve, send: the
buyer's link is shown once), contracts with their risk reasons; and the buyer's quote page
(`/quote/{token}`: no login, the link is the credential)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.sales import public as sales
from merx.web.common import (PageRoute, checked_form, console_user, csrf_form, problem_sentence, redirect, render,
                             unit_of_work)
from merx.web.views.helpers import int_or_none, text_or_none

router = APIRouter(route_class=PageRoute)
SALES_ROLES = (Role.admin, Role.staff, Role.sales_rep)
MANAGERS = (Role.admin, Role.staff)


def _names(uow: Any, ids: set[int | None]) -> dict[int, str]:
    return users.user_names(uow, [i for i in ids if i is not None])


@router.get("/console/sales")
def pipeline(request: Request) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        stages = sales.stages_out(uow)
        deals: list[Any] = []
        cursor = None
        while True:  # the kanban shows every deal the caller sees (a team's pipeline is hundreds)
            page = sales.list_deals(uow, limit=500, cursor=cursor)
            deals.extend(page.items)
            cursor = page.next_cursor
            if cursor is None or len(deals) >= 5000:
                break
        report = sales.pipeline_report(uow)
        overdue = sales.overdue_by_owner(uow)
        accounts = {a.id: a.name for a in _all_accounts(uow)}
        names = _names(uow, {d.owner_user_id for d in deals} | set(overdue))
    columns = [{"stage": s, "deals": [d for d in deals if d.stage == s.code]} for s in stages]
    return render(request, "console/sales_pipeline.html", {
        "columns": columns, "report": report, "accounts": accounts, "names": names,
        "overdue": sorted(overdue.items(), key=lambda kv: -kv[1]),
        "chart": {"type": "bar", "data": {"labels": [f.month for f in report.forecast], "datasets": [
            {"label": "Pipeline", "data": [float(f.pipeline) for f in report.forecast]},
            {"label": "Weighted", "data": [float(f.weighted) for f in report.forecast]}]}}}, principal=me)


def _all_accounts(uow: Any) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        page = sales.list_accounts(uow, limit=200, cursor=cursor)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or len(out) >= 5000:
            return out


@router.post("/console/sales/deals/{deal_id}/move")
async def move_deal(request: Request, deal_id: int) -> Response:
    """The kanban's drop (fetch, JSON answer) or a plain form post (redirect with a message)."""
    form = await checked_form(request)
    me = console_user(request, *SALES_ROLES)
    wants_json = "application/json" in request.headers.get("accept", "")

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return sales.move_deal(uow, deal_id, sales.DealMove(stage=str(form.get("stage", "")),
                                                                lost_reason=text_or_none(form.get("lost_reason")),
                                                                version=int_or_none(form.get("version"))))

    try:
        deal = await run_in_threadpool(run)
    except Problem as e:
        if e.status >= 500:
            raise
        if wants_json:
            return JSONResponse({"ok": False, "message": problem_sentence(e)}, status_code=e.status)
        return redirect("/console/sales", flash=f"Not moved: {problem_sentence(e)}")
    if wants_json:
        return JSONResponse({"ok": True, "stage": deal.stage, "version": deal.version})
    return redirect("/console/sales", flash=f"Deal moved to {deal.stage.replace('_', ' ')}.")


@router.get("/console/sales/accounts")
def account_list(request: Request, q: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        page = sales.list_accounts(uow, q=text_or_none(q), limit=50, cursor=cursor)
        names = _names(uow, {a.owner_user_id for a in page.items})
    return render(request, "console/sales_accounts.html", {"page": page, "names": names, "q": q or ""}, principal=me)


@router.get("/console/sales/leads")
def lead_list(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    return _lead_page(request, me, status, cursor)


def _lead_page(request: Request, me: Any, status: str | None, cursor: str | None, *,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               code: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        page = sales.list_leads(uow, status=text_or_none(status), limit=50, cursor=cursor)
        names = _names(uow, {x.owner_user_id for x in page.items})
    return render(request, "console/sales_leads.html", {"page": page, "names": names, "status": status or "",
                                                        "errors": errors or {}, "values": values or {}},
                  status=code, principal=me)


@router.post("/console/sales/leads/{lead_id}/convert")
def lead_convert(request: Request, lead_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The lead becomes an account (made from the lead) and a deal; the deal's title and amount
    are optional (the use case names the deal after the lead, amount 0 in the account's currency)."""
    from pydantic import ValidationError

    from merx.web.views.sales_account import field_errors

    me = console_user(request, *SALES_ROLES)
    prefix = f"lead{lead_id}."
    amount = text_or_none(form.get("amount"))
    try:
        with unit_of_work(request, me) as uow:
            currency = text_or_none(form.get("currency")) or uow.settings.default_currency
            data = sales.ConvertLead(title=text_or_none(form.get("title")),
                                     expected_close=text_or_none(form.get("expected_close")),
                                     amount={"currency": currency, "amount": amount} if amount else None)
            done = sales.convert_lead(uow, lead_id, data)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        values = {prefix + k: v for k, v in form.items() if isinstance(v, str)}
        return _lead_page(request, me, None, None, errors=field_errors(e, prefix), values=values, code=422)
    return redirect(f"/console/sales/accounts/{done['account_id']}",
                    flash=f"Lead converted: deal {done['deal'].title} on this account.")


@router.post("/console/sales/leads/import")
async def lead_import(request: Request) -> Response:
    form = await checked_form(request)
    me = console_user(request, *SALES_ROLES)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return redirect("/console/sales/leads", flash="Choose a CSV or XLSX file to import.")
    raw = await upload.read()

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return sales.import_leads(uow, upload.filename, raw, source=str(form.get("source") or "import"),
                                      campaign=text_or_none(form.get("campaign")))

    try:
        report = await run_in_threadpool(run)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/sales/leads", flash=f"Nothing imported: {problem_sentence(e)}")
    return redirect("/console/sales/leads", flash=f"Imported {report.rows} rows: {report.created} new leads, "
                                                  f"{report.merged} merged into leads already known.")


@router.get("/console/sales/quotes")
def quote_list(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        page = sales.list_quotes(uow, status=text_or_none(status), limit=50, cursor=cursor)
        accounts = {a.id: a.name for a in _all_accounts(uow)}
    return render(request, "console/sales_quotes.html", {"page": page, "accounts": accounts, "status": status or "",
                                                         "manager": me.role in MANAGERS}, principal=me)


@router.post("/console/sales/quotes/{quote_id}/approve")
def quote_approve(request: Request, quote_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MANAGERS)
    try:
        with unit_of_work(request, me) as uow:
            q = sales.approve_quote(uow, quote_id)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/sales/quotes", flash=f"Not approved: {problem_sentence(e)}")
    return redirect("/console/sales/quotes", flash=f"Quote {q.number} approved.")


@router.post("/console/sales/quotes/{quote_id}/send")
def quote_send(request: Request, quote_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SALES_ROLES)
    try:
        with unit_of_work(request, me) as uow:
            sent = sales.send_quote(uow, quote_id, base_url=str(request.base_url))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/sales/quotes", flash=f"Not sent: {problem_sentence(e)}")
    return redirect("/console/sales/quotes", flash=f"Quote {sent.quote.number} is released. Give the buyer this "
                                                   f"acceptance link (shown once): {sent.accept_url}")


@router.get("/console/sales/quotes/{quote_id}/pdf")
def quote_pdf(request: Request, quote_id: int) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        pdf = sales.quote_pdf(uow, quote_id)
    return Response(pdf, media_type="application/pdf")


@router.get("/console/sales/contracts")
def contract_list(request: Request, risk: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *SALES_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        page = sales.list_contracts(uow, risk_level=text_or_none(risk), limit=50, cursor=cursor)
        accounts = {a.id: a.name for a in _all_accounts(uow)}
        names = _names(uow, {c.owner_user_id for c in page.items})
    return render(request, "console/sales_contracts.html", {"page": page, "accounts": accounts, "names": names,
                                                            "risk": risk or ""}, principal=me)


@router.get("/quote/{token}")
def buyer_quote(request: Request, token: str) -> Response:
    """The buyer's page: the quote and Accept / Decline (no login; the link is the credential)."""
    with unit_of_work(request, readonly=True) as uow:
        quote = sales.public_quote(uow, token)
    return render(request, "store/quote.html", {"quote": quote, "token": token})


from merx.web.views import sales_account, sales_performance  # noqa: E402

router.include_router(sales_account.router)  # the account page and the everyday forms (issue 14)
router.include_router(sales_performance.router)  # KPIs, commissions, dealers (issue 15)
