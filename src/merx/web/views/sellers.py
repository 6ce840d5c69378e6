"""Console marketplace: the seller portal (a seller sees only its own offers, orders to
accept, shipments, statements and rating) and the operator's view of every seller (staff),
through the sellers context's use cases (the same scoping as the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Problem
from merx.marketplace import public as marketplace
from merx.sellers import public as sellers
from merx.sellers.public import AcceptIn, ShipIn
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, refusal_redirect, text_or_none

router = APIRouter(route_class=PageRoute)
PORTAL_ROLES = (Role.admin, Role.staff, Role.seller)
STAFF = (Role.admin, Role.staff)
PAGE_SIZE = 25
ORDER_STATUSES = ["awaiting_acceptance", "accepted", "shipped", "refused", "cancelled"]


def _scope(me: Any, seller: int | None) -> int | None:
    """A seller's own id; staff may narrow to one seller (None: all)."""
    return me.seller_id if me.role == Role.seller else seller


def _fail(url: str, e: Exception) -> Response:
    return refusal_redirect(url, e)


@router.get("/console/marketplace")
def overview(request: Request) -> Response:
    me = console_user(request, *PORTAL_ROLES)
    ctx: dict[str, Any] = {"tab": "overview"}
    with unit_of_work(request, me, readonly=True) as uow:
        if me.role == Role.seller:
            ctx["seller"] = marketplace.get_seller_out(uow, me.seller_id)
            ctx["rating"] = sellers.get_rating(uow, me.seller_id)
            ctx["violations"] = sellers.list_violations(uow)
            ctx["balance"] = sellers.balances(uow, me.seller_id)
            ctx["awaiting"] = sellers.list_seller_orders(uow, status="awaiting_acceptance", limit=200).items
        else:
            page = marketplace.list_sellers(uow, limit=200)
            ctx["sellers"] = page.items
            ctx["balances"] = {s.id: sellers.balances(uow, s.id) for s in page.items}
            ctx["cycles"] = sellers.list_cycles(uow)[:10]
            ctx["next_cycle_end"] = sellers.cycle_end_before(utcnow())
            ctx["commissions"] = sellers.list_commission_rules(uow)
            ctx["awaiting_count"] = len(sellers.list_seller_orders(uow, status="awaiting_acceptance", limit=200).items)
    return render(request, "console/sellers.html", ctx, principal=me)


@router.post("/console/marketplace/payout-cycle")
def run_cycle(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)
    try:
        with unit_of_work(request, me) as uow:
            cycle = sellers.run_payout_cycle(uow, sellers.cycle_end_before(utcnow()))
    except Exception as e:  # noqa: BLE001 - refusals become a flash, the rest is raised by _fail
        return _fail("/console/marketplace", e)
    return redirect("/console/marketplace", flash=f"Payout cycle {cycle.id} closed: {cycle.sellers} sellers, "
                                                  f"{cycle.entries} ledger entries.")


@router.get("/console/marketplace/offers")
def offers_page(request: Request, seller: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *PORTAL_ROLES)
    seller_id = _scope(me, int_or_none(seller))
    with unit_of_work(request, me, readonly=True) as uow:
        page = sellers.list_offers(uow, seller_id=seller_id, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "console/sellers_offers.html",
                  {"tab": "offers", "offers": page.items, "next_cursor": page.next_cursor, "seller": seller or "",
                   "columns": sellers.IMPORT_COLUMNS}, principal=me)


@router.post("/console/marketplace/offers/import")
async def import_offers(request: Request) -> Response:
    """A seller's offers from a CSV or XLSX file (columns: see IMPORT_COLUMNS); staff name the seller."""
    from merx.web.common import checked_form

    form = await checked_form(request)
    me = console_user(request, *PORTAL_ROLES)
    upload = form.get("file")
    if upload is None or not hasattr(upload, "read"):
        return redirect("/console/marketplace/offers", flash="Not imported: choose a CSV file.")
    raw = await upload.read()
    try:
        rows = sellers.rows_from_file(raw, getattr(upload, "filename", "") or "")
    except Problem as e:
        return redirect("/console/marketplace/offers", flash=f"Not imported: {problem_sentence(e)}")
    seller_id = None if me.role == Role.seller else int_or_none(text_or_none(form.get("seller_id")))
    try:
        with unit_of_work(request, me) as uow:
            result = sellers.import_offers(uow, rows, seller_id=seller_id)
    except Exception as e:  # noqa: BLE001
        return _fail("/console/marketplace/offers", e)
    msg = f"Imported: {result['created']} offers created, {result['updated']} updated"
    if result["errors"]:
        first = result["errors"][0]
        msg += f"; {len(result['errors'])} problems (row {first['row']} {first['field']}: {first['message']})"
    return redirect("/console/marketplace/offers", flash=msg + ".")


@router.get("/console/marketplace/orders")
def orders_page(request: Request, status: str | None = None, seller: str | None = None,
                cursor: str | None = None) -> Response:
    me = console_user(request, *PORTAL_ROLES)
    status = text_or_none(status)
    status = status if status in ORDER_STATUSES else None
    with unit_of_work(request, me, readonly=True) as uow:
        page = sellers.list_seller_orders(uow, status=status, seller_id=_scope(me, int_or_none(seller)),
                                          limit=PAGE_SIZE, cursor=cursor)
    return render(request, "console/sellers_orders.html",
                  {"tab": "orders", "orders": [o for o in page.items if o.seller_id is not None],
                   "next_cursor": page.next_cursor, "status": status or "", "statuses": ORDER_STATUSES,
                   "seller": seller or ""}, principal=me)


@router.post("/console/marketplace/orders/{seller_order_id}/accept")
def accept(request: Request, seller_order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The form sends `decision_<line id>` = accept | refuse (lines left blank stay open) and
    `reason_<line id>`."""
    me = console_user(request, *PORTAL_ROLES)
    lines = []
    for key, value in form.items():
        if key.startswith("decision_") and value in ("accept", "refuse"):
            line_id = int_or_none(key[len("decision_"):])
            if line_id is not None:
                lines.append({"line_id": line_id, "accepted": value == "accept",
                              "reason": text_or_none(form.get(f"reason_{line_id}"))})
    url = "/console/marketplace/orders"
    if not lines:
        return redirect(url, flash="Nothing decided: choose accept or refuse for at least one line.")
    try:
        body = AcceptIn(lines=lines)
        with unit_of_work(request, me) as uow:
            out = sellers.accept(uow, seller_order_id, body)
    except Exception as e:  # noqa: BLE001
        return _fail(url, e)
    return redirect(url, flash=f"Seller order {out.id} ({out.order_number}) is now {out.status.replace('_', ' ')}.")


@router.post("/console/marketplace/orders/{seller_order_id}/ship")
def ship(request: Request, seller_order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *PORTAL_ROLES)
    url = "/console/marketplace/orders?status=accepted"
    try:
        body = ShipIn(carrier=str(form.get("carrier", "")).strip(),
                                        tracking_number=str(form.get("tracking_number", "")).strip(),
                                        tracking_url=text_or_none(form.get("tracking_url")))
        with unit_of_work(request, me) as uow:
            out = sellers.ship(uow, seller_order_id, body)
    except Exception as e:  # noqa: BLE001
        return _fail(url, e)
    late = " (late)" if out.shipped_late else ""
    return redirect(url, flash=f"Seller order {out.id} shipped with {out.carrier} {out.tracking_number}{late}.")


@router.get("/console/marketplace/statements")
def statements_page(request: Request, seller: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *PORTAL_ROLES)
    seller_id = _scope(me, int_or_none(seller))
    with unit_of_work(request, me, readonly=True) as uow:
        payouts = sellers.list_payouts(uow, seller_id=seller_id, limit=PAGE_SIZE, cursor=cursor)
        ledger = sellers.list_ledger(uow, seller_id=seller_id, limit=50)
        balance = sellers.balances(uow, seller_id)
    # Chart.js takes numbers: the chart only draws the figures the table prints exactly
    chart = {"type": "bar", "data": {"labels": [p.period_end.date().isoformat() for p in reversed(payouts.items)],
                                     "datasets": [{"label": "Paid out", "data": [float(p.amount.amount)
                                                                                 for p in reversed(payouts.items)]}]},
             "options": {"plugins": {"legend": {"display": False}}}}
    return render(request, "console/sellers_statements.html",
                  {"tab": "statements", "payouts": payouts.items, "next_cursor": payouts.next_cursor,
                   "ledger": ledger.items, "balance": balance, "seller": seller or "", "chart": chart}, principal=me)



# -- product proposals (moderated new catalog products) ----------------------------------------

PROPOSAL_STATUSES = ["pending", "approved", "rejected"]


@router.get("/console/marketplace/proposals")
def proposals_page(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    """A seller proposes new catalog products and follows their moderation; staff approve or reject."""
    me = console_user(request, *PORTAL_ROLES)
    status = text_or_none(status)
    status = status if status in PROPOSAL_STATUSES else None
    with unit_of_work(request, me, readonly=True) as uow:
        page = sellers.list_proposals(uow, status=status, limit=PAGE_SIZE, cursor=cursor)
        names = ({s.id: s.name for s in marketplace.list_sellers(uow, limit=200).items}
                 if me.role != Role.seller else {})
        from merx.catalog import public as catalog

        categories = [c.code for c in catalog.list_categories(uow)]
    return render(request, "console/sellers_proposals.html",
                  {"tab": "proposals", "proposals": page.items, "next_cursor": page.next_cursor,
                   "status": status or "", "statuses": PROPOSAL_STATUSES, "seller_names": names,
                   "categories": categories, "currency": request.app.state.settings.default_currency},
                  principal=me)


@router.post("/console/marketplace/proposals")
def propose(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.seller)
    url = "/console/marketplace/proposals"
    attributes = {}
    for line in str(form.get("attributes", "")).splitlines():  # "code: value" per line
        if ":" in line:
            code, value = line.split(":", 1)
            if code.strip():
                attributes[code.strip()] = value.strip()
    images = [u.strip() for u in str(form.get("image_urls", "")).split() if u.strip()]
    try:
        body = sellers.ProposalIn(sku=str(form.get("sku", "")).strip(), name=str(form.get("name", "")).strip(),
                                  description=text_or_none(form.get("description")),
                                  category=text_or_none(form.get("category")), brand=text_or_none(form.get("brand")),
                                  attributes=attributes, image_urls=images,
                                  price={"amount": str(form.get("price", "")).strip() or "0",
                                         "currency": request.app.state.settings.default_currency})
        with unit_of_work(request, me) as uow:
            p = sellers.propose(uow, body)
    except Exception as e:  # noqa: BLE001 - refusals become a flash, the rest is raised by _fail
        return _fail(url, e)
    return redirect(url, flash=f"Proposed {p.sku}: staff will review it.")


@router.post("/console/marketplace/proposals/{proposal_id}/decide")
def decide_proposal(request: Request, proposal_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *STAFF)
    url = "/console/marketplace/proposals?status=pending"
    try:
        with unit_of_work(request, me) as uow:
            if form.get("decision") == "approve":
                p = sellers.approve_proposal(uow, proposal_id)
                flash = f"Approved {p.sku}: catalog product {p.product_id} is on sale; sellers can offer it."
            else:
                p = sellers.reject_proposal(uow, proposal_id, sellers.ProposalDecisionIn(
                    reason=text_or_none(form.get("reason"))))
                flash = f"Rejected {p.sku}: {p.reason}"
    except Exception as e:  # noqa: BLE001
        return _fail(url, e)
    return redirect(url, flash=flash)
