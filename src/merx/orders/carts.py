"""Carts: anonymous (token) or a customer's, the checkout hold on their stock, and ordering one."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.db import utcnow

from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.inventory.public import get_inventory_settings
from merx.orders import events
from merx.orders.checkout import _check_channel, _lookup, _prices, place_order
from merx.orders.models import Cart, CartLine
from merx.orders.schemas import CartCreate, CartPatch, CustomerIn, LineIn, OrderCreate, PaymentIn
from merx.orders.state import READ_ALL, _m, _retrying
from merx.pricing import public as pricing


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load_cart(uow: UnitOfWork, cart_id: int, token: str | None, *, for_update: bool = False) -> Cart:
    stmt = sa.select(Cart).where(Cart.id == cart_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    cart = uow.session.scalar(stmt)
    actor = uow.actor
    visible = cart is not None and (
        actor.role in READ_ALL
        or (actor.role == Role.customer and cart.customer_id == actor.customer_id)
        or (token is not None and cart.token_hash is not None
            and secrets.compare_digest(cart.token_hash, _token_hash(token))))
    if not visible:
        raise NotFound(f"Cart {cart_id} does not exist (anonymous carts need their X-Cart-Token)")
    return cart


def _cart_lines(uow: UnitOfWork, cart: Cart) -> list[CartLine]:
    return list(uow.session.scalars(sa.select(CartLine).where(CartLine.cart_id == cart.id).order_by(CartLine.id)))


def _cart_order(cart: Cart, lines: list[CartLine], *, points: bool = True) -> OrderCreate:
    """The order this cart would place (as `order_cart` builds it)."""
    return OrderCreate(channel=cart.channel, currency=cart.currency,
                       customer=CustomerIn(id=cart.customer_id, email=cart.email),
                       lines=[LineIn(sku=ln.sku, quantity=ln.quantity) for ln in lines],
                       fulfilment=cart.fulfilment or {"type": "ship"}, coupon=cart.coupon_code,
                       loyalty_points=(cart.loyalty_points or None) if points else None)


def _checkout_quote(uow: UnitOfWork, cart: Cart, lines: list[CartLine]) -> tuple[dict[str, Any] | None, str | None]:
    """The cart's figures as checkout computes them (orders/fiscal_step.quote) at the cart's
    price snapshot, and why it cannot be ordered as it is. Points that no longer fit (the
    balance moved) are left out of the figures and named in the problem."""
    from merx.core.errors import Problem
    from merx.orders import fiscal_step

    if not lines:
        return None, None
    snapshot = {ln.sku: pricing.from_minor(ln.unit_price_minor, cart.currency) for ln in lines}
    problem = None
    for points in ((True, False) if cart.loyalty_points else (False,)):
        try:
            with uow.savepoint():
                return fiscal_step.quote(uow, _cart_order(cart, lines, points=points), price_overrides=snapshot), problem
        except ValidationError as e:  # a stored fulfilment that no longer validates
            return None, str(e.errors()[0].get("msg"))
        except Problem as e:
            if e.status >= 500:
                raise
            problem = e.detail
    return None, problem


def cart_out(uow: UnitOfWork, cart: Cart, *, token: str | None = None) -> dict[str, Any]:
    lines = _cart_lines(uow, cart)
    cur = cart.currency
    checkout, quote_problem = _checkout_quote(uow, cart, lines)
    if checkout is not None:
        return _cart_fields(uow, cart, lines, token) | {
            k: checkout[k] for k in ("totals", "promotions", "coupon_problem", "tax_lines", "prices_include_tax",
                                     "loyalty")} | {"quote_problem": quote_problem}
    ship = (cart.fulfilment or {}).get("type", "ship") == "ship"
    coupon = cart.coupon_code
    cart_lines = [pricing.CartLine(f"lines[{i}]", ln.sku, ln.quantity, pricing.from_minor(ln.unit_price_minor,
                                                                                                  cur))
                  for i, ln in enumerate(lines)]
    quote = pricing.price_cart(
        cart_lines, pricing.promotions_for(uow, [coupon] if coupon else []) if lines else [],
        pricing.CartContext(currency=cur, channel=cart.channel, now=utcnow(),
                                coupon_codes=frozenset({coupon}) if coupon else frozenset(),
                                shipping=pricing.shipping_fee(uow, cur) if (ship and lines) else Decimal(0)))
    to_s = lambda d: _m(pricing.to_minor(d, cur), cur)  # noqa: E731
    return _cart_fields(uow, cart, lines, token) | {
        "quote_problem": quote_problem,
        "totals": {"currency": cur, "subtotal": to_s(quote.subtotal), "discount": to_s(quote.discount),
                   "shipping": to_s(quote.shipping), "shipping_discount": to_s(quote.shipping_discount),
                   "total": to_s(quote.total), "refunded": _m(0, cur)},
        "promotions": [{"promotion_id": a.promotion_id, "name": a.name, "kind": a.kind, "coupon_code": a.coupon_code,
                        "amount": to_s(a.amount)} for a in quote.applied],
        "coupon_problem": quote.coupon_problems.get(coupon) if coupon else None,
    }


def _cart_fields(uow: UnitOfWork, cart: Cart, lines: list[CartLine], token: str | None) -> dict[str, Any]:
    cur = cart.currency
    return {
        "id": cart.id, "token": token, "status": cart.status, "currency": cur, "channel": cart.channel,
        "customer_id": cart.customer_id, "email": cart.email, "fulfilment": cart.fulfilment,
        "coupon": cart.coupon_code, "loyalty_points": cart.loyalty_points,
        "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity, "unit_price": _m(ln.unit_price_minor, cur),
                   "total": _m(ln.unit_price_minor * ln.quantity, cur)} for ln in lines],
        "hold_expires_at": cart.hold_expires_at if cart.status == "checkout" else None,
        "holds": inventory.holds_of(uow, f"cart:{cart.id}") if cart.status == "checkout" else [],
        "order_id": cart.order_id, "version": cart.version,
    }


def _check_fulfilment(uow: UnitOfWork, fulfilment: Any) -> dict[str, Any] | None:
    if fulfilment is None:
        return None
    if fulfilment.type == "pickup":
        loc = inventory.get_location_by_code(uow, fulfilment.location, field="fulfilment.location")
        if not loc.pickup:
            raise ValidationProblem.for_field("fulfilment.location", f"{loc.code} does not offer pickup", "no_pickup")
    return fulfilment.model_dump(exclude_none=True)


def create_cart(uow: UnitOfWork, data: CartCreate) -> dict[str, Any]:
    actor = uow.actor
    _check_channel(uow, data.channel)
    token = None
    cart = Cart(currency=data.currency or uow.settings.default_currency, channel=data.channel, email=data.email,
                status="open", fulfilment=_check_fulfilment(uow, data.fulfilment),
                coupon_code=data.coupon.upper() if data.coupon else None, loyalty_points=data.loyalty_points,
                version=1, created_at=utcnow(),
                updated_at=utcnow())
    if actor.role == Role.customer:
        cart.customer_id = actor.customer_id
    else:
        token = secrets.token_urlsafe(24)
        cart.token_hash = _token_hash(token)
    uow.session.add(cart)
    uow.session.flush()
    if data.lines:
        _put_lines(uow, cart, data.lines, replace=True)
    uow.audit("create", "cart", cart.id, after={"lines": len(data.lines), "currency": cart.currency})
    uow.commit()
    return cart_out(uow, cart, token=token)


def _put_lines(uow: UnitOfWork, cart: Cart, lines: list[LineIn], *, replace: bool) -> None:
    """Set quantities (0 removes a line) with a fresh price snapshot for changed SKUs."""
    merged: dict[str, int] = {}
    for ln in lines:
        merged[ln.sku] = merged.get(ln.sku, 0) + ln.quantity if replace else ln.quantity
    wanted = [LineIn(sku=s, quantity=q) for s, q in merged.items() if q > 0]
    infos = _lookup(uow, wanted) if wanted else {}
    prices = _prices(uow, wanted, infos, currency=cart.currency, channel=cart.channel, group=None) if wanted else {}
    existing = {ln.sku: ln for ln in _cart_lines(uow, cart)}
    if replace:
        for sku, row in existing.items():
            if sku not in merged:
                uow.session.delete(row)
    for sku, qty in merged.items():
        row = existing.get(sku)
        if qty <= 0:
            if row is not None:
                uow.session.delete(row)
            continue
        minor = pricing.to_minor(prices[sku], cart.currency)
        if row is None:
            uow.session.add(CartLine(cart_id=cart.id, sku=sku, name=infos[sku].name, quantity=qty,
                                     unit_price_minor=minor))
        else:
            row.quantity, row.unit_price_minor, row.name = qty, minor, infos[sku].name
    uow.session.flush()


def _editable(uow: UnitOfWork, cart: Cart) -> None:
    if cart.status == "ordered":
        raise Conflict(f"Cart {cart.id} has been ordered", type_slug="cart-ordered")
    if cart.status == "checkout":
        # editing gives the hold back; checkout starts again
        inventory.release(uow, f"cart:{cart.id}", note="cart edited")
        cart.status, cart.hold_expires_at = "open", None


def set_cart_line(uow: UnitOfWork, cart_id: int, token: str | None, sku: str, quantity: int) -> dict[str, Any]:
    cart = _load_cart(uow, cart_id, token, for_update=True)
    _editable(uow, cart)
    if quantity == 0:
        existing = uow.session.scalar(sa.select(CartLine).where(CartLine.cart_id == cart.id, CartLine.sku == sku))
        if existing is not None:
            uow.session.delete(existing)
    else:
        _put_lines(uow, cart, [LineIn(sku=sku, quantity=quantity)], replace=False)
    cart.version += 1
    cart.updated_at = utcnow()
    uow.audit("set_line", "cart", cart.id, after={"sku": sku, "quantity": quantity})
    uow.commit()
    return cart_out(uow, cart)


def update_cart(uow: UnitOfWork, cart_id: int, token: str | None, data: CartPatch) -> dict[str, Any]:
    cart = _load_cart(uow, cart_id, token, for_update=True)
    fields = data.model_fields_set
    if "fulfilment" in fields:
        _editable(uow, cart)
        cart.fulfilment = _check_fulfilment(uow, data.fulfilment)
    if "email" in fields:
        cart.email = data.email
    if "coupon" in fields:
        cart.coupon_code = data.coupon.upper() if data.coupon else None
        if cart.coupon_code and not pricing.coupon_exists(uow, cart.coupon_code):
            raise ValidationProblem.for_field("coupon", f"{cart.coupon_code} is not a known coupon code",
                                              "unknown_coupon")
    if "loyalty_points" in fields:  # checked against the balance and the programme in the cart's figures
        cart.loyalty_points = data.loyalty_points or None
    cart.version += 1
    cart.updated_at = utcnow()
    uow.audit("update", "cart", cart.id, after={"changed": sorted(fields)})
    uow.commit()
    return cart_out(uow, cart)


def start_checkout(uow: UnitOfWork, cart_id: int, token: str | None) -> dict[str, Any]:
    """Hold the cart's stock for the checkout time to live (409 naming short lines)."""
    ttl = get_inventory_settings().reservation_ttl_seconds

    def run() -> dict[str, Any]:
        cart = _load_cart(uow, cart_id, token, for_update=True)
        if cart.status == "ordered":
            raise Conflict(f"Cart {cart.id} has been ordered", type_slug="cart-ordered")
        lines = _cart_lines(uow, cart)
        if not lines:
            raise ValidationProblem.for_field("lines", "the cart is empty", "empty")
        if not cart.email and cart.customer_id is None:
            raise ValidationProblem.for_field("email", "guest checkout needs an email", "required")
        fulfilment = cart.fulfilment or {"type": "ship"}
        location_ids = None
        if fulfilment["type"] == "pickup":
            location_ids = [inventory.get_location_by_code(uow, fulfilment["location"], field="fulfilment.location").id]
        expires = utcnow() + dt.timedelta(seconds=ttl)
        inventory.allocate(uow, f"cart:{cart.id}",
                           [inventory.LineRequest(f"lines[{i}]", ln.sku, ln.quantity) for i, ln in enumerate(lines)],
                           location_ids=location_ids, ship_only=fulfilment["type"] == "ship", expires_at=expires,
                           release_owner=f"cart:{cart.id}")
        cart.status, cart.hold_expires_at = "checkout", expires
        cart.version += 1
        cart.updated_at = utcnow()
        uow.emit(events.CartCheckoutStarted(cart_id=cart.id, customer_id=cart.customer_id, email=cart.email,
                                            expires_at=expires), version=cart.version)
        uow.audit("checkout", "cart", cart.id, after={"expires_at": expires.isoformat()})
        uow.commit()
        return cart_out(uow, cart)

    return _retrying(uow, run)


def order_cart(uow: UnitOfWork, cart_id: int, token: str | None, payment: PaymentIn,
               customer: CustomerIn | None = None, client_address: str | None = None) -> dict[str, Any]:
    """Turn the cart into an order. While its checkout hold is live, the held units and the
    price snapshot are honoured; after it lapsed, current stock and prices apply."""
    cart = _load_cart(uow, cart_id, token)
    if cart.status == "ordered":
        raise Conflict(f"Cart {cart.id} has already been ordered", type_slug="cart-ordered",
                       extra={"order_id": cart.order_id})
    lines = _cart_lines(uow, cart)
    if not lines:
        raise ValidationProblem.for_field("lines", "the cart is empty", "empty")
    live_hold = cart.status == "checkout" and cart.hold_expires_at is not None and cart.hold_expires_at > utcnow()
    overrides = ({ln.sku: pricing.from_minor(ln.unit_price_minor, cart.currency) for ln in lines}
                 if live_hold else None)
    cust = customer or CustomerIn(email=cart.email)
    if cust.email is None and cart.email:
        cust = cust.model_copy(update={"email": cart.email})
    data = OrderCreate(channel=cart.channel, currency=cart.currency, customer=cust,
                       lines=[LineIn(sku=ln.sku, quantity=ln.quantity) for ln in lines],
                       fulfilment=cart.fulfilment or {"type": "ship"}, payment=payment, coupon=cart.coupon_code,
                       loyalty_points=cart.loyalty_points or None)
    uow.rollback()
    return place_order(uow, data, cart_id=cart.id, price_overrides=overrides, client_address=client_address)
