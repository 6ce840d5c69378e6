"""The store associate app at `/associate`: a mobile-first page set (a PWA: manifest and a
service worker) for associates signed in with the console's session sign-in. Find and inform
(search with the storefront's engine, scan or type a barcode, the product card with stock
everywhere), the customer at the counter, assisted orders, the pickup queue and hand-over,
counter returns and the store's figures. Every store action goes through `instore.public`,
which checks the associate's stores; the cart lives in a signed cookie."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.auth import Principal
from merx.core.db import utcnow
from merx.core.errors import NotFound, Problem
from merx.core.ratelimit import RateLimited, check_rate
from merx.instore import public as instore
from merx.web.auth import session
from merx.web.common import (HERE, LoginRequired, PageRoute, csrf_form, current_principal, problem_sentence, redirect,
                             render, unit_of_work)
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.store import _cards, _catalog_filter, _search_engine, _tile

router = APIRouter(route_class=PageRoute)
CART_COOKIE = "merx_assoc_cart"
STORE_COOKIE = "merx_assoc_store"
MAX_LINES = 30
RETURN_REASONS = ("no_longer_needed", "defective", "damaged", "wrong_item", "not_as_described", "too_small",
                  "too_large", "late_delivery", "other")


# --------------------------------------------------------------------------------------------
# Shared bits: the associate, the store, the cart
# --------------------------------------------------------------------------------------------


def associate(request: Request) -> Principal:
    me = current_principal(request)
    if me.is_anonymous:
        raise LoginRequired()
    if me.role not in instore.IN_STORE_ROLES:
        raise Problem("The associate app is for store associates and staff.", status=403, title="Not allowed",
                      type_slug="forbidden")
    return me


def _secret(request: Request) -> bytes:
    return request.app.state.settings.secret_key.get_secret_value().encode()


def _cart(request: Request) -> dict[str, Any]:
    data = session.unsign(_secret(request), request.cookies.get(CART_COOKIE), "associate-cart") or {}
    lines = [(s, q) for s, q in (tuple(x) for x in data.get("lines", []) if isinstance(x, list) and len(x) == 2)
             if isinstance(s, str) and isinstance(q, int) and 0 < q < 100][:MAX_LINES]
    customer = data.get("customer") if isinstance(data.get("customer"), int) else None
    # the cart belongs to the associate who filled it (a shared phone does not leak it)
    if data.get("user") != current_principal(request).user_id:
        return {"lines": [], "customer": None}
    return {"lines": lines, "customer": customer}


def _save_cart(request: Request, response: Response, cart: dict[str, Any]) -> None:
    token = session.sign(_secret(request), {"lines": [[s, q] for s, q in cart["lines"]][:MAX_LINES],
                                            "customer": cart.get("customer"),
                                            "user": current_principal(request).user_id}, "associate-cart")
    response.set_cookie(CART_COOKIE, token, max_age=12 * 3600, httponly=True, samesite="lax", path="/associate")


def _stores(request: Request, uow: Any) -> tuple[list[instore.Store], instore.Store]:
    """The associate's stores and the one it works in now (its choice, else the first)."""
    stores = instore.my_stores(uow)
    if not stores:
        raise Problem("You are not bound to any store yet. Ask an administrator to add you to your store.",
                      status=403, title="No store", type_slug="no-store")
    wanted = request.cookies.get(STORE_COOKIE)
    current = next((s for s in stores if s.code == wanted), stores[0])
    return stores, instore.require_store(uow, current.code)


def _page(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> Response:
    cart = _cart(request)
    return render(request, f"associate/{template}", {"cart_count": sum(q for _, q in cart["lines"]), "tile": _tile,
                                                     "app": "associate"} | ctx, status=status)


# --------------------------------------------------------------------------------------------
# PWA: manifest and service worker (served under /associate so the worker's scope is the app)
# --------------------------------------------------------------------------------------------

_SW = (HERE / "static" / "associate-sw.js").read_text(encoding="utf-8")


@router.get("/associate/manifest.webmanifest")
def manifest() -> Response:
    body = ('{"name":"Merx store associate","short_name":"Merx store","start_url":"/associate",'
            '"scope":"/associate","display":"standalone","orientation":"portrait","background_color":"#ffffff",'
            '"theme_color":"#1f5f8b","icons":[{"src":"/assets/favicon.svg","sizes":"any","type":"image/svg+xml"}]}')
    return Response(body, media_type="application/manifest+json", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/associate/sw.js")
def service_worker() -> Response:
    return Response(_SW, media_type="text/javascript", headers={"Cache-Control": "no-cache",
                                                                 "Service-Worker-Allowed": "/associate"})


# --------------------------------------------------------------------------------------------
# Sign-in (the console's sessions, a phone-sized form)
# --------------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/associate") or "\\" in target or target.startswith("//"):
        return "/associate"
    return target


@router.get("/associate/login")
def login_page(request: Request, next: str | None = None) -> Response:
    me = current_principal(request)
    if not me.is_anonymous and me.role in instore.IN_STORE_ROLES:
        return redirect(_safe_next(next))
    return render(request, "associate/login.html", {"next": _safe_next(next), "app": "associate"})


@router.post("/associate/login")
def login(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    email = str(form.get("email", "")).strip().lower()
    target = _safe_next(str(form.get("next") or ""))
    ctx = {"email": email, "next": target, "app": "associate"}
    try:
        check_rate(request, "login")
    except RateLimited as limited:
        page = render(request, "associate/login.html", ctx | {"error": f"Too many sign-in attempts; try again in "
                                                                      f"{limited.retry_after} s."}, status=429)
        page.headers["Retry-After"] = str(limited.retry_after)
        return page
    result = accounts.authenticate(request.app.state.db, request.app.state.settings, email,
                                   str(form.get("password", "")))
    if result.user_id is None:
        if result.lockout is not None:
            return render(request, "associate/login.html", ctx | {
                "error": "Too many failed sign-ins for this account. Try again later."}, status=429)
        return render(request, "associate/login.html", ctx | {"error": "The email or password is not right."},
                      status=401)
    response = redirect(target)
    session.start_session(request, response, result.user_id)
    return response


@router.post("/associate/logout")
def logout(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    response = redirect("/associate/login", flash="You are signed out.")
    session.end_session(request, response)
    response.delete_cookie(CART_COOKIE, path="/associate")
    return response


# --------------------------------------------------------------------------------------------
# Home, store choice, search, scan
# --------------------------------------------------------------------------------------------


@router.get("/associate")
def home(request: Request) -> Response:
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        stores, store = _stores(request, uow)
        queue = instore.pickup_queue(uow, store)
    return _page(request, "home.html", {"stores": stores, "store": store, "to_prepare": len(queue["to_prepare"]),
                                        "ready": len(queue["ready"])})


@router.post("/associate/store")
def choose_store(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    code = text_or_none(form.get("store")) or ""
    with unit_of_work(request, me, readonly=True) as uow:
        store = instore.require_store(uow, code)
    response = redirect("/associate", flash=f"You are working in {store.name}.")
    response.set_cookie(STORE_COOKIE, store.code, max_age=30 * 24 * 3600, httponly=True, samesite="lax",
                        path="/associate")
    return response


@router.get("/associate/find")
def find(request: Request, q: str = Query("", max_length=200)) -> Response:
    me = associate(request)
    q = q.strip()
    cards: list[dict[str, Any]] = []
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        if q:
            result = None
            try:
                result = _search_engine(request, uow, q, category=None, brand=None, price_min=None, price_max=None,
                                        store=None, attrs=[], page=1, limit=20)
            except Problem:
                raise
            except Exception:  # the engine failing must not stop the counter: the catalog answers
                uow.rollback()
            if result is None:
                result = _catalog_filter(uow, q, category=None, brand=None, cursor=None, limit=20)
            cards = _cards(uow, result["ids"])
    return _page(request, "find.html", {"q": q, "cards": cards, "store": store})


@router.get("/associate/code")
def by_code(request: Request, code: str = Query("", max_length=100)) -> Response:
    """A scanned or typed code: straight to the product, the choice when it names several, or
    a clear message when it names nothing."""
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        try:
            match = instore.find_by_code(uow, code)
        except Problem as e:
            return _page(request, "find.html", {"q": "", "cards": [], "store": store, "code": code,
                                                "code_error": problem_sentence(e)}, status=e.status)
        if len(match.skus) == 1:
            return redirect(f"/associate/product/{match.skus[0]}")
        cards = [{"sku": s, "name": s} for s in match.skus]
    return _page(request, "find.html", {"q": "", "cards": [], "store": store, "code": code, "choices": cards})


@router.get("/associate/product/{sku}")
def product(request: Request, sku: str) -> Response:
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        card = instore.product_card(uow, store, sku)
    return _page(request, "product.html", {"card": card, "store": store})


# --------------------------------------------------------------------------------------------
# Cart and the customer at the counter
# --------------------------------------------------------------------------------------------


@router.post("/associate/cart/add")
def cart_add(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    associate(request)
    sku = text_or_none(form.get("sku"))
    qty = int_or_none(form.get("quantity")) or 1
    if not sku or not 0 < qty < 100:
        return redirect("/associate/cart", flash="Choose a quantity between 1 and 99.")
    cart = _cart(request)
    merged = dict(cart["lines"])
    merged[sku] = min(99, merged.get(sku, 0) + qty)
    cart["lines"] = list(merged.items())
    response = redirect("/associate/cart", flash=f"Added {qty} × {sku} to the cart.")
    _save_cart(request, response, cart)
    return response


@router.post("/associate/cart/remove")
def cart_remove(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    associate(request)
    cart = _cart(request)
    cart["lines"] = [(s, q) for s, q in cart["lines"] if s != form.get("sku")]
    response = redirect("/associate/cart")
    _save_cart(request, response, cart)
    return response


@router.post("/associate/cart/clear")
def cart_clear(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    associate(request)
    response = redirect("/associate", flash="The cart and customer are cleared.")
    _save_cart(request, response, {"lines": [], "customer": None})
    return response


def _cart_context(request: Request, uow: Any, store: instore.Store, stores: list[instore.Store]) -> dict[str, Any]:
    cart = _cart(request)
    rows = []
    free: list[dict[str, int]] = []  # per line: store code -> units free there
    for sku, qty in cart["lines"]:
        try:
            card = instore.product_card(uow, store, sku)
        except NotFound:
            continue
        free.append({p.code: p.available for p in ([card.here] if card.here else []) + card.stores})
        rows.append({"sku": sku, "name": card.name, "quantity": qty, "price": card.price, "currency": card.currency,
                     "total": card.price * qty if card.price is not None else None})
    pickup_stores = _pickup_stores(uow)
    # what the pickup picker says per store for the quantities in this cart
    pickup_ok = {s["code"]: all(f.get(s["code"], 0) >= r["quantity"] for f, r in zip(free, rows))
                 for s in pickup_stores}
    customer = instore.customer_essentials(uow, cart["customer"]) if cart["customer"] else None
    return {"rows": rows, "customer": customer, "store": store, "stores": stores, "pickup_stores": pickup_stores,
            "pickup_ok": pickup_ok, "subtotal": sum((r["total"] or 0) for r in rows),
            "currency": uow.settings.default_currency}


def _pickup_stores(uow: Any) -> list[dict[str, str]]:
    """Every store that offers pickup (an associate may order for pickup in any store)."""
    from merx.inventory import public as inventory

    rows, _ = inventory.list_locations(uow, kind="store", pickup=True, limit=500)
    return [{"code": r["code"], "name": r["name"]} for r in rows if r["active"]]


@router.get("/associate/cart")
def cart_page(request: Request) -> Response:
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        stores, store = _stores(request, uow)
        ctx = _cart_context(request, uow, store, stores)
    return _page(request, "cart.html", ctx)


@router.get("/associate/customers")
def customers_page(request: Request, q: str = Query("", max_length=200), id: int | None = None) -> Response:
    me = associate(request)
    matches, error, chosen = [], None, None
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        if q.strip():
            try:
                matches = instore.find_customers(uow, q)
            except Problem as e:
                error = problem_sentence(e)
        if id is not None:
            chosen = instore.customer_essentials(uow, id)
    status = 422 if error else 200
    return _page(request, "customers.html", {"q": q, "matches": matches, "error": error, "chosen": chosen,
                                             "store": store, "searched": bool(q.strip())}, status=status)


@router.post("/associate/customers/choose")
def choose_customer(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    customer_id = int_or_none(form.get("customer_id"))
    if customer_id is None:
        return redirect("/associate/customers", flash="Choose a customer.")
    with unit_of_work(request, me, readonly=True) as uow:
        essentials = instore.customer_essentials(uow, customer_id)
    cart = _cart(request)
    cart["customer"] = customer_id
    response = redirect("/associate/cart", flash=f"Ordering for {essentials['name']}.")
    _save_cart(request, response, cart)
    return response


@router.get("/associate/customers/new")
def new_customer_page(request: Request) -> Response:
    associate(request)
    return _page(request, "customer_new.html", {"form": {}})


@router.post("/associate/customers/new")
def new_customer(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    consents = {ch: form.get(f"consent_{ch}") == "yes" for ch in ("email", "sms")}
    try:
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            created = instore.create_customer_at_counter(
                uow, first_name=text_or_none(form.get("first_name")), last_name=text_or_none(form.get("last_name")),
                email=text_or_none(form.get("email")), phone=text_or_none(form.get("phone")), consents=consents,
                store_code=store.code)
    except Problem as e:
        if e.status >= 500:
            raise
        return _page(request, "customer_new.html", {"form": form, "error": problem_sentence(e)}, status=e.status)
    cart = _cart(request)
    cart["customer"] = created.id
    response = redirect("/associate/cart", flash="Customer created; ordering for them.")
    _save_cart(request, response, cart)
    return response


# --------------------------------------------------------------------------------------------
# Placing the order, the receipt
# --------------------------------------------------------------------------------------------


def _order_in(form: dict[str, Any], cart: dict[str, Any]) -> instore.AssistedOrderIn:
    fulfilment = "pickup" if form.get("fulfilment") == "pickup" else "ship"
    address = None
    if fulfilment == "ship":
        address = {"name": text_or_none(form.get("name")), "line1": str(form.get("line1", "")).strip(),
                   "city": str(form.get("city", "")).strip(), "postal_code": text_or_none(form.get("postal_code")),
                   "country": str(form.get("country", "")).strip().upper()}
    return instore.AssistedOrderIn(customer_id=cart["customer"], email=text_or_none(form.get("email")),
                                   lines=cart["lines"], fulfilment=fulfilment,
                                   pickup_store=text_or_none(form.get("pickup_store")), address=address,
                                   payment_mode=str(form.get("payment_mode", "")))


def _cart_refused(request: Request, me: Any, form: dict[str, Any], e: Problem) -> Response:
    if e.status >= 500:
        raise e
    with unit_of_work(request, me, readonly=True) as uow:
        stores, store = _stores(request, uow)
        ctx = _cart_context(request, uow, store, stores)
    return _page(request, "cart.html", ctx | {"error": problem_sentence(e), "form": form}, status=e.status)


@router.post("/associate/order")
def place_order(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    cart = _cart(request)
    if not cart["lines"]:
        return redirect("/associate/cart", flash="The cart is empty.")
    data = _order_in(form, cart)
    try:
        if data.customer_id is None and not data.email:
            raise Problem("Find or create the customer first (or give an email for the receipt).", status=422,
                          title="Customer needed")
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            order = instore.place_assisted_order(uow, store, data)
    except Problem as e:
        return _cart_refused(request, me, form, e)
    response = redirect(f"/associate/orders/{order['id']}", flash=f"Order {order['number']} is placed.")
    _save_cart(request, response, {"lines": [], "customer": None})
    return response


@router.post("/associate/cart/send")
def send_cart(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Hold the cart for the customer and send it to them (email, else SMS): they check out at
    home with these lines and prices, and the order counts for this store and this associate."""
    me = associate(request)
    cart = _cart(request)
    if not cart["lines"]:
        return redirect("/associate/cart", flash="The cart is empty.")
    try:
        if cart["customer"] is None:
            raise Problem("Find or create the customer first: the cart is sent to them.", status=422,
                          title="Customer needed")
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            held = instore.hold_and_send(uow, store, _order_in(form, cart))
    except Problem as e:
        return _cart_refused(request, me, form, e)
    how = "by email" if held["channel"] == "email" else "by SMS"
    response = redirect("/associate",
                        flash=f"The cart ({held['total']} {held['currency']}) is sent to the customer {how}.")
    _save_cart(request, response, {"lines": [], "customer": None})
    return response


@router.post("/associate/orders/{order_id}/send-link")
def send_payment_link(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    try:
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            sent = instore.send_payment_link(uow, store, order_id)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(f"/associate/orders/{order_id}", flash=f"Not sent: {problem_sentence(e)}")
    how = "by email" if sent["channel"] == "email" else "by SMS"
    return redirect(f"/associate/orders/{order_id}", flash=f"The payment link is sent to the customer {how}.")


@router.post("/associate/orders/{order_id}/paid-at-counter")
def paid_at_counter(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """A payment-link order the customer paid here after all (cash or the store's terminal)."""
    me = associate(request)
    try:
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            order = instore.paid_at_counter(uow, store, order_id)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(f"/associate/orders/{order_id}", flash=f"Not recorded: {problem_sentence(e)}")
    return redirect(f"/associate/orders/{order_id}", flash=f"Order {order['number']} is paid at the counter.")


@router.get("/associate/orders/{order_id}")
def receipt(request: Request, order_id: int) -> Response:
    """The receipt (a simple print layout), with the pickup code and the payment link."""
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        order = instore.order_for_receipt(uow, order_id)
        link = expires = None
        if order["payment"]["status"] == "awaiting":
            link = f"/pay/{instore.payment_link_token(uow, order['id'])}"
            expires = instore.payment_link_expires_at(uow, order["id"])
        code = instore.pickup_code_of(uow, order["number"]) if order["fulfilment"]["type"] == "pickup" else None
    return _page(request, "receipt.html", {"order": order, "store": store, "payment_link": link,
                                           "link_expires": expires, "link_expired": expires is not None
                                           and utcnow() >= expires, "pickup_code": code, "printed_at": utcnow()})


# --------------------------------------------------------------------------------------------
# Pickups
# --------------------------------------------------------------------------------------------


@router.get("/associate/pickups")
def pickups(request: Request) -> Response:
    me = associate(request)
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        queue = instore.pickup_queue(uow, store)
    return _page(request, "pickups.html", {"store": store, "queue": queue})


@router.post("/associate/pickups/{order_id}/ready")
def pickup_ready(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    with unit_of_work(request, me) as uow:
        _, store = _stores(request, uow)
        order = instore.mark_ready(uow, store, order_id)
    return redirect("/associate/pickups", flash=f"Order {order['number']} is ready for pickup.")


@router.post("/associate/pickups/{order_id}/hand-over")
def pickup_hand_over(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    try:
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            order = instore.hand_over(uow, store, order_id, code=text_or_none(form.get("code")),
                                      name=text_or_none(form.get("name")),
                                      payment_collected=form.get("payment_collected") == "yes")
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        with unit_of_work(request, me, readonly=True) as uow:
            _, store = _stores(request, uow)
            queue = instore.pickup_queue(uow, store)
        return _page(request, "pickups.html", {"store": store, "queue": queue, "error": problem_sentence(e),
                                               "error_order": order_id}, status=e.status)
    return redirect("/associate/pickups", flash=f"Order {order['number']} is handed over.")


# --------------------------------------------------------------------------------------------
# Returns at the counter
# --------------------------------------------------------------------------------------------


@router.get("/associate/returns")
def returns_page(request: Request, number: str = Query("", max_length=32)) -> Response:
    me = associate(request)
    order, error = None, None
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        if number.strip():
            try:
                order = instore.find_order(uow, number)
            except Problem as e:
                error = problem_sentence(e)
    return _page(request, "returns.html", {"number": number, "order": order, "error": error, "store": store,
                                           "reasons": RETURN_REASONS, "conditions": instore.CONDITIONS,
                                           "refund_methods": instore.REFUND_METHODS},
                 status=404 if error else 200)


@router.post("/associate/returns")
def take_return(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = associate(request)
    number = str(form.get("order_number", "")).strip()
    lines = []
    for key, value in form.items():
        if key.startswith("qty_"):
            line = int_or_none(key[4:])
            qty = int_or_none(value) or 0
            if line is not None and qty > 0:
                lines.append(instore.ReturnLineIn(line=line, quantity=qty, reason=str(form.get(f"reason_{line}",
                                                                                                 "other")),
                                                  restock=form.get(f"restock_{line}") == "yes"))
    try:
        with unit_of_work(request, me) as uow:
            _, store = _stores(request, uow)
            ret = instore.take_return(uow, store, order_number=number, lines=lines,
                                      condition=str(form.get("condition", "")),
                                      refund_method=str(form.get("refund_method", "")),
                                      note=text_or_none(form.get("note")))
    except Problem as e:
        if e.status >= 500:
            raise
        with unit_of_work(request, me, readonly=True) as uow:
            _, store = _stores(request, uow)
            try:
                order = instore.find_order(uow, number)
            except Problem:
                order = None
        return _page(request, "returns.html", {"number": number, "order": order, "error": problem_sentence(e),
                                               "store": store, "reasons": RETURN_REASONS,
                                               "conditions": instore.CONDITIONS,
                                               "refund_methods": instore.REFUND_METHODS}, status=e.status)
    return _page(request, "return_receipt.html", {"ret": ret, "store": store, "number": number,
                                                  "printed_at": utcnow()})


# --------------------------------------------------------------------------------------------
# The store's figures
# --------------------------------------------------------------------------------------------


@router.get("/associate/reports")
def reports(request: Request, days: int = Query(30, ge=1, le=366)) -> Response:
    me = associate(request)
    until = utcnow()
    with unit_of_work(request, me, readonly=True) as uow:
        _, store = _stores(request, uow)
        report = instore.store_report(uow, since=until - dt.timedelta(days=days), until=until, store=store.code)
    return _page(request, "reports.html", {"report": report, "store": store, "days": days})
