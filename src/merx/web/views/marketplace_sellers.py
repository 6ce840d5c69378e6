"""Console marketplace sellers (the operator's side): the seller registry, searchable and
paged; registering a seller; its page with the onboarding decisions (approve or reject the
application, suspend and reinstate, each with a reason), the premium flag, the company and
KYC data, and the history of those changes.

Every write is `marketplace.update_seller` / `create_seller`, the use cases behind
`POST/PATCH /api/v1/sellers`, so the status rules (pending -> active needs verified KYC;
active <-> suspended), the audit entries and the `seller.updated` event (search re-ranks the
seller's products) are the API's. Admin and staff only, as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.audit import audit_entries
from merx.core.auth import Role
from merx.core.errors import NotFound
from merx.marketplace import public as marketplace
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import refusal_redirect, text_or_none
from merx.web.views.listing import list_query

router = APIRouter(route_class=PageRoute)
OPERATORS = (Role.admin, Role.staff)  # who manages sellers (the API's STAFF)
PAGE_SIZE = 25
STATUSES = ["pending", "active", "suspended"]
KYC_STATUSES = ["not_submitted", "submitted", "verified", "rejected"]
# The onboarding decisions: what each sets, whether it needs a reason, and its sentence.
DECISIONS: dict[str, tuple[dict[str, str], bool, str]] = {
    "approve": ({"kyc_status": "verified", "status": "active"}, False, "approved: it can sell now"),
    "reject": ({"kyc_status": "rejected"}, True, "application rejected: it stays pending"),
    "suspend": ({"status": "suspended"}, True, "suspended: its offers are no longer sold"),
    "reinstate": ({"status": "active"}, True, "reinstated: it can sell again"),
}
HISTORY_FIELDS = ("status", "kyc_status", "premium", "name", "legal_name", "registration_number", "tax_id",
                  "contact_email")
MAX_HISTORY_PAGES = 20  # of 500 audit entries: a seller's own changes are few, its ratings many


@router.get("/console/marketplace/sellers")
def sellers_page(request: Request, status: str | None = None) -> Response:
    me = console_user(request, *OPERATORS)
    lq = list_query(request, "status")
    status = status if status in STATUSES else None
    with unit_of_work(request, me, readonly=True) as uow:
        page = marketplace.list_sellers(uow, limit=PAGE_SIZE, cursor=lq.cursor, q=lq.q, status=status)
    return render(request, "console/marketplace_sellers.html",
                  {"tab": "sellers", "sellers": page.items, "next_cursor": page.next_cursor, "lq": lq,
                   "status": status or "", "statuses": STATUSES, "kyc_statuses": KYC_STATUSES}, principal=me)


@router.post("/console/marketplace/sellers")
def create_seller(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *OPERATORS)
    back = "/console/marketplace/sellers"
    try:
        body = marketplace.SellerCreate(
            code=str(form.get("code", "")).strip(), name=str(form.get("name", "")).strip(),
            city=text_or_none(form.get("city")), country=(text_or_none(form.get("country")) or "").upper() or None,
            legal_name=text_or_none(form.get("legal_name")),
            registration_number=text_or_none(form.get("registration_number")),
            tax_id=text_or_none(form.get("tax_id")), contact_email=text_or_none(form.get("contact_email")),
            kyc_status=form.get("kyc_status") or "not_submitted",
            status="active" if form.get("status") == "active" else "pending", premium=form.get("premium") == "on")
        with unit_of_work(request, me) as uow:
            seller = marketplace.create_seller(uow, body)
    except Exception as e:  # noqa: BLE001 - refusals become a flash, the rest is raised by _refused
        return refusal_redirect(back, e)
    return redirect(f"/console/marketplace/sellers/{seller.id}",
                    flash=f"Seller {seller.name} registered ({seller.status}).")


def _shown(value: Any) -> Any:
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


def _history(uow: Any, seller_id: int) -> list[dict[str, Any]]:
    """The seller's registration and changes (not its nightly ratings), newest first, as
    "field: before → after" with the reason given."""
    names = {u["id"]: u["name"] for u in accounts.list_users(uow)}
    entries, cursor = [], None
    for _ in range(MAX_HISTORY_PAGES):
        page = audit_entries(uow, entity_type="seller", entity_id=str(seller_id), limit=500, cursor=cursor)
        entries += [e for e in page.items if e.action in ("create", "update")]
        cursor = page.next_cursor
        if cursor is None:
            break
    rows = []
    for e in reversed(entries):
        before, after = e.before or {}, e.after or {}
        changed = [(f, _shown(before.get(f)), _shown(after.get(f))) for f in HISTORY_FIELDS
                   if e.action == "update" and before.get(f) != after.get(f)]
        rows.append({"at": e.at, "action": e.action, "changed": changed, "reason": after.get("reason"),
                     "by": names.get(e.actor_user_id) or (e.actor_role or "system")})
    return rows


@router.get("/console/marketplace/sellers/{seller_id}")
def seller_page(request: Request, seller_id: int) -> Response:
    me = console_user(request, *OPERATORS)
    with unit_of_work(request, me, readonly=True) as uow:
        seller = marketplace.get_seller_out(uow, seller_id)
        history = _history(uow, seller_id)
    decisions = {"pending": ["approve", "reject"], "active": ["suspend"], "suspended": ["reinstate"]}[seller.status]
    return render(request, "console/marketplace_seller.html",
                  {"tab": "sellers", "seller": seller, "history": history, "decisions": decisions,
                   "kyc_statuses": KYC_STATUSES}, principal=me)


@router.post("/console/marketplace/sellers/{seller_id}/decision")
def decide(request: Request, seller_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Approve or reject an application, suspend or reinstate a seller (a reason is required
    except to approve; it is kept in the audit entry of the change)."""
    me = console_user(request, *OPERATORS)
    back = f"/console/marketplace/sellers/{seller_id}"
    decision = str(form.get("decision", ""))
    if decision not in DECISIONS:
        return redirect(back, flash="Not saved: choose approve, reject, suspend or reinstate.")
    fields, needs_reason, done = DECISIONS[decision]
    reason = text_or_none(form.get("reason"))
    if needs_reason and reason is None:
        return redirect(back, flash=f"Not saved: give the reason to {decision} this seller (the seller's history "
                                    "keeps it).")
    try:
        with unit_of_work(request, me) as uow:
            seller = marketplace.update_seller(uow, seller_id, marketplace.SellerUpdate(**fields, reason=reason))
    except NotFound:
        raise
    except Exception as e:  # noqa: BLE001
        return refusal_redirect(back, e)
    return redirect(back, flash=f"{seller.name} {done}.")


@router.post("/console/marketplace/sellers/{seller_id}/premium")
def set_premium(request: Request, seller_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *OPERATORS)
    back = f"/console/marketplace/sellers/{seller_id}"
    premium = form.get("premium") == "yes"
    try:
        with unit_of_work(request, me) as uow:
            seller = marketplace.update_seller(uow, seller_id, marketplace.SellerUpdate(premium=premium))
    except NotFound:
        raise
    except Exception as e:  # noqa: BLE001
        return refusal_redirect(back, e)
    return redirect(back, flash=f"{seller.name} is {'now' if premium else 'no longer'} a premium seller"
                                + (": search ranks its products higher." if premium else "."))


@router.post("/console/marketplace/sellers/{seller_id}")
def save_company(request: Request, seller_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The company and KYC data (an empty field clears it; the name stays required)."""
    me = console_user(request, *OPERATORS)
    back = f"/console/marketplace/sellers/{seller_id}"
    try:
        body = marketplace.SellerUpdate(
            name=str(form.get("name", "")).strip(), legal_name=text_or_none(form.get("legal_name")),
            registration_number=text_or_none(form.get("registration_number")),
            tax_id=text_or_none(form.get("tax_id")), contact_email=text_or_none(form.get("contact_email")),
            kyc_status=form.get("kyc_status") or None)
        with unit_of_work(request, me) as uow:
            seller = marketplace.update_seller(uow, seller_id, body)
    except NotFound:
        raise
    except Exception as e:  # noqa: BLE001
        return refusal_redirect(back, e)
    return redirect(back, flash=f"{seller.name} saved.")
