"""The self-service kiosk at `/kiosk/{store}`, the payment link page at `/pay/{token}`, and the
cart an associate held and sent to the customer (`/held/{token}`, in the storefront's layout).

A kiosk is anonymous and locked down: browse, search (the storefront's engine), stock in
every location, and an order for delivery or pickup paid by a payment link (shown as a QR
code to scan with the shopper's phone). No staff function is reachable. It resets after a
configurable time without a touch (MERX_KIOSK_IDLE_SECONDS, or the kiosk URL's ?idle=):
the shopper's cart and details are cleared and the session is closed for the store report."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from merx.core.auth import ANONYMOUS
from merx.core.errors import NotFound, Problem
from merx.instore import public as instore
from merx.web.auth import session
from merx.web.common import PageRoute, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.store import _cards, _catalog_filter, _search_engine, _tile

router = APIRouter(route_class=PageRoute)
KIOSK_COOKIE = "merx_kiosk"
MAX_LINES = 20


def _secret(request: Request) -> bytes:
    return request.app.state.settings.secret_key.get_secret_value().encode()


def _state(request: Request, store: str) -> dict[str, Any]:
    data = session.unsign(_secret(request), request.cookies.get(KIOSK_COOKIE), "kiosk") or {}
    if data.get("store") != store:
        data = {}
    lines = [(s, q) for s, q in (tuple(x) for x in data.get("lines", []) if isinstance(x, list) and len(x) == 2)
             if isinstance(s, str) and isinstance(q, int) and 0 < q < 100][:MAX_LINES]
    idle = data.get("idle") if isinstance(data.get("idle"), int) else None
    sid = data.get("sid") if isinstance(data.get("sid"), int) else None
    return {"store": store, "sid": sid, "lines": lines, "idle": idle}


def _save(request: Request, response: Response, state: dict[str, Any]) -> None:
    token = session.sign(_secret(request), {"store": state["store"], "sid": state.get("sid"),
                                            "lines": [[s, q] for s, q in state["lines"]][:MAX_LINES],
                                            "idle": state.get("idle")}, "kiosk")
    response.set_cookie(KIOSK_COOKIE, token, max_age=12 * 3600, httponly=True, samesite="lax", path="/kiosk")


def _idle_seconds(state: dict[str, Any]) -> int:
    return state.get("idle") or instore.get_instore_settings().kiosk_idle_seconds


def _touch(request: Request, store_code: str, state: dict[str, Any]) -> tuple[instore.Store, dict[str, Any]]:
    """The kiosk's store and the shopper's session: the live one, or a new one on the first
    touch (its own short write, before the page's reads)."""
    with unit_of_work(request, ANONYMOUS) as uow:
        store = instore.store_for_kiosk(uow, store_code)
        sid = instore.live_session(uow, store, state.get("sid"))
        if sid is None:
            sid = instore.start_session(uow, store)
            state = state | {"sid": sid, "lines": []}
    return store, state | {"sid": sid}


def _page(request: Request, template: str, store: instore.Store, state: dict[str, Any], ctx: dict[str, Any],
          status: int = 200) -> Response:
    response = render(request, f"associate/{template}", {
        "app": "kiosk", "kiosk": store, "tile": _tile, "idle_seconds": _idle_seconds(state),
        "cart_count": sum(q for _, q in state["lines"])} | ctx, status=status, principal=ANONYMOUS)
    _save(request, response, state)
    return response


@router.get("/kiosk/{store}")
def kiosk_home(request: Request, store: str, idle: int | None = Query(None, ge=5, le=3600)) -> Response:
    state = _state(request, store)
    if idle is not None:
        state["idle"] = idle
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
        here = instore.store_for_kiosk(uow, store)
        from merx.catalog import public as catalog
        from merx.web.views.helpers import page_of

        products, _ = page_of(uow, catalog.list_products_stmt(uow, status="active"), limit=8)
        cards = _cards(uow, [p.id for p in products])
    return _page(request, "kiosk_home.html", here, state, {"cards": cards, "q": ""})


@router.get("/kiosk/{store}/search")
def kiosk_search(request: Request, store: str, q: str = Query("", max_length=200)) -> Response:
    state = _state(request, store)
    q = q.strip()
    here, state = _touch(request, store, state)
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:  # search logs in its own short write
        result = None
        if q:
            try:
                result = _search_engine(request, uow, q, category=None, brand=None, price_min=None, price_max=None,
                                        store=None, attrs=[], page=1, limit=24)
            except Problem:
                raise
            except Exception:
                uow.rollback()
        if result is None:
            result = _catalog_filter(uow, q, category=None, brand=None, cursor=None, limit=24)
        cards = _cards(uow, result["ids"])
    return _page(request, "kiosk_home.html", here, state, {"cards": cards, "q": q, "searched": True})


@router.get("/kiosk/{store}/product/{sku}")
def kiosk_product(request: Request, store: str, sku: str) -> Response:
    state = _state(request, store)
    here, state = _touch(request, store, state)
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
        card = instore.product_card(uow, here, sku)
    return _page(request, "kiosk_product.html", here, state, {"card": card})


@router.post("/kiosk/{store}/cart/add")
def kiosk_add(request: Request, store: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    state = _state(request, store)
    sku = text_or_none(form.get("sku"))
    qty = int_or_none(form.get("quantity")) or 1
    here, state = _touch(request, store, state)
    if sku and 0 < qty < 100:
        merged = dict(state["lines"])
        merged[sku] = min(99, merged.get(sku, 0) + qty)
        state["lines"] = list(merged.items())
    response = redirect(f"/kiosk/{here.code}/checkout", flash="Added to your basket.")
    _save(request, response, state)
    return response


def _checkout_ctx(uow: Any, here: instore.Store, state: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for sku, qty in state["lines"]:
        try:
            card = instore.product_card(uow, here, sku)
        except NotFound:
            continue
        rows.append({"sku": sku, "name": card.name, "quantity": qty, "price": card.price, "currency": card.currency})
    from merx.inventory import public as inventory

    stores, _ = inventory.list_locations(uow, kind="store", pickup=True, limit=500)
    return {"rows": rows, "pickup_stores": [s for s in stores if s["active"]]}


@router.get("/kiosk/{store}/checkout")
def kiosk_checkout_page(request: Request, store: str) -> Response:
    state = _state(request, store)
    here, state = _touch(request, store, state)
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
        ctx = _checkout_ctx(uow, here, state)
    return _page(request, "kiosk_checkout.html", here, state, ctx | {"form": {}})


@router.post("/kiosk/{store}/checkout")
def kiosk_checkout(request: Request, store: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    state = _state(request, store)
    fulfilment = "pickup" if form.get("fulfilment") == "pickup" else "ship"
    address = None
    if fulfilment == "ship":
        address = {"name": text_or_none(form.get("name")), "line1": str(form.get("line1", "")).strip(),
                   "city": str(form.get("city", "")).strip(), "postal_code": text_or_none(form.get("postal_code")),
                   "country": str(form.get("country", "")).strip().upper()}
    here, state = _touch(request, store, state)
    try:
        with unit_of_work(request, ANONYMOUS) as uow:
            order = instore.kiosk_order(uow, here, state["sid"], email=text_or_none(form.get("email")),
                                        lines=state["lines"], fulfilment=fulfilment,
                                        pickup_store=text_or_none(form.get("pickup_store")), address=address)
            token = instore.payment_link_token(uow, order["id"])
    except Problem as e:
        if e.status >= 500:
            raise
        with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
            here = instore.store_for_kiosk(uow, store)
            ctx = _checkout_ctx(uow, here, state)
        return _page(request, "kiosk_checkout.html", here, state, ctx | {"form": form, "error": problem_sentence(e)},
                     status=e.status)
    state["lines"] = []
    sent = "?sent=email" if order.get("payment_link_sent") == "email" else ""
    response = redirect(f"/kiosk/{here.code}/done/{token}{sent}")
    _save(request, response, state)
    return response


@router.get("/kiosk/{store}/done/{token}")
def kiosk_done(request: Request, store: str, token: str) -> Response:
    state = _state(request, store)
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
        here = instore.store_for_kiosk(uow, store)
        order = instore.order_of_payment_link(uow, token)
    link = str(request.base_url).rstrip("/") + f"/pay/{token}"
    qr = segno.make(link, error="m").svg_inline(scale=5, dark="#1b2631")
    return _page(request, "kiosk_done.html", here, state, {"order": order, "payment_link": link, "qr": qr,
                                                           "pay_path": f"/pay/{token}",
                                                           "mailed": request.query_params.get("sent") == "email"})


@router.post("/kiosk/{store}/reset")
def kiosk_reset(request: Request, store: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The shopper is done or walked away: clear everything and close the session."""
    state = _state(request, store)
    reason = "idle" if form.get("reason") == "idle" else "reset"
    with unit_of_work(request, ANONYMOUS) as uow:
        here = instore.store_for_kiosk(uow, store)
        instore.end_session(uow, here, state.get("sid"), reason)
    response = redirect(f"/kiosk/{here.code}")
    _save(request, response, {"store": here.code, "sid": None, "lines": [], "idle": state.get("idle")})
    return response


# --------------------------------------------------------------------------------------------
# The payment link (the customer's phone)
# --------------------------------------------------------------------------------------------


def _pay_page(request: Request, token: str, *, form: dict[str, Any] | None = None, error: str | None = None,
              status: int = 200) -> Response:
    try:
        with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
            order = instore.order_of_payment_link(uow, token)
            providers = instore.payment_link_providers(uow)
    except instore.PaymentLinkExpired as e:
        # 410 with a page the customer understands, never the payment form
        return render(request, "associate/pay.html", {"expired": e.detail, "number": e.extra["order_number"],
                                                       "app": "pay"}, status=410, principal=ANONYMOUS)
    if error is None and request.query_params.get("from") == "bank" and order["payment"]["status"] == "awaiting":
        # back from the 3-D Secure page and still unpaid: the bank did not confirm
        error = "Your bank did not confirm the payment, so the card was not charged. Try again or use another card."
    return render(request, "associate/pay.html", {"order": order, "token": token, "app": "pay", "providers": providers,
                                                   "form": form or {}, "error": error},
                  status=status, principal=ANONYMOUS)


@router.get("/pay/{token}")
def pay_page(request: Request, token: str) -> Response:
    return _pay_page(request, token)


@router.post("/pay/{token}")
def pay(request: Request, token: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The customer pays with the provider they chose: paid at once, or off to their bank's
    3-D Secure page and back here; a declined card shows why and the form again."""
    provider = str(form.get("provider") or "")
    try:
        with unit_of_work(request, ANONYMOUS) as uow:
            order = instore.pay_by_link(uow, token, provider=provider, card=text_or_none(form.get("card")))
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        # (an expired link answers its 410 page from _pay_page: the order reads expired again)
        return _pay_page(request, token, form={"provider": provider}, error=problem_sentence(e), status=e.status)
    action = order["payment"].get("action_url")
    if action:
        return redirect(f"{action}&return_to={quote(f'/pay/{token}?from=bank', safe='/')}")
    if order["payment"]["status"] in ("captured", "authorized"):
        return redirect(f"/pay/{token}", flash=f"Thank you: order {order['number']} is paid.")
    return redirect(f"/pay/{token}")


# --------------------------------------------------------------------------------------------
# A cart held at the counter and sent to the customer (the storefront's layout)
# --------------------------------------------------------------------------------------------


@router.get("/held/{token}")
def held_cart_page(request: Request, token: str) -> Response:
    with unit_of_work(request, ANONYMOUS, readonly=True) as uow:
        cart = instore.held_cart_of_link(uow, token)
        store = instore.store_for_kiosk(uow, cart["store"])
    return render(request, "store/held_cart.html", {"cart": cart, "store": store, "token": token},
                  principal=ANONYMOUS)


@router.post("/held/{token}")
def held_cart_checkout(request: Request, token: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The customer checks the cart out: the order is placed, then paid through its payment link."""
    with unit_of_work(request, ANONYMOUS) as uow:
        order = instore.order_held_cart(uow, token)
        pay = instore.payment_link_token(uow, order["id"])
    return redirect(f"/pay/{pay}", flash=f"Order {order['number']} is placed: pay for it below.")
