"""The demo storefront: home, search with facets and suggestions, product page with
availability by store, cart, guest checkout (shipping or pickup, payment options) and the
order status page. Shoppers are anonymous; the cart lives in a signed cookie, and an order
status link carries a signed token, so a guest can see their order and nobody else's."""

from __future__ import annotations

import colorsys
import hashlib
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import SYSTEM
from merx.core.errors import Problem
from merx.web.auth import session
from merx.web.auth.shopper import checkout_prefill, current_shopper, shopper_principal
from merx.catalog import public as catalog
from merx.instore import public as instore
from merx.inventory import public as inventory
from merx.marketing import public as marketing
from merx.invoicing import public as invoicing
from merx.orders import public as orders
from merx.search import public as search
from merx.web.common import (PageRoute, csrf_form, problem_sentence, redirect, render, static_route_exists,
                             unit_of_work)
from merx.web.views import store_offers
from merx.web.views.helpers import int_or_none, page_of, text_or_none, validation_sentence

log = logging.getLogger("merx.web.store")
router = APIRouter(route_class=PageRoute)
CART_COOKIE = "merx_cart"
LANG_COOKIE = "merx_lang"
# Names of the languages the picker offers, in their own language.
LANGUAGE_NAMES = {"en": "English", "pl": "Polski", "ru": "Русский", "uk": "Українська", "ro": "Română",
                  "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano", "zh": "中文", "cs": "Čeština"}
MAX_CART_LINES = 50
PAGE_SIZE = 24
PAYMENT_OPTIONS = [
    ("manual", "Pay on delivery or in store", "Cash or card when you receive or collect the order."),
    ("test", "Card (test payments)", "A test card payment: always succeeds in the demo shop."),
    ("testcard", "Card", "Test gateway: 4242 4242 4242 4242 pays, 4000 0027 6000 3184 asks for 3-D Secure, "
                         "4000 0000 0000 0002 is declined."),
    ("bank_transfer", "Bank transfer", "Transfer the total with the order number as the reference; the order is "
                                       "paid when the transfer reaches our account."),
    ("cod", "Cash on delivery / pay at pickup", "Pay the courier, or at the counter when you collect."),
]


# --------------------------------------------------------------------------------------------
# Shared bits
# --------------------------------------------------------------------------------------------


def _tile(name: str) -> dict[str, str]:
    """A coloured tile with initials stands in for product photos the demo shop has none of."""
    digest = hashlib.sha1(name.encode()).digest()
    r, g, b = colorsys.hls_to_rgb(digest[0] / 255, 0.45, 0.55)
    initials = "".join(w[0] for w in name.split()[:2]).upper() or "?"
    return {"color": f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}", "initials": initials}


def _locale(request: Request) -> str:
    """The shopper's language: `?lang=` (remembered in a cookie by `_render`), then the cookie,
    then Accept-Language, then the shop's default. Unknown codes are ignored, not refused: a
    storefront link with a stale `lang` must still open."""
    from merx.web.views.helpers import reader_locale

    return reader_locale(request)  # the console's reports use the same rule


def _store_context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    offered = [settings.default_locale] + [c for c in LANGUAGE_NAMES if c != settings.default_locale
                                           and c in settings.locales]
    return {"tracking": static_route_exists(request, "/static/merx.js"), "cart_count": sum(q for _, q in _cart(request)),
            "inbox_unread": _inbox_unread(request),
            "tile": _tile, "lang": _locale(request), "shopper": current_shopper(request),
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in offered]}


def _viewer(request: Request) -> Any:
    """Whom the shop's pages read the catalog as: the signed-in shopper (early access: a
    product before its launch is shown to its segment's members only), else the request's
    own caller (anonymous; the back office signed in to the console sees everything)."""
    return shopper_principal(request)


def _inbox_unread(request: Request) -> int:
    """Unread in-app messages of this browser (the banner); no query without a marketing cookie."""
    visitor = marketing.valid_visitor(request.cookies.get(marketing.VISITOR_COOKIE))
    shopper = current_shopper(request)
    if visitor is None and shopper is None:
        return 0
    with unit_of_work(request, SYSTEM, readonly=True) as uow:
        return marketing.unread_count(uow, visitor, shopper.customer_id if shopper else None)


def _render(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> Response:
    response = render(request, template, _store_context(request) | ctx, status=status)
    lang = request.query_params.get("lang")
    if lang and lang in request.app.state.settings.locales and lang != request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


def _cart_items(request: Request) -> list[tuple[str, int, int | None]]:
    """The cart cookie's lines: [sku, quantity] or, bought from a marketplace seller,
    [sku, quantity, offer_id] (store_offers.py)."""
    secret = request.app.state.settings.secret_key.get_secret_value().encode()
    data = session.unsign(secret, request.cookies.get(CART_COOKIE), "cart") or {}
    lines = []
    for item in data.get("lines", [])[:MAX_CART_LINES]:
        if (isinstance(item, list) and len(item) in (2, 3) and isinstance(item[0], str) and isinstance(item[1], int)
                and (len(item) == 2 or isinstance(item[2], int))):
            if item[1] > 0:
                lines.append((item[0], item[1], item[2] if len(item) == 3 else None))
    return lines


def _cart(request: Request) -> list[tuple[str, int]]:
    return [(s, q) for s, q, _ in _cart_items(request)]


def _cart_offers(request: Request) -> dict[str, int]:
    """SKU -> the marketplace offer the cart buys it from (absent: the shop's own stock)."""
    return {s: o for s, _, o in _cart_items(request) if o is not None}


def _save_cart(request: Request, response: Response, lines: list[tuple[str, int]],
               offers: dict[str, int] | None = None) -> None:
    """`offers`: SKU -> offer id of lines bought from a seller (None: keep the cart's own)."""
    offers = _cart_offers(request) if offers is None else offers
    secret = request.app.state.settings.secret_key.get_secret_value().encode()
    token = session.sign(secret, {"lines": [[s, q, offers[s]] if s in offers else [s, q]
                                            for s, q in lines if q > 0][:MAX_CART_LINES]}, "cart")
    response.set_cookie(CART_COOKIE, token, max_age=30 * 24 * 3600, httponly=True, samesite="lax", path="/")


def _order_lines(lines: list[tuple[str, int]], offers: dict[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "quantity": q, **({"offer_id": offers[s]} if s in offers else {})} for s, q in lines]


def _order_token(request: Request, order_id: int) -> str:
    secret = request.app.state.settings.secret_key.get_secret_value().encode()
    return session.sign(secret, {"order": order_id}, "order-status")


def _order_from_token(request: Request, token: str) -> int | None:
    secret = request.app.state.settings.secret_key.get_secret_value().encode()
    data = session.unsign(secret, token, "order-status")
    return data.get("order") if data and isinstance(data.get("order"), int) else None


def _cards(uow: Any, product_ids: list[int], locale: str | None = None) -> list[dict[str, Any]]:
    currency = uow.settings.default_currency
    docs = {d.product_id: d for d in catalog.iter_product_documents(uow, product_ids=product_ids)}
    skus = [d.variants[0]["sku"] for d in docs.values() if d.variants]
    statuses = inventory.aggregate_statuses(uow, skus) if skus else {}
    cards = []
    for pid in product_ids:
        d = docs.get(pid)
        if d is None or d.status != "active" or not d.variants:
            continue
        first = d.variants[0]
        price = first["prices"].get(currency)
        name = ((d.translations.get(locale) or {}).get("name") if locale else None) or d.name
        cards.append({"id": pid, "name": name, "sku": first["sku"], "brand": d.brand,
                      "image": next((m for m in d.media if m.startswith("/")), None),
                      "category": d.category_path[-1] if d.category_path else None,
                      "price": price, "currency": currency, "stock": statuses.get(first["sku"]),
                      "early_access": catalog.prelaunch(d.launch_at)})
    return cards


# --------------------------------------------------------------------------------------------
# Home and search
# --------------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    with unit_of_work(request, _viewer(request), readonly=True) as uow:
        stmt = catalog.list_products_stmt(uow, status="active")
        products, _ = page_of(uow, stmt, limit=12)
        lang = _locale(request)
        cards = _cards(uow, [p.id for p in products], lang)
        categories = [c for c in catalog.list_categories(uow, locale=lang) if not c.parent]
    return _render(request, "store/home.html", {"cards": cards, "categories": categories})


def _search_engine(request: Request, uow: Any, q: str, *, category: str | None, brand: str | None,
                   price_min: Decimal | None, price_max: Decimal | None, store: str | None, attrs: list[tuple[str, str]],
                   page: int, limit: int, log_search: bool = True, complete: bool = False) -> dict[str, Any] | None:
    """The search context's pipeline, or None before an index is built (the caller falls back).
    `complete`: the last word may be unfinished (suggestions while typing)."""
    settings = request.app.state.settings
    search.register_data_dir(request.app.state.db, settings.data_dir, settings.default_currency)
    if search.indexed_products(settings.data_dir) == 0:
        return None  # no index built yet (`merx search reindex`): the catalog listing answers meanwhile
    req = search.SearchRequest(q=q, page=page, limit=limit, facets=not complete, complete=complete,
                               filters=search.Filters(category=category, brand=brand, price_min=price_min,
                                                      price_max=price_max, attributes=attrs, store=store))
    outcome, search_id = search.search(uow, req, data_dir=settings.data_dir, log_search=log_search)
    facets = dict(outcome.facets)
    if facets.get("store"):
        facets["store"] = _store_facet(uow, facets["store"])
    return {"total": outcome.total, "ids": [i["product_id"] for i in outcome.page_items], "facets": facets,
            "search_id": search_id, "engine": "search", "suggestions": outcome.suggestions}


def _store_facet(uow: Any, buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """"Available at" lists the stores a shopper can visit, by name: search's store facet
    counts every location (warehouses feed the delivery boosts), so warehouses are left out
    here and codes become names."""
    stores = {loc["code"]: loc["name"] for loc in inventory.list_locations(uow, kind="store", limit=200)[0]
              if loc.get("active", True)}
    return [{"value": b["value"], "label": stores[b["value"]], "count": b["count"]}
            for b in buckets if b["value"] in stores]


def _catalog_filter(uow: Any, q: str, *, category: str | None, brand: str | None, cursor: str | None,
                    limit: int, locale: str | None = None) -> dict[str, Any]:
    stmt = catalog.list_products_stmt(uow, status="active", q=q or None, category=category, brand=brand)
    products, next_cursor = page_of(uow, stmt, limit=limit, cursor=cursor)
    facets = {"category": [{"value": c.code, "label": c.name} for c in catalog.list_categories(uow, locale=locale)],
              "brand": [{"value": b.code, "label": b.name} for b in catalog.list_brands(uow)]}
    return {"total": None, "ids": [p.id for p in products], "facets": facets, "next_cursor": next_cursor,
            "engine": "catalog"}


def _decimal(value: str | None) -> Decimal | None:
    try:
        d = Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return d if d is not None and d.is_finite() and d >= 0 else None


@router.get("/search")
def search_page(request: Request, q: str = Query("", max_length=200), category: str | None = None,
                brand: str | None = None, price_min: str | None = None, price_max: str | None = None,
                store: str | None = None, attr: list[str] = Query([]), page: int = Query(1, ge=1, le=200),
                cursor: str | None = None) -> Response:
    q = q.strip()
    category, brand, store = text_or_none(category), text_or_none(brand), text_or_none(store)
    attrs = [tuple(a.split(":", 1)) for a in attr if ":" in a]
    with unit_of_work(request, _viewer(request), readonly=True) as uow:  # search logs in its own short write
        result = None
        if q or category or brand or store or attrs:
            try:
                result = _search_engine(request, uow, q, category=category, brand=brand,
                                        price_min=_decimal(price_min), price_max=_decimal(price_max), store=store,
                                        attrs=attrs, page=page, limit=PAGE_SIZE)
            except Problem:
                raise
            except Exception:  # the engine failing must not take the shop down: list from the catalog
                log.exception("search engine failed; falling back to the catalog listing")
                uow.rollback()
        if result is None:
            result = _catalog_filter(uow, q, category=category, brand=brand, cursor=cursor, limit=PAGE_SIZE,
                                     locale=_locale(request))
        lang = _locale(request)
        cards = _cards(uow, result["ids"], lang)
        names = {}
        if result["engine"] == "search":
            names = {c.code: c.name for c in catalog.list_categories(uow, locale=lang)}
            names.update({b.code: b.name for b in catalog.list_brands(uow)})
    ctx = {"q": q, "cards": cards, "result": result, "names": names, "page": page,
           "filters": {"category": category, "brand": brand, "store": store, "price_min": price_min or "",
                       "price_max": price_max or "", "attr": attr}}
    return _render(request, "store/search.html", ctx)


@router.get("/search/suggest")
def suggest(request: Request, q: str = Query("", max_length=200)) -> Response:
    """Suggestions while typing (HTMX partial): the best product names for what is typed so far."""
    q = q.strip()
    items: list[dict[str, Any]] = []
    if len(q) >= 2:
        with unit_of_work(request, _viewer(request), readonly=True) as uow:
            result = None
            try:
                result = _search_engine(request, uow, q, category=None, brand=None, price_min=None, price_max=None,
                                        store=None, attrs=[], page=1, limit=6, log_search=False, complete=True)
            except Exception:
                log.exception("suggestions from the search engine failed")
                uow.rollback()
            if result is None:
                result = _catalog_filter(uow, q, category=None, brand=None, cursor=None, limit=6)
            items = _cards(uow, result["ids"][:6], _locale(request))
    return _render(request, "store/suggest.html", {"items": items, "q": q})


# --------------------------------------------------------------------------------------------
# Product page
# --------------------------------------------------------------------------------------------


@router.get("/product/{product_id}")
def product_page(request: Request, product_id: int, lat: float | None = Query(None, ge=-90, le=90),
                 lon: float | None = Query(None, ge=-180, le=180), variant: str | None = None) -> Response:
    with unit_of_work(request, _viewer(request), readonly=True) as uow:
        product = catalog.get_product(uow, product_id, locale=_locale(request))
        attribute_names = {a.code: a.name for a in catalog.list_attributes(uow)}
        if product.status != "active":
            raise Problem("This product is not on sale.", status=404, title="Not found")
        chosen = next((v for v in product.variants if v.sku == variant), product.variants[0] if product.variants else None)
        availability = inventory.availability(uow, chosen.sku, lat=lat, lon=lon) if chosen is not None else None
        offers = store_offers.product_offers(uow, chosen.sku) if chosen is not None else []
    currency = request.app.state.settings.default_currency
    price = None
    if chosen is not None:
        price = next((p for p in chosen.prices if p.currency == currency), chosen.prices[0] if chosen.prices else None)
    stores = [loc for loc in (availability or {}).get("locations", []) if loc.get("kind") == "store"]
    return _render(request, "store/product.html", {"product": product, "variant": chosen, "price": price,
                                                   "attribute_names": attribute_names,
                                                   "image": next((m for m in product.media if m.startswith("/")), None),
                                                   "availability": availability, "stores": stores,
                                                   "offers": offers,
                                                   "located": lat is not None and lon is not None})


# --------------------------------------------------------------------------------------------
# Cart
# --------------------------------------------------------------------------------------------


def _launched_for(uow: Any, info: Any) -> bool:
    """Whether this shopper may see and buy the SKU now (early access before a launch)."""
    return catalog.early_access_may_see(uow, uow.actor, info.launch_at, info.early_access_segment, info.seller_id)


def _cart_view(uow: Any, lines: list[tuple[str, int]], offers: dict[str, int] | None = None,
               locale: str | None = None) -> dict[str, Any]:
    currency = uow.settings.default_currency
    info = catalog.lookup_skus(uow, [s for s, _ in lines])
    # the names in the language the shopper browses in, as on the product pages they came from
    names = catalog.product_names(uow, [s for s, _ in lines], locale) if locale else {}
    chosen = store_offers.cart_offers(uow, list((offers or {}).values()))
    rows, subtotal = [], Decimal("0")
    for sku, qty in lines:
        i = info.get(sku)
        if i is None or i.status != "active" or not _launched_for(uow, i):
            continue
        offer = chosen.get((offers or {}).get(sku, 0))
        price = offer.price if offer is not None else i.prices.get(currency)
        total = price * qty if price is not None else None
        subtotal += total or 0
        rows.append({"sku": sku, "name": names.get(sku) or i.name, "product_id": i.product_id, "quantity": qty, "price": price,
                     "total": total, "seller": offer.seller_name if offer is not None else None,
                     "offer_id": offer.offer_id if offer is not None else None})
    return {"rows": rows, "subtotal": subtotal, "currency": currency}


@router.get("/cart")
def cart_page(request: Request) -> Response:
    with unit_of_work(request, _viewer(request), readonly=True) as uow:
        view = _cart_view(uow, _cart(request), _cart_offers(request), _locale(request))
    return _render(request, "store/cart.html", view)


def _available(uow: Any, sku: str, offer_id: int | None = None) -> int:
    """Units of a SKU free to sell across active locations (on hand less what is reserved);
    bought from a seller, what the seller's offer has left (0 when it cannot be bought)."""
    if offer_id is not None:
        offer = store_offers.cart_offers(uow, [offer_id]).get(offer_id)
        return offer.quantity if offer is not None and offer.sku == sku else 0
    return max(0, int(inventory.availability(uow, sku, with_quantities=True)["available"]))


@router.post("/cart/add")
def cart_add(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    sku = text_or_none(form.get("sku"))
    qty = int_or_none(form.get("quantity")) or 1
    offer_id = int_or_none(form.get("offer_id"))  # bought from a marketplace seller
    if not sku or qty < 1 or qty > 99:
        return redirect("/cart", flash="Choose a quantity between 1 and 99.")
    with unit_of_work(request, _viewer(request), readonly=True) as uow:
        info = catalog.lookup_skus(uow, [sku]).get(sku)
        available = _available(uow, sku, offer_id) if info is not None else 0
        launched = info is not None and _launched_for(uow, info)
    if info is None or info.status != "active":
        return redirect("/cart", flash="That product is no longer on sale.")
    if not launched:
        return redirect("/cart", flash=f"{info.name} is not on sale yet.")
    if available < 1:
        return redirect("/cart", flash=f"{info.name} is out of stock." if offer_id is None else
                        f"That seller's offer of {info.name} is no longer available.")
    lines = _cart(request)
    merged = dict(lines)
    offers = _cart_offers(request)
    if offers.get(sku) != offer_id:  # one line per SKU: choosing another source replaces the line's
        merged.pop(sku, None)
    if offer_id is None:
        offers.pop(sku, None)
    else:
        offers[sku] = offer_id
    wanted = min(99, merged.get(sku, 0) + qty)
    # The cart holds no more than can be sold, so checkout does not fail later on quantity.
    merged[sku] = min(wanted, available)
    flash = (f"Added {info.name} to your cart." if wanted <= available else
             f"Only {available} of {info.name} available: your cart holds {available}.")
    response = redirect("/cart", flash=flash)
    _save_cart(request, response, list(merged.items()), offers)
    return response


@router.post("/cart/update")
def cart_update(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    lines = []
    for sku, _ in _cart(request):
        qty = int_or_none(form.get(f"qty_{sku}"))
        if qty is None:
            qty = 0
        if form.get("remove") == sku:
            qty = 0
        lines.append((sku, max(0, min(99, qty))))
    capped = []
    with unit_of_work(request, _viewer(request), readonly=True) as uow:
        info = catalog.lookup_skus(uow, [s for s, q in lines if q])
        offers = _cart_offers(request)
        for i, (sku, qty) in enumerate(lines):
            available = _available(uow, sku, offers.get(sku)) if qty else 0
            if qty > available:
                lines[i] = (sku, available)
                capped.append(f"{info[sku].name if sku in info else sku}: {available} available")
    flash = "Cart updated." if not capped else "Cart updated; only " + "; ".join(capped) + "."
    response = redirect("/cart", flash=flash)
    _save_cart(request, response, lines)
    return response


# --------------------------------------------------------------------------------------------
# Checkout and order status
# --------------------------------------------------------------------------------------------


def _shopper_locale(request: Request) -> str | None:
    """The language the shopper reads the shop in (`_locale`: ?lang=, the cookie, then
    Accept-Language): the order's notifications are written in it."""
    return _locale(request)


def _pickup_stores(uow: Any) -> list[dict[str, Any]]:
    stores, _ = inventory.list_locations(uow, pickup=True, limit=100)
    return [s for s in stores if s.get("active", True)]


def _checkout_context(request: Request, form: dict[str, Any] | None = None, error: str | None = None) -> dict[str, Any]:
    with unit_of_work(request, readonly=True) as uow:
        view = _cart_view(uow, _cart(request), _cart_offers(request), _locale(request))
        stores = _pickup_stores(uow)
        free: dict[str, dict[str, int]] = {}  # sku -> store -> units free to sell there
        for row in view["rows"]:
            per = inventory.availability(uow, row["sku"], pickup_only=True, with_quantities=True)
            free[row["sku"]] = {loc["location"]: loc["available"] for loc in per["locations"]}
    # What the picker says per store, for the quantities in this cart (a store without a
    # stock row for an item has none of it).
    store_stock = {}
    for s in stores:
        short = [row["name"] for row in view["rows"] if free[row["sku"]].get(s["code"], 0) < row["quantity"]]
        store_stock[s["code"]] = "all items in stock" if not short else "not enough in stock: " + ", ".join(short)
    return view | {"stores": stores, "store_stock": store_stock, "form": form or {}, "error": error,
                   "payment_options": _payment_options(request), "saved_addresses": _saved_addresses(request)}


def _saved_addresses(request: Request) -> list[Any]:
    """A signed-in shopper's address book, to pick the delivery address from."""
    from merx.customers import public as customers

    shopper = current_shopper(request)
    if shopper is None:
        return []
    with unit_of_work(request, shopper.principal, readonly=True) as uow:
        return customers.list_addresses(uow, shopper.customer_id)


def _shortage_sentence(uow: Any, problem: Problem, store_code: str | None) -> str | None:
    """Insufficient stock told with product names and the pickup store, not SKUs."""
    shortages = problem.extra.get("shortages") if problem.extra else None
    if not shortages:
        return None
    names = {sku: i.name for sku, i in catalog.lookup_skus(uow, [s["sku"] for s in shortages]).items()}
    where = ""
    if store_code:
        store = next((s for s in _pickup_stores(uow) if s["code"] == store_code), None)
        where = f" at {store['name'] if store else store_code}"
    parts = [f"{names.get(s['sku'], s['sku'])}{where}: {s['requested']} requested, {max(0, s['available'])} available"
             for s in shortages]
    return "Not enough stock of " + "; ".join(parts) + "."


def _payment_options(request: Request) -> list[tuple[str, str, str]]:
    """Only the providers this shop enabled (MERX_PAYMENT_PROVIDERS) are offered."""
    enabled = request.app.state.settings.enabled_payment_providers
    return [option for option in PAYMENT_OPTIONS if option[0] in enabled]


@router.get("/checkout")
def checkout_page(request: Request) -> Response:
    if not _cart(request):
        return redirect("/cart", flash="Your cart is empty.")
    preview, problem = _preview(request, None)
    prefill = checkout_prefill(request)  # a signed-in shopper's details and default address
    return _render(request, "store/checkout.html", _checkout_context(request, prefill) | {"preview": preview,
                                                                                        "preview_problem": problem})


def _preview(request: Request, data: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The totals with shipping, tax and discounts the shopper sees before placing the order."""
    if data is None:  # the page's first view: ship to the shop's country, no coupon
        data = {"channel": "web", "customer": {"email": "preview@example.com"}, "fulfilment": {"type": "ship"},
                "lines": _order_lines(_cart(request), _cart_offers(request))}
    try:
        order_in = orders.OrderCreate(**{**data, "payment": {"provider": "manual"}})
        with unit_of_work(request, _viewer(request), readonly=True) as uow:
            return orders.preview_order(uow, order_in), None
    except ValidationError as e:
        return None, validation_sentence(e)
    except Problem as e:
        if e.status >= 500:
            raise
        return None, problem_sentence(e)


@router.post("/checkout/review")
def checkout_review(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Recompute the summary (shipping to the address entered, tax, the coupon) without ordering."""
    lines = _cart(request)
    if not lines:
        return redirect("/cart", flash="Your cart is empty.")
    data = _order_data(form, lines, _shopper_locale(request))
    data["lines"] = _order_lines(lines, _cart_offers(request))  # lines bought from a seller name its offer
    data["customer"]["email"] = data["customer"]["email"] or "preview@example.com"
    preview, problem = _preview(request, {k: v for k, v in data.items() if k != "payment"})
    return _render(request, "store/checkout.html", _checkout_context(request, form, problem) | {"preview": preview},
                   status=200 if preview else 422)


def _order_data(form: dict[str, Any], lines: list[tuple[str, int]], locale: str | None = None) -> dict[str, Any]:
    fulfilment: dict[str, Any] = {"type": form.get("fulfilment", "ship")}
    if fulfilment["type"] == "pickup":
        fulfilment["location"] = text_or_none(form.get("store"))
    else:
        fulfilment["address"] = {"name": text_or_none(f"{form.get('first_name', '')} {form.get('last_name', '')}"),
                                 "line1": str(form.get("line1", "")).strip(), "city": str(form.get("city", "")).strip(),
                                 "postal_code": text_or_none(form.get("postal_code")),
                                 "country": str(form.get("country", "")).strip().upper()}
    payment = {"provider": form.get("payment", "manual")}
    if payment["provider"] == "test":
        payment["behaviour"] = "succeed"
    if payment["provider"] == "testcard":
        payment["card"] = text_or_none(form.get("card")) or "4242 4242 4242 4242"
    return {"channel": "web", "customer": {"email": str(form.get("email", "")).strip(),
                                           "first_name": text_or_none(form.get("first_name")),
                                           "last_name": text_or_none(form.get("last_name")),
                                           "phone": text_or_none(form.get("phone")),
                                           "locale": locale},
            "lines": [{"sku": s, "quantity": q} for s, q in lines], "fulfilment": fulfilment, "payment": payment,
            "coupon": text_or_none(form.get("coupon")), "loyalty_points": _points_wanted(form)}


def _points_wanted(form: dict[str, Any]) -> Any:
    """The points a signed-in member asked to spend ("Use my points"); checkout checks them
    against the balance and the programme (a problem names `loyalty_points`)."""
    if not form.get("use_points"):
        return None
    raw = str(form.get("loyalty_points", "")).strip()
    return int(raw) if raw.isdigit() else (raw or None)


@router.post("/checkout")
def checkout(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    lines = _cart(request)
    if not lines:
        return redirect("/cart", flash="Your cart is empty.")
    data = _order_data(form, lines, _shopper_locale(request))
    data["lines"] = _order_lines(lines, _cart_offers(request))  # lines bought from a seller name its offer
    fulfilment = data["fulfilment"]
    try:
        order_in = orders.OrderCreate(**data)
    except ValidationError as e:
        return _render(request, "store/checkout.html", _checkout_context(request, form, validation_sentence(e)),
                       status=422)
    try:
        # a signed-in shopper orders as their customer record; anyone else as a guest
        with unit_of_work(request, shopper_principal(request)) as uow:
            order = orders.place_order(uow, order_in, client_address=request.client.host if request.client else None)
    except Problem as e:
        if e.status >= 500:
            raise
        with unit_of_work(request, readonly=True) as uow:
            sentence = _shortage_sentence(uow, e, fulfilment.get("location")) or problem_sentence(e)
        return _render(request, "store/checkout.html", _checkout_context(request, form, sentence),
                       status=e.status)
    order_id = order["id"]
    visitor = marketing.valid_visitor(request.cookies.get(marketing.VISITOR_COOKIE))
    new_visitor = visitor is None and order.get("customer_id") is not None
    if new_visitor:  # the browser gets its marketing id now: its in-app inbox is the customer's
        visitor = marketing.new_visitor_id()
    if visitor:  # QR scans and clicks from this browser now belong to the customer (attribution)
        with unit_of_work(request, SYSTEM) as uow:
            marketing.link_visitor(uow, visitor, order.get("customer_id"))
    timezone = text_or_none(form.get("timezone"))
    if timezone and order.get("customer_id") is not None:  # the browser's own zone: local send windows
        with unit_of_work(request, SYSTEM) as uow:
            marketing.remember_timezone(uow, order.get("customer_id"), timezone[:64])
    action = (order.get("payment") or {}).get("action_url")
    if action:  # 3-D Secure: the bank's page first, then back to the order
        response = redirect(f"{action}&return_to=/order/{_order_token(request, order_id)}")
    else:
        response = redirect(f"/order/{_order_token(request, order_id)}", flash="Thank you! Your order is placed.")
    _save_cart(request, response, [])
    if new_visitor:
        response.set_cookie(marketing.VISITOR_COOKIE, visitor, max_age=60 * 60 * 24 * 90, httponly=True,
                            samesite="lax", path="/")
    return response


@router.get("/order/{token}")
def order_status(request: Request, token: str) -> Response:
    order_id = _order_from_token(request, token)
    if order_id is None:
        raise Problem("We could not find this order. Check the link in your confirmation.", status=404,
                      title="Order not found")
    # The signed link is the guest's proof of access; the read itself runs as the system.
    with unit_of_work(request, SYSTEM, readonly=True) as uow:
        order = orders.get_order(uow, order_id)
        store = None
        location = (order.get("fulfilment") or {}).get("location")
        if location:  # the customer needs the store's name, address and hours, not its code
            stores, _ = inventory.list_locations(uow, pickup=True, limit=500)
            store = next((s for s in stores if s["code"] == location), None)
        # the code the store asks for at the hand-over (instore verifies it)
        pickup_code = instore.pickup_code_of(uow, order["number"]) if location else None
        documents = invoicing.documents_for_order(uow, order_id)
        # the lines as sold, named in the language the shopper reads the shop in
        names = catalog.product_names(uow, [line["sku"] for line in order.get("lines", [])], _locale(request))
        for line in order.get("lines", []):
            line["name"] = names.get(line["sku"]) or line["name"]
    # "we email you" only when a mail server is configured and the notification really goes out
    emails = marketing.notifications_email(request.app.state.settings)
    return _render(request, "store/order.html", {"order": order, "store": store, "emails": emails,
                                                 "pickup_code": pickup_code, "documents": documents, "token": token})


@router.get("/order/{token}/documents/{doc_id}.pdf")
def order_document(request: Request, token: str, doc_id: int) -> Response:
    """An invoice or credit note of the order the signed link opens (the guest's proof of access)."""
    order_id = _order_from_token(request, token)
    if order_id is None:
        raise Problem("We could not find this order.", status=404, title="Order not found")
    with unit_of_work(request, SYSTEM, readonly=True) as uow:
        if not any(d.id == doc_id for d in invoicing.documents_for_order(uow, order_id)):
            raise Problem("No such document for this order.", status=404, title="Document not found")
        name, data = invoicing.pdf(uow, doc_id, checked=True)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


# --------------------------------------------------------------------------------------------
# In-app inbox: marketing's messages for this browser (marketing/inapp.py), read and unread
# --------------------------------------------------------------------------------------------


@router.get("/inbox")
def inbox_page(request: Request) -> Response:
    with unit_of_work(request, SYSTEM, readonly=True) as uow:
        shopper = current_shopper(request)
        messages = marketing.inbox(uow, request.cookies.get(marketing.VISITOR_COOKIE),
                                   shopper.customer_id if shopper else None)
    return _render(request, "store/inbox.html", {"messages": messages})


@router.post("/inbox/{message_id}/read")
def inbox_read(request: Request, message_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    read = form.get("read", "1") != "0"
    with unit_of_work(request, SYSTEM) as uow:
        shopper = current_shopper(request)
        found = marketing.mark_read(uow, request.cookies.get(marketing.VISITOR_COOKIE), message_id, read=read,
                                    customer_id=shopper.customer_id if shopper else None)
    if not found:  # another browser's message is as absent as none
        raise Problem("This message is not in your inbox.", status=404, title="Message not found")
    return redirect("/inbox")
