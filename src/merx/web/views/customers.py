"""Console customers: the list (a sales rep sees only its accounts: the customers service
scopes the query), the 360 page (the CRM's overview with its timeline), profile merge, and
segments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.crm import public as crm
from merx.customers import public as customers
from merx.sales import public as sales
from merx.support import public as support
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, page_of, text_or_none
from merx.web.views.listing import list_query, whole_list_page

router = APIRouter(route_class=PageRoute)
CUSTOMER_ROLES = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)
MERGE_ROLES = (Role.admin, Role.staff, Role.support_agent)
SEGMENT_ROLES = (Role.admin, Role.staff)


@router.get("/console/customers")
def customer_list(request: Request, q: str | None = None, country: str | None = None,
                  cursor: str | None = None) -> Response:
    me = console_user(request, *CUSTOMER_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        stmt = customers.list_customers_stmt(uow, q=text_or_none(q), country=text_or_none(country))
        rows, next_cursor = page_of(uow, stmt, limit=50, cursor=cursor)
        items = [{"id": r.id, "email": r.email, "phone": r.phone, "first_name": r.first_name,
                  "last_name": r.last_name, "country": r.country, "created_at": r.created_at} for r in rows]
    return render(request, "console/customers.html", {"rows": items,
                                                       "next_cursor": next_cursor,
                                                       "filters": {"q": q or "", "country": country or ""}},
                  principal=me)


@router.get("/console/customers/{customer_id}")
def customer_360(request: Request, customer_id: int) -> Response:
    me = console_user(request, *CUSTOMER_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        overview = crm.overview(uow, customer_id, timeline_limit=100)
        tickets = support.open_tickets_of(uow, customer_id)
        b2b = sales.customer_sales_summary(uow, customer_id)
    return render(request, "console/customer.html", {"o": overview, "can_merge": me.role in MERGE_ROLES,
                                                     "tickets": tickets, "b2b": b2b}, principal=me)


@router.post("/console/customers/{customer_id}/merge")
def merge(request: Request, customer_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MERGE_ROLES)
    duplicate = int_or_none(form.get("duplicate_id"))
    back = f"/console/customers/{customer_id}"
    if duplicate is None:
        return redirect(back, flash="Give the number of the duplicate customer to merge into this one.")
    try:
        with unit_of_work(request, me) as uow:
            customers.get_customer(uow, customer_id)
            crm.merge_profiles(uow, duplicate, customer_id, rule="manual")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not merged: {problem_sentence(e)}")
    return redirect(back, flash=f"Customer {duplicate} was merged into this profile.")


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


@router.get("/console/segments")
def segments_page(request: Request, expression: str | None = None) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    lq = list_query(request, "expression")
    ctx: dict[str, Any] = {"expression": expression or "", "lq": lq}
    with unit_of_work(request, me, readonly=True) as uow:
        rows, ctx["next_cursor"] = whole_list_page(crm.list_segments(uow), lq, lambda s: (s.name, s.expression,
                                                                                          s.description),
                                                   key=lambda s: s.id, limit=50)
        ctx["segments"] = [{"id": s.id, "name": s.name, "kind": s.kind, "expression": s.expression,
                            "description": s.description, "members": s.member_count, "evaluated_at": s.evaluated_at}
                           for s in rows]
        if expression:
            try:
                ctx["preview"] = crm.preview(uow, expression)
            except Problem as e:
                ctx["error"] = problem_sentence(e)
    return render(request, "console/segments.html", ctx, principal=me)


@router.post("/console/segments")
def create_segment(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    try:
        with unit_of_work(request, me) as uow:
            seg = crm.create_segment(uow, name=str(form.get("name", "")).strip(),
                                     expression=str(form.get("expression", "")).strip(),
                                     description=text_or_none(form.get("description")))
            name = seg.name
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/segments", flash=f"Not saved: {problem_sentence(e)}")
    return redirect("/console/segments", flash=f"Segment “{name}” saved.")


@router.post("/console/segments/{segment_id}/evaluate")
def evaluate_segment(request: Request, segment_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    with unit_of_work(request, me) as uow:
        crm.evaluate_segment(uow, segment_id)
    return redirect("/console/segments", flash="Segment re-evaluated.")
