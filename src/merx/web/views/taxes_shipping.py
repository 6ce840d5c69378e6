"""Console edits of taxes and shipping (issue #20), beside the taxes page's "add" forms
(views/payments.py): end a VAT rate on a date (rates are dated, so a change of rate is "end
the old one, add the new one"), switch a channel between prices with and without tax, and a
page per shipping zone to change its name and coverage and each method's name, rate table,
free-over amount and whether checkout offers it. Admin and staff, as the fiscal API. A refused
form comes back as the page with the message beside the field (422)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.fiscal import public as fiscal
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none
from merx.web.views.payments import taxes_context
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
READ = (Role.admin, Role.staff, Role.support_agent)  # as the taxes page
STAFF = (Role.admin, Role.staff)


def _refused(e: Exception) -> bool:
    return isinstance(e, ValidationError) or (isinstance(e, Problem) and e.status < 500 and e.status != 404)


def _taxes_refusal(request: Request, me: Any, errors: dict[str, str], values: dict[str, Any]) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = taxes_context(uow)
    return render(request, "console/taxes.html", {**ctx, "errors": errors, "values": values}, status=422, principal=me)


@router.post("/console/taxes/rates/{rate_id}/end")
def end_rate(request: Request, rate_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The rate applies up to and including `valid_to` (`POST /api/v1/taxes/rates/{id}/end`)."""
    me = console_user(request, *STAFF)
    prefix = f"rate{rate_id}."
    text = str(form.get("valid_to", "")).strip()
    try:
        valid_to = dt.date.fromisoformat(text)
    except ValueError:
        return _taxes_refusal(request, me, {prefix + "valid_to": "Give the last day the rate applies (YYYY-MM-DD)."},
                              {prefix + "valid_to": text})
    try:
        with unit_of_work(request, me) as uow:
            rate = fiscal.end_rate(uow, rate_id, valid_to)
    except Problem as e:
        if not _refused(e):
            raise
        return _taxes_refusal(request, me, field_errors(e, prefix), {prefix + "valid_to": text})
    return redirect("/console/taxes", flash=f"{rate.country} {rate.tax_class} {rate.rate}% now ends on {rate.valid_to}; "
                                            f"add the rate that follows it below.")


@router.post("/console/taxes/channels/{channel}")
def set_channel_mode(request: Request, channel: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Whether the channel's prices include tax (`PUT /api/v1/taxes/channels/{channel}`)."""
    me = console_user(request, *STAFF)
    choice = form.get("prices_include_tax")
    if choice not in ("yes", "no"):
        return _taxes_refusal(request, me, {f"mode.{channel}": "Choose whether prices include tax."}, {})
    with unit_of_work(request, me) as uow:
        fiscal.set_channel_mode(uow, channel, choice == "yes")
    return redirect("/console/taxes", flash=f"Prices in {channel} now {'include' if choice == 'yes' else 'exclude'} tax.")


# -- a shipping zone --------------------------------------------------------------------------------

def _codes(text: Any) -> list[str]:
    return [x.strip().upper() for x in str(text or "").split(",") if x.strip()]


def parse_brackets(text: str) -> list[dict[str, str]]:
    """"0:9.90, 5:14.90" -> [{"from": "0", "price": "9.90"}, ...]; a part without a colon is kept
    as a bracket with no price so the validation names it instead of dropping it silently."""
    out = []
    for part in str(text or "").split(","):
        part = part.strip()
        if part:
            start, _, price = part.partition(":")
            out.append({"from": start.strip(), "price": price.strip()})
    return out


def brackets_text(brackets: list[dict[str, Any]]) -> str:
    return ", ".join(f"{b['from']}:{b['price']}" for b in brackets)


def _zone_page(request: Request, me: Any, code: str, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        zone = next((z for z in fiscal.list_zones(uow) if z.code == code), None)
    if zone is None:
        raise NotFound(f"Shipping zone {code} does not exist")
    shown = {"zone.name": zone.name, "zone.countries": ", ".join(zone.countries),
             "zone.postcodes": ", ".join(zone.postcode_prefixes)}
    for m in zone.methods:
        p = f"m{m.id}."
        shown |= {p + "name": m.name, p + "basis": m.basis, p + "brackets": brackets_text(m.brackets),
                  p + "free_over": m.free_over or "", p + "active": "on" if m.active else ""}
    return render(request, "console/shipping_zone.html", {
        "zone": zone, "values": shown | (values or {}), "errors": errors or {},
        "can_edit": me.role in STAFF}, status=status, principal=me)


@router.get("/console/taxes/zones/{zone}")
def zone_page(request: Request, zone: str) -> Response:
    return _zone_page(request, console_user(request, *READ), zone)


def _save(request: Request, code: str, form: dict[str, Any], prefix: str, run: Any, done: str) -> Response:
    me = console_user(request, *STAFF)
    values = {prefix + k: v for k, v in form.items() if isinstance(v, str)}
    if prefix.startswith("m") and "active" not in form:
        values[prefix + "active"] = ""
    try:
        with unit_of_work(request, me) as uow:
            run(uow)
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        errors = field_errors(e, prefix)
        if prefix + "postcode_prefixes" in errors:
            errors[prefix + "postcodes"] = errors.pop(prefix + "postcode_prefixes")
        return _zone_page(request, me, code, values=values, errors=errors, status=422)
    return redirect(f"/console/taxes/zones/{code}", flash=done)


@router.post("/console/taxes/zones/{zone}")
def save_zone(request: Request, zone: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> None:
        fiscal.update_zone(uow, zone, fiscal.ZonePatch(name=str(form.get("name", "")).strip(),
                                                       countries=_codes(form.get("countries")),
                                                       postcode_prefixes=_codes(form.get("postcodes"))))
    return _save(request, zone, form, "zone.", run, f"Zone {zone} saved.")


@router.post("/console/taxes/zones/{zone}/methods/{method_id}")
def save_method(request: Request, zone: str, method_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> None:
        fiscal.update_method(uow, zone, method_id, fiscal.MethodPatch(
            name=str(form.get("name", "")).strip(), basis=form.get("basis"),
            brackets=parse_brackets(str(form.get("brackets", ""))), free_over=text_or_none(form.get("free_over")),
            active=form.get("active") == "on"))
    return _save(request, zone, form, f"m{method_id}.", run, "Shipping method saved.")
