"""Console stock of one SKU (issue #20): its rows per location, the low-stock threshold for the
SKU everywhere or at one location (`PUT /api/v1/inventory/thresholds`), a stock adjustment
with its reason (received, counted, returned, damaged: `POST /api/v1/inventory/adjustments`)
and the SKU's ledger, paged. Admin and staff, as the API's inventory managers. A refused form
comes back as the same page with the message beside the field (422)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.catalog import public as catalog
from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.inventory import public as inventory
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
INVENTORY_ROLES = (Role.admin, Role.staff)
REASON_LABELS = {"adjustment": "correction", "receipt": "goods received", "count": "stock count",
                 "return": "customer return", "damage": "damaged / written off"}
LEDGER_PAGE = 25


def _page(request: Request, me: Any, sku: str, *, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, cursor: str | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        info = catalog.lookup_skus(uow, [sku]).get(sku)
        if info is None:
            raise NotFound(f"The catalog has no product variant with SKU {sku}")
        locations, _ = inventory.list_locations(uow, limit=100)
        rows = {r["location"]: r for r in inventory.stock_levels(uow, sku=sku)}
        moves, next_cursor = inventory.movements(uow, sku=sku, limit=LEDGER_PAGE, cursor=cursor)
    empty = {"on_hand": 0, "reserved": 0, "available": 0, "incoming": 0, "low_stock_threshold": None,
             "status": "no stock row"}
    stock = [rows.get(loc["code"]) or {"location": loc["code"], **empty} for loc in locations]
    return render(request, "console/stock_settings.html", {
        "sku": sku, "name": info.name, "locations": locations, "stock": stock, "moves": moves,
        "next_cursor": next_cursor, "reasons": REASON_LABELS, "values": values or {}, "errors": errors or {}},
        status=status, principal=me)


@router.get("/console/inventory/sku/{sku}")
def sku_page(request: Request, sku: str, cursor: str | None = None) -> Response:
    me = console_user(request, *INVENTORY_ROLES)
    return _page(request, me, sku, cursor=text_or_none(cursor))


def _write(request: Request, sku: str, form: dict[str, Any], prefix: str, run: Any, done: Any,
           renamed: dict[str, str] | None = None) -> Response:
    """Run one form's write; a refusal re-renders the page with the message beside the field the
    form calls it (`renamed`: the API's field name -> the form's)."""
    me = console_user(request, *INVENTORY_ROLES)
    values = {prefix + k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with unit_of_work(request, me) as uow:
            out = run(uow)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        names = renamed or {}
        errors = {prefix + names.get(k, k): v for k, v in field_errors(e).items()}
        return _page(request, me, sku, values=values, errors=errors, status=422)
    return redirect(f"/console/inventory/sku/{sku}", flash=done(out))


@router.post("/console/inventory/sku/{sku}/threshold")
def set_threshold(request: Request, sku: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Low stock at or below `low_stock`: for the SKU at every location (blank location) or at one."""
    location = text_or_none(form.get("location"))
    prefix = f"threshold.{location or ''}."
    low = int_or_none(form.get("low_stock"))
    if low is None or low < 0:
        me = console_user(request, *INVENTORY_ROLES)
        return _page(request, me, sku, values={prefix + "low_stock": str(form.get("low_stock", ""))},
                     errors={prefix + "low_stock": "Give a whole number of units, 0 or more."}, status=422)

    def done(out: dict[str, Any]) -> str:
        where = f"at {out['location']}" if out["location"] else "at every location without its own"
        return f"{sku} counts as low stock {where} at {out['low_stock']} units or fewer."
    return _write(request, sku, form, prefix,
                  lambda uow: inventory.set_threshold(uow, sku=sku, low_stock=low, location=location), done)


@router.post("/console/inventory/sku/{sku}/adjust")
def adjust(request: Request, sku: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Add or remove units (a delta), or set the counted quantity; each with its reason and note."""
    prefix = "adjust."
    mode = form.get("mode") or "delta"
    quantity = int_or_none(form.get("quantity"))
    reason = str(form.get("reason") or "")
    errors: dict[str, str] = {}
    if quantity is None or (mode == "delta" and quantity == 0):
        errors[prefix + "quantity"] = "Give a whole number of units (negative to remove; not zero)."
    if reason not in REASON_LABELS:
        errors[prefix + "reason"] = "Choose why the stock changes."
    if errors:
        me = console_user(request, *INVENTORY_ROLES)
        return _page(request, me, sku, values={prefix + k: v for k, v in form.items() if isinstance(v, str)},
                     errors=errors, status=422)

    def run(uow: Any) -> dict[str, Any]:
        location = str(form.get("location") or "")
        note = text_or_none(form.get("note"))
        if mode == "set":
            return inventory.adjust(uow, sku=sku, location=location, set_to=quantity,
                                    expected=int_or_none(form.get("expected")), reason=reason, note=note)
        return inventory.adjust(uow, sku=sku, location=location, delta=quantity, reason=reason, note=note)

    def done(row: dict[str, Any]) -> str:
        return (f"{sku} at {row['location']}: on hand {row['on_hand']}, available {row['available']} "
                f"({REASON_LABELS[reason]}).")
    return _write(request, sku, form, prefix, run, done, {"delta": "quantity", "set": "quantity", "sku": "_form"})
