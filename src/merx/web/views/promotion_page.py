"""A promotion's own page (`/console/promotions/{id}`): what it gives and to whom, the settings the
API lets a merchant change (`PATCH /api/v1/promotions/{id}`: name, priority, stacking, usage
limits, validity window), activate or pause, who used its coupon and the orders it discounted
(`GET /api/v1/promotions/{id}/redemptions`, newest first).

Writes go through `pricing.update_promotion`, so the audit entry, the `PromotionUpdated` event
and the rules (a total limit below the uses already made, an end before the start) are the
API's; a refusal comes back as the same page with the message beside the field (422)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.pricing import public as pricing
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none, utc_or_text
from merx.web.views.listing import list_query
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
MANAGERS = (Role.admin, Role.staff)  # who may change promotions in the API too
PAGE_SIZE = 50


def local_input(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") if value else ""


def _page(request: Request, me: Any, promotion_id: int, *, errors: dict[str, str] | None = None,
          values: dict[str, Any] | None = None, status: int = 200) -> Response:
    lq = list_query(request, path=f"/console/promotions/{promotion_id}")
    with unit_of_work(request, me, readonly=True) as uow:
        promotion = pricing.get_promotion(uow, promotion_id)
        redemptions, next_cursor = pricing.redemptions_page(uow, promotion_id, limit=PAGE_SIZE, cursor=lq.cursor)
        uses = pricing.coupon_uses(uow, promotion_id) if promotion["coupon_code"] else []
    shown = values if values is not None else {
        "name": promotion["name"], "priority": str(promotion["priority"]), "stacking": promotion["stacking"],
        "usage_limit_total": str(promotion["usage_limit_total"] or ""),
        "usage_limit_per_customer": str(promotion["usage_limit_per_customer"] or ""),
        "starts_at": local_input(promotion["starts_at"]), "ends_at": local_input(promotion["ends_at"])}
    return render(request, "console/promotion.html", {
        "p": promotion, "redemptions": redemptions, "next_cursor": next_cursor, "lq": lq, "uses": uses,
        "values": shown, "errors": errors or {}, "can_write": me.role in MANAGERS}, status=status, principal=me)


@router.get("/console/promotions/{promotion_id}")
def promotion_page(request: Request, promotion_id: int) -> Response:
    return _page(request, console_user(request, *MANAGERS), promotion_id)


@router.post("/console/promotions/{promotion_id}")
def edit_promotion(request: Request, promotion_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MANAGERS)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        patch = pricing.PromotionPatch.model_validate({
            "name": values.get("name", "").strip(), "priority": values.get("priority", "").strip() or "0",
            "stacking": values.get("stacking") or "stackable",
            # blank: no limit (the API's null)
            "usage_limit_total": text_or_none(values.get("usage_limit_total")),
            "usage_limit_per_customer": text_or_none(values.get("usage_limit_per_customer")),
            "starts_at": utc_or_text(values.get("starts_at")), "ends_at": utc_or_text(values.get("ends_at"))})
        with unit_of_work(request, me) as uow:
            saved = pricing.update_promotion(uow, promotion_id, patch)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        return _page(request, me, promotion_id, errors=field_errors(e), values=values, status=422)
    return redirect(f"/console/promotions/{promotion_id}", flash=f"{saved['name']} saved.")


@router.post("/console/promotions/{promotion_id}/active")
def set_promotion_active(request: Request, promotion_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MANAGERS)
    active = form.get("active") == "yes"
    with unit_of_work(request, me) as uow:
        saved = pricing.update_promotion(uow, promotion_id, pricing.PromotionPatch(active=active))
    return redirect(f"/console/promotions/{promotion_id}",
                    flash=f"{saved['name']} is active: checkout applies it." if active
                    else f"{saved['name']} is paused: checkout no longer applies it.")
