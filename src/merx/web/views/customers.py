"""Console customers: the list (a sales rep sees only its accounts: the customers service
scopes the query), the 360 page (the CRM's overview with its timeline), profile merge, and
segments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import (PageRoute, csrf_form, console_user, optional_module, problem_sentence, redirect,
                             render, service, unit_of_work)
from merx.web.views.helpers import int_or_none, page_of, text_or_none

router = APIRouter(route_class=PageRoute)
CUSTOMER_ROLES = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)
MERGE_ROLES = (Role.admin, Role.staff, Role.support_agent)
SEGMENT_ROLES = (Role.admin, Role.staff)


@router.get("/console/customers")
def customer_list(request: Request, q: str | None = None, country: str | None = None,
                  cursor: str | None = None) -> Response:
    me = console_user(request, *CUSTOMER_ROLES)
    customers = service("customers")
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
    profiles = optional_module("merx.crm.profiles")
    with unit_of_work(request, me, readonly=True) as uow:
        if profiles is not None and hasattr(profiles, "overview"):
            overview = profiles.overview(uow, customer_id, timeline_limit=100)
        else:
            overview = {"customer": service("customers").get_customer(uow, customer_id).model_dump(mode="json")}
            orders = service("orders")
            if orders is not None and hasattr(orders, "orders_for_customer"):
                overview["orders"] = [o.model_dump(mode="json") for o in orders.orders_for_customer(uow, customer_id)]
    can_merge = me.role in MERGE_ROLES and optional_module("merx.crm.identity") is not None
    return render(request, "console/customer.html", {"o": overview, "can_merge": can_merge,
                                                      "crm": profiles is not None}, principal=me)


@router.post("/console/customers/{customer_id}/merge")
def merge(request: Request, customer_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MERGE_ROLES)
    identity = optional_module("merx.crm.identity")
    duplicate = int_or_none(form.get("duplicate_id"))
    back = f"/console/customers/{customer_id}"
    if identity is None:
        return redirect(back, flash="Merging profiles is not available yet.")
    if duplicate is None:
        return redirect(back, flash="Give the number of the duplicate customer to merge into this one.")
    try:
        with unit_of_work(request, me) as uow:
            service("customers").get_customer(uow, customer_id)
            identity.merge_profiles(uow, duplicate, customer_id, rule="manual")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not merged: {problem_sentence(e)}")
    return redirect(back, flash=f"Customer {duplicate} was merged into this profile.")


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


def _segments_module() -> Any:
    return optional_module("merx.crm.segments.service")


@router.get("/console/segments")
def segments_page(request: Request, expression: str | None = None) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    segments = _segments_module()
    ctx: dict[str, Any] = {"available": segments is not None, "expression": expression or ""}
    if segments is not None:
        with unit_of_work(request, me, readonly=True) as uow:
            ctx["segments"] = [{"id": s.id, "name": s.name, "kind": getattr(s, "kind", ""),
                                "expression": getattr(s, "expression", ""), "description": getattr(s, "description", ""),
                                "members": getattr(s, "member_count", None),
                                "evaluated_at": getattr(s, "evaluated_at", None)}
                               for s in segments.list_segments(uow)]
            if expression:
                try:
                    ctx["preview"] = segments.preview(uow, expression)
                except Problem as e:
                    ctx["error"] = problem_sentence(e)
    return render(request, "console/segments.html", ctx, principal=me)


@router.post("/console/segments")
def create_segment(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SEGMENT_ROLES)
    segments = _segments_module()
    if segments is None:
        return redirect("/console/segments", flash="Segments are not available yet.")
    try:
        with unit_of_work(request, me) as uow:
            seg = segments.create_segment(uow, name=str(form.get("name", "")).strip(),
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
    segments = _segments_module()
    with unit_of_work(request, me) as uow:
        segments.evaluate_segment(uow, segment_id)
    return redirect("/console/segments", flash="Segment re-evaluated.")
