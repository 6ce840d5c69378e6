"""A location's own page (`/console/locations/{code}`): every setting `PATCH /api/v1/locations/{code}`
changes (name, kind, address, position, pickup, returns, shipping, routing priority, low-stock
threshold, time zone, active) and its opening hours with any number of spans a day
("09:00-13:00, 14:00-18:00"). Staff read it; an admin changes it, as in the API. The input is
validated by the API's `LocationPatch` and the opening-hours rules; a refusal is shown beside
its field (422) and nothing is saved."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.inventory import public as inventory
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
READERS = (Role.admin, Role.staff)
SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def hours_text(spans: list[list[str]] | None) -> str:
    return ", ".join(f"{a}-{b}" for a, b in spans or [])


def parse_hours(values: dict[str, str], errors: dict[str, str]) -> dict[str, list[list[str]]]:
    """`hours_mon` = "09:00-13:00, 14:00-18:00" per day (blank: closed) -> the API's shape; a span
    that is not "HH:MM-HH:MM" is named beside its day."""
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        text = values.get(f"hours_{day}", "").strip()
        if not text:
            continue
        spans = []
        for part in text.split(","):
            m = SPAN.match(part)
            if not m:
                errors[f"hours_{day}"] = f"{part.strip()!r} is not a span like 09:00-17:00"
                break
            spans.append([m.group(1).zfill(5), m.group(2).zfill(5)])
        hours[day] = spans
    return hours


def _refusal(e: ValidationError | Problem) -> dict[str, str]:
    """The form's keys: an opening-hours problem ("opening_hours.mon[0]") beside its day."""
    out = field_errors(e)
    fields = [fe.field for fe in e.errors or []] if isinstance(e, Problem) else []
    for field in fields:
        m = re.match(r"opening_hours\.(\w+)", field)
        if m:
            out.pop("opening_hours", None)
            out.setdefault(f"hours_{m.group(1)}", next(fe.message for fe in e.errors if fe.field == field))
    return out


def _page(request: Request, me: Any, code: str, *, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        loc = inventory.location_out(inventory.get_location_by_code(uow, code))
    shown = values if values is not None else {
        **{k: "" if loc[k] is None else str(loc[k]) for k in ("name", "kind", "address", "lat", "lon", "priority",
                                                              "low_stock_threshold", "timezone")},
        **{k: "on" if loc[k] else "" for k in ("pickup", "accepts_returns", "ships", "active")},
        **{f"hours_{d}": hours_text(loc["opening_hours"].get(d)) for d in DAYS}}
    return render(request, "console/location.html", {"loc": loc, "values": shown, "errors": errors or {},
                                                     "days": DAYS, "can_write": me.role == Role.admin},
                  status=status, principal=me)


@router.get("/console/locations/{location_code}")
def location_page(request: Request, location_code: str) -> Response:
    return _page(request, console_user(request, *READERS), location_code)


@router.post("/console/locations/{location_code}/edit")
def edit_location(request: Request, location_code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    code = location_code
    me = console_user(request, Role.admin)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    hours = parse_hours(values, errors)
    if not errors:
        try:
            patch = inventory.LocationPatch.model_validate({
                "name": values.get("name", "").strip(), "kind": values.get("kind", ""),
                "address": text_or_none(values.get("address")),
                "lat": text_or_none((values.get("lat") or "").replace(",", ".")),
                "lon": text_or_none((values.get("lon") or "").replace(",", ".")),
                "pickup": values.get("pickup") == "on", "accepts_returns": values.get("accepts_returns") == "on",
                "ships": values.get("ships") == "on", "active": values.get("active") == "on",
                "priority": values.get("priority", "").strip(),
                "low_stock_threshold": text_or_none(values.get("low_stock_threshold")),
                "timezone": text_or_none(values.get("timezone")) or "UTC", "opening_hours": hours})
            with unit_of_work(request, me) as uow:
                inventory.update_location(uow, code, patch.model_dump(exclude_unset=True))
        except (ValidationError, Problem) as e:
            if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
                raise
            errors = _refusal(e)
    if errors:
        return _page(request, me, code, values=values, errors=errors, status=422)
    return redirect(f"/console/locations/{code}", flash=f"{values.get('name', code).strip()} saved.")
