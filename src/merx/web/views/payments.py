"""Console pages for money: payments (providers, transactions with capture / refund / void,
provider notifications, bank statement reconciliation), taxes and shipping (rates, channel
modes, zones and methods), and invoices with the tax report."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.fiscal import public as fiscal
from merx.fiscal.schemas import MethodIn, TaxRateIn, ZoneIn
from merx.invoicing import public as invoicing
from merx.payments import public as payments
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none, validation_sentence

router = APIRouter(route_class=PageRoute)
READ = (Role.admin, Role.staff, Role.support_agent)
STAFF = (Role.admin, Role.staff)


def _attempt(back: str, fn: Any, done: str) -> Response:
    try:
        fn()
    except ValidationError as e:
        return redirect(back, flash=f"Not saved: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not done: {problem_sentence(e)}")
    return redirect(back, flash=done)


@router.get("/console/payments")
def payments_page(request: Request, status: str | None = None) -> Response:
    me = console_user(request, *READ)
    with unit_of_work(request, me, readonly=True) as uow:
        intents, _ = payments.list_intents(uow, status=status or None, limit=100)
        notes, _ = payments.list_notifications(uow, limit=30)
        lines, _ = payments.list_lines(uow, limit=100)
        provs = payments.list_providers(uow, set(request.app.state.settings.enabled_payment_providers))
    queued = [ln for ln in lines if ln.status == "queued"]
    return render(request, "console/payments.html", {
        "intents": intents, "notifications": notes, "lines": lines, "queued": queued, "providers": provs,
        "status": status or "", "op_key": secrets.token_hex(8)}, principal=me)


@router.post("/console/payments/{intent_id}/{action}")
def payment_action(request: Request, intent_id: int, action: str,
                   form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)
    amount = text_or_none(form.get("amount"))
    key = text_or_none(form.get("op_key")) or secrets.token_hex(8)  # the form's key: a double submit acts once

    def run() -> None:
        with unit_of_work(request, me) as uow:
            if action == "capture":
                payments.capture(uow, intent_id, amount=amount, idempotency_key=f"console:{key}")
            elif action == "refund":
                payments.refund(uow, intent_id, amount=amount, idempotency_key=f"console:{key}",
                                reason=text_or_none(form.get("reason")))
            elif action == "void":
                payments.void(uow, intent_id, idempotency_key=f"console:{key}")
            else:
                raise Problem(f"Unknown action {action}", status=404)

    return _attempt("/console/payments", run, f"Payment {intent_id}: {action} done.")


@router.post("/console/payments/statements")
def upload_statement(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)
    upload = form.get("file")
    if upload is None or not hasattr(upload, "file"):
        return redirect("/console/payments", flash="Choose a statement file (CSV or camt.053 XML).")
    data = upload.file.read(10 * 1024 * 1024 + 1)
    if len(data) > 10 * 1024 * 1024:
        return redirect("/console/payments", flash="Statement refused: a statement file may be at most 10 MiB.")
    try:
        with unit_of_work(request, me) as uow:
            result = payments.import_statement(uow, upload.filename or "statement", data)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/payments", flash=f"Statement refused: {problem_sentence(e)}")
    return redirect("/console/payments", flash=f"{result.lines} credit lines: {result.matched} paid an order, "
                                                f"{result.queued} queued, {result.already_imported} already imported.")


@router.post("/console/payments/lines/{line_id}/resolve")
def resolve_line(request: Request, line_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)

    def run() -> None:
        with unit_of_work(request, me) as uow:
            payments.resolve(uow, line_id, note=text_or_none(form.get("note")) or "checked")

    return _attempt("/console/payments", run, "Reconciliation item resolved.")


def taxes_context(uow: Any) -> dict[str, Any]:
    """What the taxes & shipping page shows (also when views/taxes_shipping.py shows a refusal)."""
    rates = fiscal.list_rates(uow)
    today = dt.date.today()
    current = [r for r in rates if r.valid_from <= today and (r.valid_to is None or r.valid_to >= today)]
    return {"rates": rates, "current": current, "modes": fiscal.list_channel_modes(uow), "zones": fiscal.list_zones(uow),
            "shop_country": fiscal.shop_country(), "today": today}


@router.get("/console/taxes")
def taxes_page(request: Request) -> Response:
    me = console_user(request, *READ)
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = taxes_context(uow)
    return render(request, "console/taxes.html", ctx, principal=me)


@router.post("/console/taxes/rates")
def add_rate(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)

    def run() -> None:
        body = TaxRateIn(country=str(form.get("country", "")).strip().upper(), tax_class=form.get("tax_class"),
                         rate=str(form.get("rate", "")).strip(), valid_from=form.get("valid_from"),
                         valid_to=text_or_none(form.get("valid_to")), note=text_or_none(form.get("note")))
        with unit_of_work(request, me) as uow:
            fiscal.add_rate(uow, body)

    return _attempt("/console/taxes", run, "Tax rate added.")


@router.post("/console/taxes/zones")
def add_zone(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)

    def run() -> None:
        split = lambda v: [x.strip().upper() for x in str(v or "").split(",") if x.strip()]  # noqa: E731
        body = ZoneIn(code=str(form.get("code", "")).strip(), name=str(form.get("name", "")).strip(),
                      countries=split(form.get("countries")), postcode_prefixes=split(form.get("postcodes")))
        with unit_of_work(request, me) as uow:
            fiscal.create_zone(uow, body)

    return _attempt("/console/taxes", run, "Shipping zone added.")


@router.post("/console/taxes/zones/{zone}/methods")
def add_method(request: Request, zone: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)

    def run() -> None:
        brackets = []
        for part in str(form.get("brackets", "")).split(","):  # "0:9.90, 5:14.90"
            if ":" in part:
                start, price = part.split(":", 1)
                brackets.append({"from": start.strip(), "price": price.strip()})
        body = MethodIn(code=str(form.get("code", "")).strip(), name=str(form.get("name", "")).strip(),
                        currency=str(form.get("currency", "")).strip().upper(), basis=form.get("basis"),
                        brackets=brackets, free_over=text_or_none(form.get("free_over")))
        with unit_of_work(request, me) as uow:
            fiscal.add_method(uow, zone, body)

    return _attempt("/console/taxes", run, "Shipping method added.")


@router.get("/console/invoices")
def invoices_page(request: Request, date_from: str | None = None, date_to: str | None = None) -> Response:
    me = console_user(request, *READ)
    today = dt.date.today()
    try:
        start = dt.date.fromisoformat(date_from) if date_from else today.replace(day=1)
        end = dt.date.fromisoformat(date_to) if date_to else today
    except ValueError:
        start, end = today.replace(day=1), today
    with unit_of_work(request, me, readonly=True) as uow:
        docs = invoicing.list_documents(uow, limit=100)
        report = invoicing.tax_report(uow, start, end) if me.role in STAFF else None
    chart = None
    if report and report.rows:
        chart = {"type": "bar", "data": {"labels": [f"{r.country} {r.rate}% {r.currency}" for r in report.rows],
                                         "datasets": [{"label": "Tax invoiced", "data": [float(r.invoiced_tax)
                                                                                         for r in report.rows]},
                                                      {"label": "Tax credited", "data": [float(r.credited_tax)
                                                                                         for r in report.rows]}]}}
    return render(request, "console/invoices.html", {"documents": docs, "report": report, "chart": chart,
                                                     "date_from": start, "date_to": end}, principal=me)


@router.get("/console/invoices/{doc_id}.pdf")
def invoice_pdf(request: Request, doc_id: int) -> Response:
    me = console_user(request, *READ)
    with unit_of_work(request, me, readonly=True) as uow:
        name, data = invoicing.pdf(uow, doc_id)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})
