"""Console forms on a customer (issue #20): a new customer, edit the record's details, the data-subject rights
(download everything Merx holds as JSON; erase, after typing ERASE to confirm), and the
customer's loyalty accounts with a manual points adjustment that needs a reason. Plus editing
or deleting a saved segment with a live preview of how many customers its rule matches.

Every form calls the owning context's public functions as the signed-in user: the customers
service scopes a sales rep to its own accounts (another's is a 404), the CRM audits erasures
and loyalty adjustments. A refused form comes back as the same page with the message next to
the field (422), never a 500."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.crm import public as crm
from merx.customers import public as customers
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
EDIT_ROLES = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)  # as PATCH /customers/{id}
EXPORT_ROLES = (Role.admin, Role.staff, Role.support_agent)  # as GET /customers/{id}/export
ERASE_ROLES = (Role.admin, Role.staff)  # as POST /customers/{id}/erase
LOYALTY_READERS = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)
LOYALTY_ADJUSTERS = (Role.admin, Role.staff)  # as POST /loyalty/adjust
SEGMENT_ROLES = (Role.admin, Role.staff)
EDITABLE = ("email", "phone", "first_name", "last_name", "company", "country", "locale")
ERASE_WORD = "ERASE"


def _refused(e: Exception) -> bool:
    """A refusal the form shows beside its field; a 404 or a server error goes to the error page."""
    return isinstance(e, ValidationError) or (isinstance(e, Problem) and e.status < 500 and e.status != 404)


# -- edit the details ------------------------------------------------------------------------------

def _edit_page(request: Request, me: Any, customer: Any, values: dict[str, Any], errors: dict[str, str],
               status: int = 200) -> Response:
    return render(request, "console/customer_edit.html", {
        "c": customer, "values": values, "errors": errors, "can_export": me.role in EXPORT_ROLES,
        "can_erase": me.role in ERASE_ROLES, "erase_word": ERASE_WORD}, status=status, principal=me)


@router.get("/console/customers/{customer_id}/edit")
def edit_page(request: Request, customer_id: int) -> Response:
    me = console_user(request, *EDIT_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        c = customers.get_customer(uow, customer_id)
    return _edit_page(request, me, c, {k: getattr(c, k) or "" for k in EDITABLE}, {})


@router.post("/console/customers/{customer_id}/edit")
def save_details(request: Request, customer_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *EDIT_ROLES)
    values = {k: str(form.get(k, "")).strip() for k in EDITABLE}
    changes: dict[str, Any] = {k: values[k] or None for k in EDITABLE}
    if changes["country"]:
        changes["country"] = changes["country"].upper()
    try:
        with unit_of_work(request, me) as uow:
            customers.update_customer(uow, customer_id, customers.CustomerUpdate(**changes))
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        with unit_of_work(request, me, readonly=True) as uow:
            c = customers.get_customer(uow, customer_id)
        return _edit_page(request, me, c, values, field_errors(e), status=422)
    return redirect(f"/console/customers/{customer_id}", flash="Customer details saved.")


# -- a new customer (at /console/new-customer: /console/customers/{id} would take .../new) ---------

@router.get("/console/new-customer")
def new_customer_page(request: Request) -> Response:
    me = console_user(request, *EDIT_ROLES)
    return render(request, "console/customer_new.html", {"values": {}, "errors": {}}, principal=me)


@router.post("/console/new-customer")
def create_customer(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """A customer record (`POST /api/v1/customers`); a sales rep's new customer is the rep's account."""
    me = console_user(request, *EDIT_ROLES)
    values = {k: str(form.get(k, "")).strip() for k in EDITABLE}
    fields: dict[str, Any] = {k: values[k] or None for k in EDITABLE}
    if fields["country"]:
        fields["country"] = fields["country"].upper()
    errors: dict[str, str] = {}
    if not any(fields[k] for k in ("email", "phone", "first_name", "last_name", "company")):
        errors["_form"] = "Give at least a name, a company, an email or a phone."
    if not errors:
        try:
            with unit_of_work(request, me) as uow:
                made = customers.create_customer(uow, customers.CustomerCreate(**fields))
        except (ValidationError, Problem) as e:
            if not _refused(e):
                raise
            errors = field_errors(e)
    if errors:
        return render(request, "console/customer_new.html", {"values": values, "errors": errors}, status=422,
                      principal=me)
    return redirect(f"/console/customers/{made.id}", flash="Customer created.")


# -- data-subject rights ---------------------------------------------------------------------------

@router.get("/console/customers/{customer_id}/export.json")
def export_data(request: Request, customer_id: int) -> Response:
    """Everything Merx holds about the customer (`GET /api/v1/customers/{id}/export`), as a download."""
    me = console_user(request, *EXPORT_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        data = crm.export_customer(uow, customer_id)
    return JSONResponse(jsonable_encoder(data),
                        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'})


@router.post("/console/customers/{customer_id}/erase")
def erase(request: Request, customer_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Anonymise the customer (`POST /api/v1/customers/{id}/erase`) once ERASE is typed: it cannot
    be undone, so a slip of the mouse must not do it."""
    me = console_user(request, *ERASE_ROLES)
    typed = str(form.get("confirm", "")).strip()
    if typed != ERASE_WORD:
        with unit_of_work(request, me, readonly=True) as uow:
            c = customers.get_customer(uow, customer_id)
        return _edit_page(request, me, c, {k: getattr(c, k) or "" for k in EDITABLE},
                          {"confirm": f"Type {ERASE_WORD} in capitals to confirm the erasure."}, status=422)
    with unit_of_work(request, me) as uow:
        counts = crm.erase_customer(uow, customer_id)
    total = sum(counts.values())
    return redirect("/console/customers", flash=f"Customer {customer_id} erased: contact details removed from "
                                                f"the record and {total} related record(s); order amounts kept.")


# -- loyalty -----------------------------------------------------------------------------------------

def _loyalty_page(request: Request, me: Any, customer_id: int, values: dict[str, Any], errors: dict[str, str],
                  status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        c = customers.get_customer(uow, customer_id)
        data = crm.customer_loyalty(uow, customer_id)
        programs = [p.code for p in crm.list_programs(uow)]
    ledger = list(reversed(data["ledger"]))[:100]
    return render(request, "console/customer_loyalty.html", {
        "c": c, "accounts": data["accounts"], "ledger": ledger, "programs": programs, "values": values,
        "errors": errors, "can_adjust": me.role in LOYALTY_ADJUSTERS}, status=status, principal=me)


@router.get("/console/customers/{customer_id}/loyalty")
def loyalty_page(request: Request, customer_id: int) -> Response:
    me = console_user(request, *LOYALTY_READERS)
    return _loyalty_page(request, me, customer_id, {}, {})


@router.post("/console/customers/{customer_id}/loyalty/adjust")
def adjust_points(request: Request, customer_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *LOYALTY_ADJUSTERS)
    values = {k: str(form.get(k, "")).strip() for k in ("points", "reason", "program")}
    points = int_or_none(values["points"])
    errors: dict[str, str] = {}
    if points is None or points == 0:
        errors["points"] = "Give a whole number of points, negative to take points away (not zero)."
    if not values["reason"]:
        errors["reason"] = "Say why: the reason is kept in the ledger and the audit log."
    elif len(values["reason"]) > 200:
        errors["reason"] = "Keep the reason under 200 characters."
    with unit_of_work(request, me, readonly=True) as uow:
        programs = {p.code: p.active for p in crm.list_programs(uow)}
    if values["program"] and values["program"] not in programs or not any(programs.values()):
        errors["program"] = "Choose an active loyalty programme (create one on the Loyalty page first)."
    if errors:
        return _loyalty_page(request, me, customer_id, values, errors, status=422)
    try:
        with unit_of_work(request, me) as uow:
            accounts = crm.adjust_points(uow, customer_id, points or 0, reason=values["reason"],
                                         program_code=text_or_none(values["program"]))
    except Problem as e:
        if not _refused(e):
            raise
        return _loyalty_page(request, me, customer_id, values, field_errors(e), status=422)
    balance = next((a["balance"] for a in accounts if not values["program"] or a["program"] == values["program"]), None)
    return redirect(f"/console/customers/{customer_id}/loyalty",
                    flash=f"{points:+d} points recorded; the balance is now {balance} points.")


# -- edit a segment -----------------------------------------------------------------------------------

def _segment_page(request: Request, me: Any, segment_id: int, values: dict[str, Any] | None, errors: dict[str, str],
                  preview_expression: str | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        found = crm.get_segment(uow, segment_id)
        seg = {k: getattr(found, k) for k in ("id", "name", "kind", "expression", "description", "member_count",
                                              "evaluated_at")}
        shown = values or {"name": seg["name"], "expression": seg["expression"] or "",
                           "description": seg["description"] or ""}
        preview = None
        if preview_expression and seg["kind"] == "rule":
            try:
                preview = crm.preview(uow, preview_expression)
            except Problem as e:
                if not _refused(e):
                    raise
                errors = {**errors, **field_errors(e)}
                errors.setdefault("expression", errors.pop("_form", "The rule could not be read."))
                status = 422
    return render(request, "console/segment_edit.html", {"s": seg, "values": shown, "errors": errors,
                                                         "preview": preview}, status=status, principal=me)


@router.get("/console/segments/{segment_id}")
def segment_page(request: Request, segment_id: int) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    return _segment_page(request, me, segment_id, None, {})


@router.post("/console/segments/{segment_id}/preview")
def preview_segment(request: Request, segment_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """How many customers the rule as typed matches, before it is saved (nothing is written)."""
    me = console_user(request, *SEGMENT_ROLES)
    values = {k: str(form.get(k, "")).strip() for k in ("name", "expression", "description")}
    if not values["expression"]:
        return _segment_page(request, me, segment_id, values, {"expression": "Write a rule to preview."}, status=422)
    return _segment_page(request, me, segment_id, values, {}, preview_expression=values["expression"])


@router.post("/console/segments/{segment_id}")
def save_segment(request: Request, segment_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    values = {k: str(form.get(k, "")).strip() for k in ("name", "expression", "description")}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Give the segment a name."
    if not errors:
        try:
            with unit_of_work(request, me) as uow:
                seg = crm.get_segment(uow, segment_id)
                crm.update_segment(uow, segment_id, name=values["name"],
                                   expression=values["expression"] if seg.kind == "rule" else None,
                                   description=values["description"])
        except Problem as e:
            if not _refused(e):
                raise
            errors = field_errors(e)
            if "_form" in errors:
                errors.setdefault("expression", errors.pop("_form"))
    if errors:
        return _segment_page(request, me, segment_id, values, errors, status=422)
    return redirect(f"/console/segments/{segment_id}", flash=f"Segment “{values['name']}” saved and re-evaluated.")


@router.post("/console/segments/{segment_id}/delete")
def delete_segment(request: Request, segment_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    with unit_of_work(request, me) as uow:
        name = crm.get_segment(uow, segment_id).name
        crm.delete_segment(uow, segment_id)
    return redirect("/console/segments", flash=f"Segment “{name}” deleted.")
