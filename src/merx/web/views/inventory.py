"""Console inventory: stock per location, adjustments (delta or compare-and-set count),
transfers between locations and the movement ledger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.catalog import public as catalog
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.inventory import public as inventory
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.core.pagination import matches_text, page_list
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.listing import ListQuery, list_query

router = APIRouter(route_class=PageRoute)
INVENTORY_ROLES = (Role.admin, Role.staff)
PAGE_ROWS = 100


def _sold_out_everywhere(uow: Any) -> list[str]:
    """Active catalog SKUs with nothing available at any location, those that never had a
    stock row included: stock rows alone miss them, so the page counted 0 sold out."""
    skus = [v["sku"] for doc in catalog.iter_product_documents(uow) if doc.status == "active" for v in doc.variants]
    statuses = inventory.aggregate_statuses(uow, skus) if skus else {}
    return [s for s in skus if statuses.get(s) == "out_of_stock"]


def _page_context(uow: Any, lq: ListQuery, sku: str | None, location: str | None,
                  status: str | None) -> dict[str, Any]:
    """The stock rows matching the filters and the search text (SKU or product name), one page
    in SKU then location order. The status is derived from each row's threshold, so the rows
    are filtered here, not in SQL; the cursor is the row's position in that order."""
    locations, _ = inventory.list_locations(uow, limit=100)
    levels = inventory.stock_levels(uow, sku=sku, location=location)
    capped = len(levels) >= inventory.MAX_STOCK_ROWS
    if status:
        levels = [r for r in levels if r["status"] == status]
    sold_out = _sold_out_everywhere(uow)
    if status == "out_of_stock" and not location:
        # a SKU with no stock row anywhere is out of stock too: listed once, with no location
        have_rows = {r["sku"] for r in levels}
        levels += [{"sku": s, "location": "", "on_hand": 0, "reserved": 0, "available": 0, "incoming": 0,
                    "low_stock_threshold": "", "status": "out_of_stock"}
                   for s in sold_out if s not in have_rows and (not sku or s == sku)]
        levels.sort(key=lambda r: (r["sku"], r["location"]))
    names: dict[str, str] = {}
    if lq.q:
        names = {s: i.name for s, i in catalog.lookup_skus(uow, [r["sku"] for r in levels]).items()}
        levels = [r for r in levels if matches_text(lq.q, r["sku"], names.get(r["sku"]))]
    positioned = list(enumerate(levels, start=1))
    page, next_cursor = page_list(positioned, lambda p: p[0], limit=PAGE_ROWS, cursor=lq.cursor)
    rows = [r for _, r in page]
    moves, _ = inventory.movements(uow, sku=sku, location=location, limit=20)
    missing = [r["sku"] for r in rows if r["sku"] not in names] + [m.get("sku") for m in moves if isinstance(m, dict)]
    names.update({s: i.name for s, i in catalog.lookup_skus(uow, missing).items()})
    totals: dict[str, dict[str, int]] = {}
    for r in inventory.stock_levels(uow):
        t = totals.setdefault(r["location"], {"skus": 0, "on_hand": 0, "reserved": 0, "low": 0, "out": 0})
        t["skus"] += 1
        t["on_hand"] += r["on_hand"]
        t["reserved"] += r["reserved"]
        t["low"] += r["status"] == "low_stock"
        t["out"] += r["status"] == "out_of_stock"
    return {"locations": locations, "levels": rows, "next_cursor": next_cursor, "lq": lq,
            "total_rows": len(levels), "capped": capped, "max_rows": inventory.MAX_STOCK_ROWS,
            "movements": moves, "totals": totals, "names": names,
            "sold_out": len(sold_out),
            "filters": {"sku": sku or "", "location": location or "", "status": status or ""}}


@router.get("/console/inventory")
def inventory_page(request: Request, sku: str | None = None, location: str | None = None,
                   status: str | None = None) -> Response:
    me = console_user(request, *INVENTORY_ROLES)
    lq = list_query(request, "sku", "location", "status")
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = _page_context(uow, lq, text_or_none(sku), text_or_none(location), text_or_none(status))
    return render(request, "console/inventory.html", ctx, principal=me)


@router.post("/console/inventory/adjust")
def adjust(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INVENTORY_ROLES)
    sku, location = text_or_none(form.get("sku")), text_or_none(form.get("location"))
    mode = form.get("mode", "delta")
    quantity = int_or_none(form.get("quantity"))
    expected = int_or_none(form.get("expected"))
    back = f"/console/inventory?sku={sku or ''}"
    if not sku or not location or quantity is None:
        return redirect(back, flash="Give a SKU, a location and a whole number quantity.")
    try:
        with unit_of_work(request, me) as uow:
            if mode == "set":
                row = inventory.adjust(uow, sku=sku, location=location, set_to=quantity, expected=expected,
                                       reason="count", note=text_or_none(form.get("note")))
            else:
                row = inventory.adjust(uow, sku=sku, location=location, delta=quantity,
                                       note=text_or_none(form.get("note")))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not adjusted: {problem_sentence(e)}")
    return redirect(back, flash=f"{sku} at {location}: on hand {row['on_hand']}, available {row['available']}.")


@router.post("/console/inventory/transfer")
def transfer(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INVENTORY_ROLES)
    sku = text_or_none(form.get("sku"))
    quantity = int_or_none(form.get("quantity"))
    back = f"/console/inventory?sku={sku or ''}"
    if not sku or quantity is None:
        return redirect(back, flash="Give a SKU and a whole number quantity to transfer.")
    try:
        with unit_of_work(request, me) as uow:
            out = inventory.transfer(uow, sku=sku, from_location=str(form.get("from_location", "")),
                                     to_location=str(form.get("to_location", "")), quantity=quantity,
                                     in_transit=form.get("in_transit") == "on", note=text_or_none(form.get("note")))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not transferred: {problem_sentence(e)}")
    return redirect(back, flash=f"Transfer {out['id']}: {quantity} × {sku} from {out['from_location']} to "
                                f"{out['to_location']} ({out['status'].replace('_', ' ')}).")
