"""A promotion with everything the API's `POST /api/v1/promotions` takes
(`/console/new-promotion`, admin and staff): every kind (tiers for a tiered percent, buy X get Y
with a percent off the free units), what it is restricted to (SKUs, categories, channels,
customer groups), a coupon code, usage limits, priority, stacking and the validity window.

The form is read into `pricing.PromotionCreate` and created by `pricing.create_promotion`, so
the rules, the audit entry and the event are the API's; a refusal is the same page, 422, the
message beside the field and what was typed kept. (Not `/console/promotions/new`: the
promotion page's `{promotion_id}` route would take that path.)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.pricing import public as pricing
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none, utc_or_text
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
MANAGERS = (Role.admin, Role.staff)
KINDS = [("order_percent", "Percent off the order"), ("order_fixed", "Amount off the order"),
         ("line_percent", "Percent off the targeted items"), ("line_fixed", "Amount off each targeted item"),
         ("tiered_percent", "Percent off by order size (tiers)"), ("buy_x_get_y", "Buy X, get Y"),
         ("free_shipping", "Free shipping")]
CHANNELS = ("web", "store", "marketplace", "b2b")
TEXT_FIELDS = ("name", "kind", "value", "min_subtotal", "tiers", "buy_quantity", "get_quantity", "get_percent",
               "skus", "categories", "customer_groups", "coupon_code", "usage_limit_total",
               "usage_limit_per_customer", "priority", "stacking", "starts_at", "ends_at")


def _words(text: Any) -> list[str]:
    """"A-1, B-2 C-3" -> ["A-1", "B-2", "C-3"] (commas, spaces or new lines between)."""
    return [w for w in str(text or "").replace(",", " ").split() if w]


def _tiers(text: Any) -> list[dict[str, str]] | str | None:
    """"100=5, 250=10" -> [{threshold 100, percent 5}, ...]; text that is not in that form is
    returned as it is, for the schema to name the `tiers` field."""
    pairs = [p.strip() for p in str(text or "").replace(";", ",").replace("\n", ",").split(",") if p.strip()]
    if not pairs:
        return None
    tiers = []
    for pair in pairs:
        threshold, sep, percent = pair.partition("=")
        if not sep:
            return str(text)
        tiers.append({"threshold": threshold.strip(), "percent": percent.strip()})
    return tiers


def promotion_data(values: dict[str, Any], channels: list[str], currency: str) -> dict[str, Any]:
    """The form as the API's `PromotionCreate` body (blank fields left out)."""
    kind = str(values.get("kind", ""))
    data: dict[str, Any] = {"name": str(values.get("name", "")).strip(), "kind": kind,
                            "skus": _words(values.get("skus")), "categories": _words(values.get("categories")),
                            "customer_groups": _words(values.get("customer_groups")), "channels": channels,
                            "stacking": values.get("stacking") or "stackable"}
    value = text_or_none(values.get("value"))
    if kind.endswith("percent") and kind != "tiered_percent":
        data["percent"] = value
    elif kind.endswith("fixed"):
        data["amount"], data["currency"] = value, currency
    if kind == "tiered_percent":
        data["tiers"], data["currency"] = _tiers(values.get("tiers")), currency
    if kind == "buy_x_get_y":
        for name in ("buy_quantity", "get_quantity"):
            data[name] = text_or_none(values.get(name)) or 0
        data["get_percent"] = text_or_none(values.get("get_percent")) or "100"
    if minimum := text_or_none(values.get("min_subtotal")):
        data["min_subtotal"], data["currency"] = minimum, currency
    for name in ("coupon_code", "usage_limit_total", "usage_limit_per_customer", "priority"):
        if (text := text_or_none(values.get(name))) is not None:
            data[name] = text
    for name in ("starts_at", "ends_at"):
        if (when := utc_or_text(values.get(name))) is not None:
            data[name] = when
    return data


def _page(request: Request, me: Any, *, values: dict[str, Any] | None = None, channels: list[str] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    return render(request, "console/promotion_new.html", {
        "values": values or {"kind": "line_percent", "stacking": "stackable"}, "channels": channels or [],
        "all_channels": CHANNELS, "kinds": KINDS, "errors": errors or {},
        "currency": request.app.state.settings.default_currency}, status=status, principal=me)


@router.get("/console/new-promotion")
def new_promotion_page(request: Request) -> Response:
    return _page(request, console_user(request, *MANAGERS))


@router.post("/console/new-promotion")
def create_promotion(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MANAGERS)
    values = {k: str(form.get(k, "")) for k in TEXT_FIELDS}
    channels = [str(c) for c in form["__multi__"].getlist("channel")]
    try:
        data = pricing.PromotionCreate.model_validate(
            promotion_data(values, channels, request.app.state.settings.default_currency))
        with unit_of_work(request, me) as uow:
            created = pricing.create_promotion(uow, data)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and e.status >= 500:
            raise
        errors = field_errors(e)
        if "percent" in errors or "amount" in errors:  # the form's one value box carries both
            errors.setdefault("value", errors.pop("percent", None) or errors.pop("amount"))
        if "channels" in errors:
            errors["channel"] = errors.pop("channels")
        return _page(request, me, values=values, channels=channels, errors=errors, status=422)
    promotion_id = created["id"] if isinstance(created, dict) else created.id
    return redirect(f"/console/promotions/{promotion_id}", flash=f"Promotion “{values['name'].strip()}” created.")
