"""Console pages for the shop's set-up that used to be API-only: promotions and coupons,
price lists, locations with their opening hours, users with their API keys, and loyalty
programmes.

Each page lists (paged), creates, and changes what a merchant changes day to day; every
write goes through the owning context's public functions, so the rules (validation,
audit, events) are the API's."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core import accounts
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.crm import public as crm
from merx.instore import public as instore
from merx.inventory import public as inventory
from merx.marketplace import public as marketplace
from merx.pricing import public as pricing
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none, validation_sentence
from merx.web.views.listing import list_query, whole_list_page

router = APIRouter(route_class=PageRoute)
MANAGERS = (Role.admin, Role.staff)
PAGE_SIZE = 50
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROMOTION_KINDS = [("order_percent", "Percent off the order"), ("order_fixed", "Amount off the order"),
                   ("line_percent", "Percent off items"), ("line_fixed", "Amount off items"),
                   ("free_shipping", "Free shipping")]


def _write(request: Request, back: str, done: str, run: Callable[[Any], Any], *roles: Role) -> Response:
    """Runs one console write; a refusal comes back as a sentence on the same page."""
    me = console_user(request, *(roles or MANAGERS))
    try:
        with unit_of_work(request, me) as uow:
            run(uow)
    except ValidationError as e:
        return redirect(back, flash=f"Not saved: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not saved: {problem_sentence(e)}")
    return redirect(back, flash=done)


# -- promotions and coupons --------------------------------------------------------------------


@router.get("/console/promotions")
def promotions_page(request: Request, active: str | None = None) -> Response:
    me = console_user(request, *MANAGERS)
    lq = list_query(request, "active")
    flag = {"yes": True, "no": False}.get(active or "")
    with unit_of_work(request, me, readonly=True) as uow:
        rows, next_cursor = pricing.promotions_page(uow, active=flag, limit=PAGE_SIZE, cursor=lq.cursor, q=lq.q)
    return render(request, "console/promotions.html", {
        "rows": rows, "next_cursor": next_cursor, "lq": lq, "active": active or "", "kinds": PROMOTION_KINDS,
        "currency": request.app.state.settings.default_currency}, principal=me)


@router.post("/console/promotions")
def create_promotion(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        kind = str(form.get("kind", ""))
        data: dict[str, Any] = {"name": str(form.get("name", "")).strip(), "kind": kind,
                                "coupon_code": text_or_none(form.get("coupon_code"))}
        if kind.endswith("percent"):
            data["percent"] = text_or_none(form.get("value"))
        elif kind.endswith("fixed"):
            data["amount"] = text_or_none(form.get("value"))
            data["currency"] = request.app.state.settings.default_currency
        minimum = text_or_none(form.get("min_subtotal"))
        if minimum:
            data["min_subtotal"] = minimum
            data["currency"] = request.app.state.settings.default_currency
        limit = text_or_none(form.get("usage_limit_total"))
        if limit:
            data["usage_limit_total"] = limit
        return pricing.create_promotion(uow, pricing.PromotionCreate.model_validate(data))

    return _write(request, "/console/promotions", "Promotion created.", run)


@router.post("/console/promotions/bulk")
def bulk_promotions(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Activate or pause a selection of promotions in one step."""
    ids = [int(i) for i in form["__multi__"].getlist("id") if str(i).isdigit()]
    action = form.get("action")
    if action not in ("activate", "pause") or not ids:
        return redirect("/console/promotions", flash="Choose promotions and an action.")

    def run(uow: Any) -> None:
        for promotion_id in ids:
            pricing.update_promotion(uow, promotion_id, pricing.PromotionPatch(active=action == "activate"))

    return _write(request, "/console/promotions",
                  f"{len(ids)} promotion{'s' if len(ids) != 1 else ''} {'activated' if action == 'activate' else 'paused'}.",
                  run)


# -- price lists -------------------------------------------------------------------------------


@router.get("/console/price-lists")
def price_lists_page(request: Request) -> Response:
    me = console_user(request, *MANAGERS, Role.sales_rep)
    lq = list_query(request)
    with unit_of_work(request, me, readonly=True) as uow:
        rows, next_cursor = pricing.price_lists_page(uow, limit=PAGE_SIZE, cursor=lq.cursor, q=lq.q)
    return render(request, "console/price_lists.html", {"rows": rows, "next_cursor": next_cursor, "lq": lq,
                                                        "can_write": me.role in MANAGERS}, principal=me)


@router.post("/console/price-lists")
def create_price_list(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        return pricing.create_price_list(uow, pricing.PriceListCreate.model_validate({
            "code": str(form.get("code", "")).strip(), "name": str(form.get("name", "")).strip(),
            "currency": str(form.get("currency", "")).strip().upper(), "channel": text_or_none(form.get("channel")),
            "customer_group": text_or_none(form.get("customer_group")),
            "priority": int(form.get("priority") or 0)}))

    return _write(request, "/console/price-lists", "Price list created.", run)


def parse_price_lines(text: str) -> list[dict[str, str]]:
    """ "SKU amount" per line (a comma or semicolon also separates) -> price rows; a line that
    is not two fields, or whose amount is not a number, is refused naming its line number."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.replace(";", " ").replace("\t", " ").split()
        if len(parts) != 2:
            raise Problem(f"Line {number} should be a SKU and an amount, like 'MUG-1 12.50'.", status=422,
                          title="Invalid input")
        sku, amount = parts[0], parts[1].replace(",", ".")
        try:
            if not Decimal(amount).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise Problem(f"Line {number}: {parts[1]!r} is not an amount.", status=422, title="Invalid input") from None
        out.append({"sku": sku, "amount": amount})
    if not out:
        raise Problem("Paste at least one 'SKU amount' line.", status=422, title="Invalid input")
    return out


@router.post("/console/price-lists/{code}/prices")
def set_prices(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        return pricing.set_prices(uow, code, parse_price_lines(str(form.get("prices", ""))))

    return _write(request, "/console/price-lists", f"Prices of {code} saved.", run)


# -- locations and opening hours ---------------------------------------------------------------


def _hours_from_form(form: dict[str, Any]) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        opens, closes = text_or_none(form.get(f"open_{day}")), text_or_none(form.get(f"close_{day}"))
        if opens and closes:
            hours[day] = [[opens, closes]]
        elif opens or closes:
            raise Problem(f"Give both the opening and the closing time for {day}, or neither (closed).",
                          status=422, title="Invalid input")
    return hours


@router.get("/console/locations")
def locations_page(request: Request) -> Response:
    me = console_user(request, *MANAGERS)
    lq = list_query(request)
    with unit_of_work(request, me, readonly=True) as uow:
        rows, next_cursor = inventory.list_locations(uow, limit=PAGE_SIZE, cursor=lq.cursor, q=lq.q)
    # staff see the locations; creating and changing them is the admin's, as in the API
    return render(request, "console/locations.html", {"rows": rows, "next_cursor": next_cursor, "lq": lq,
                                                      "days": DAYS, "can_write": me.role == Role.admin}, principal=me)


@router.post("/console/locations")
def create_location(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        data: dict[str, Any] = {"code": str(form.get("code", "")).strip(), "name": str(form.get("name", "")).strip(),
                                "kind": form.get("kind"), "address": text_or_none(form.get("address")),
                                "pickup": form.get("pickup") == "on", "accepts_returns": form.get("accepts_returns") == "on"}
        for key in ("lat", "lon"):
            if text_or_none(form.get(key)):
                try:
                    data[key] = float(str(form[key]).replace(",", "."))
                except ValueError:
                    raise Problem(f"{key} must be a number like 52.2297.", status=422, title="Invalid input") from None
        hours = _hours_from_form(form)
        if hours:
            data["opening_hours"] = hours
        # the API's validation (code pattern, coordinates in range, kind) before the use case
        return inventory.create_location(uow, inventory.LocationCreate.model_validate(data).model_dump())

    return _write(request, "/console/locations", "Location created.", run, Role.admin)


@router.post("/console/locations/{code}")
def update_location(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        hours = _hours_from_form(form)
        # this quick form shows a day's first span only: a day left as shown keeps its later spans
        current = inventory.get_location_by_code(uow, code).opening_hours or {}
        for day, spans in hours.items():
            if current.get(day) and [list(s) for s in current[day][:1]] == spans:
                hours[day] = [list(s) for s in current[day]]
        return inventory.update_location(uow, code, {
            "pickup": form.get("pickup") == "on", "accepts_returns": form.get("accepts_returns") == "on",
            "active": form.get("active") == "on", "opening_hours": hours or None})

    return _write(request, "/console/locations", f"{code} saved.", run, Role.admin)


# -- users and API keys ------------------------------------------------------------------------


def _user_texts(user: dict[str, Any]) -> list[Any]:
    """What the users page's search looks in: the user and the names and prefixes of their keys."""
    return [user["name"], user["email"], user["role"],
            *(text for key in user["keys"] for text in (key["name"], key["prefix"]))]


def users_context(uow: Any, request: Request) -> dict[str, Any]:
    lq = list_query(request, path="/console/users")
    users, next_cursor = whole_list_page(accounts.list_users(uow), lq, _user_texts, key=lambda u: u["id"],
                                         limit=PAGE_SIZE)
    # a store associate acts only in the stores bound here (instore/access.py)
    bound = {u["id"]: {s.code for s in instore.stores_of(uow, u["id"])} for u in users
             if u["role"] == Role.store_associate}
    return {"users": users, "lq": lq, "next_cursor": next_cursor,
            "roles": [r.value for r in Role if r not in (Role.customer,)],
            "stores": instore.my_stores(uow), "bound_stores": bound}


@router.get("/console/users")
def users_page(request: Request) -> Response:
    me = console_user(request, Role.admin)
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = users_context(uow, request)
    return render(request, "console/users.html", ctx, principal=me)


@router.post("/console/users")
def create_user(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        role = str(form.get("role", ""))
        if role not in {r.value for r in Role} or role == Role.customer.value:
            raise Problem(f"{role!r} is not a console role.", status=422, title="Invalid input")
        password = str(form.get("password", ""))
        if len(password) < 12:
            raise Problem("The password needs at least 12 characters.", status=422, title="Invalid input")
        email = str(form.get("email", "")).strip()
        if "@" not in email:
            raise Problem("Give the user's email address (they sign in with it).", status=422, title="Invalid input")
        seller_id = None
        seller_code = text_or_none(form.get("seller_code"))
        if role == Role.seller.value:  # a seller's login acts for that seller only (its portal)
            if seller_code is None:
                raise Problem("Give the code of the seller this user works for.", status=422, title="Invalid input")
            seller_id = marketplace.seller_id_by_code(uow, seller_code)
            if seller_id is None:
                raise Problem(f"No seller has the code {seller_code}.", status=422, title="Invalid input")
        accounts.create_user(uow, name=str(form.get("name", "")).strip() or email, role=Role(role), email=email,
                             password=password, seller_id=seller_id)
        uow.commit()

    return _write(request, "/console/users", "User created.", run, Role.admin)


@router.post("/console/users/{user_id}/active")
def set_active(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    active = form.get("active") == "yes"
    return _write(request, "/console/users", "User activated." if active else "User deactivated: signed out everywhere.",
                  lambda uow: accounts.set_user_active(uow, user_id, active), Role.admin)


@router.post("/console/users/{user_id}/stores")
def bind_stores(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Bind a store associate to the ticked stores (replaces their stores)."""
    codes = [str(c) for c in form["__multi__"].getlist("store")]

    def run(uow: Any) -> Any:
        return instore.bind_associate(uow, user_id, codes, role_of_user=accounts.user_role(uow, user_id))

    return _write(request, "/console/users", "Stores saved: the associate works in the ticked stores.", run,
                  Role.admin)


@router.post("/console/users/{user_id}/keys")
def issue_key(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The key is shown once, on this response; only its hash is stored."""
    me = console_user(request, Role.admin)
    name = str(form.get("name", "")).strip() or "console"
    try:
        with unit_of_work(request, me) as uow:
            issued = accounts.issue_api_key_for(uow, user_id, name)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/users", flash=f"Not issued: {problem_sentence(e)}")
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = users_context(uow, request)
    ctx["issued"] = issued
    return render(request, "console/users.html", ctx, principal=me)


@router.post("/console/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _write(request, "/console/users", "Key revoked: it no longer works.",
                  lambda uow: accounts.revoke_api_key(uow, key_id), Role.admin)


# -- loyalty programmes ------------------------------------------------------------------------


def parse_tiers(text: str) -> list[dict[str, Any]]:
    """ "Silver 500" per line (name and the points that reach it; benefits after a colon:
    "Gold 2000: free shipping, early access")."""
    tiers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        head, _, benefits = line.partition(":")
        parts = head.split()
        if len(parts) < 2 or not parts[-1].isdigit():
            raise Problem(f"Tier line {number} should be a name and the points that reach it, like 'Gold 2000'.",
                          status=422, title="Invalid input")
        tiers.append({"name": " ".join(parts[:-1]), "threshold": int(parts[-1]),
                      "benefits": [b.strip() for b in benefits.split(",") if b.strip()]})
    return tiers


@router.get("/console/loyalty")
def loyalty_page(request: Request) -> Response:
    me = console_user(request, *MANAGERS)
    lq = list_query(request)
    with unit_of_work(request, me, readonly=True) as uow:
        programs, next_cursor = whole_list_page(
            [crm.ProgramOut.model_validate(p, from_attributes=True) for p in crm.list_programs(uow)], lq,
            lambda p: (p.code, p.name, p.currency), key=lambda p: p.id, limit=PAGE_SIZE)
    return render(request, "console/loyalty.html", {"programs": programs, "lq": lq, "next_cursor": next_cursor,
                                                    "currency": request.app.state.settings.default_currency},
                  principal=me)


@router.post("/console/loyalty")
def create_loyalty_program(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any) -> Any:
        body = crm.ProgramIn.model_validate({
            "code": str(form.get("code", "")).strip(), "name": str(form.get("name", "")).strip(),
            "currency": str(form.get("currency", "")).strip().upper(),
            "points_per_unit": str(form.get("points_per_unit", "")).replace(",", "."),
            "point_value": str(form.get("point_value", "")).replace(",", "."),
            "expiry_days": text_or_none(form.get("expiry_days")),
            "referral_reward_points": int(form.get("referral_reward_points") or 0),
            "redeem_min_points": int(form.get("redeem_min_points") or 0),
            "redeem_max_share": str(form.get("redeem_max_share") or "1").replace(",", "."),
            "tiers": parse_tiers(str(form.get("tiers", "")))})
        crm.create_program(uow, code=body.code, name=body.name, currency=body.currency,
                           points_per_unit=body.points_per_unit, point_value=body.point_value,
                           expiry_days=body.expiry_days, tiers=[t.model_dump() for t in body.tiers],
                           referral_reward_points=body.referral_reward_points,
                           redeem_min_points=body.redeem_min_points, redeem_max_share=body.redeem_max_share)
        uow.commit()

    return _write(request, "/console/loyalty", "Loyalty programme created.", run)
