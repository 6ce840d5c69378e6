"""Hold the cart and send it: an associate builds a cart for the customer at the counter and
sends it as a link (email, or SMS when the customer has only a phone); the customer opens it
on the storefront (`/held/{token}`) and checks out with the cart's lines at the prices quoted at
the counter. The order is placed in the `store` channel by the associate (placed_by names
them) and attributed to the store and the associate in checkout's own commit, as an assisted
order is. The same sending serves an assisted order's payment link.

Instore sends nothing itself: it emits `instore.cart_sent` / `instore.payment_link_sent` and
marketing's transactional sender delivers them (marketing is above instore)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from merx.catalog import public as catalog
from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.instore.access import Store, acting_for_store, my_stores, store_for_kiosk
from merx.instore.assisted import AssistedOrderIn, _attribute, _order_create, payment_link_token
from merx.instore.events import HeldCartSent, PaymentLinkSent
from merx.instore.models import AssistedOrder, HeldCart
from merx.instore.settings import get_instore_settings
from merx.inventory import public as inventory
from merx.orders import public as orders
from merx.pricing import public as pricing


def _serializer(uow: UnitOfWork) -> URLSafeSerializer:
    return URLSafeSerializer(uow.settings.verification_secrets()[::-1], salt="merx.instore-held-cart")


def held_cart_token(uow: UnitOfWork, cart_id: int) -> str:
    """The token of a held cart's link: signed, names only the cart."""
    return _serializer(uow).dumps({"cart": cart_id})


def contact_channel(uow: UnitOfWork, customer_id: int | None) -> str:
    """How a link reaches the customer: email when the record has one, else SMS to the phone
    (422 naming `customer_id` when there is neither, or no such customer)."""
    if customer_id is None:
        raise ValidationProblem.for_field("customer_id", "choose the customer to send the link to", "required")
    found = customers.customer_attributes(uow, [customer_id])
    if not found:
        raise ValidationProblem.for_field("customer_id", f"customer {customer_id} does not exist", "not_found")
    if found[0].get("email"):
        return "email"
    if found[0].get("phone"):
        return "sms"
    raise ValidationProblem.for_field("customer_id", "the customer has no email or phone to send the link to",
                                      "no_contact")


def hold_and_send(uow: UnitOfWork, store: Store, data: AssistedOrderIn) -> dict[str, Any]:
    """Hold the cart for the customer (lines, fulfilment, the prices checkout quotes now) and
    send its link. Nothing is reserved: stock is taken when the customer checks out."""
    order_in = _order_create(dataclasses.replace(data, payment_mode="link"))
    # The preview prices the cart without checking where it goes: checked here, so the customer
    # never gets a link that cannot be ordered.
    if data.fulfilment == "pickup":
        loc = inventory.get_location_by_code(uow, data.pickup_store or "", field="pickup_store")
        if loc.kind != "store" or not loc.pickup or not loc.active:
            raise ValidationProblem.for_field("pickup_store", f"{loc.code} is not a store that offers pickup",
                                              "no_pickup")
    elif not data.address:
        raise ValidationProblem.for_field("address", "home delivery needs the customer's address", "required")
    channel = contact_channel(uow, data.customer_id)
    with acting_for_store(uow):
        quote = orders.preview_order(uow, order_in)  # 422/409 now rather than at the customer's checkout
    infos = catalog.lookup_skus(uow, [ln.sku for ln in order_in.lines])
    currency = quote["currency"]
    lines = [{"sku": ln["sku"], "name": infos[ln["sku"]].name if ln["sku"] in infos else ln["sku"],
              "quantity": ln["quantity"], "unit_price_minor": pricing.to_minor(Decimal(ln["unit_price"]), currency)}
             for ln in quote["lines"]]
    now = utcnow()
    actor = uow.actor
    cart = HeldCart(store_code=store.code, associate_user_id=actor.user_id, associate_name=actor.name,
                    customer_id=data.customer_id, currency=currency, lines=lines,
                    fulfilment=order_in.fulfilment.model_dump(exclude_none=True, mode="json"),
                    total_minor=pricing.to_minor(Decimal(quote["totals"]["total"]), currency), channel=channel,
                    status="sent", created_at=now,
                    expires_at=now + dt.timedelta(days=get_instore_settings().instore_held_cart_days))
    uow.session.add(cart)
    uow.session.flush()
    path = f"/held/{held_cart_token(uow, cart.id)}"
    uow.emit(HeldCartSent(cart_id=cart.id, store_code=store.code, store_name=store.name, customer_id=cart.customer_id,
                          associate_user_id=actor.user_id, channel=channel, path=path,
                          total=Money.from_minor(cart.total_minor, currency),
                          units=sum(ln["quantity"] for ln in lines), expires_at=cart.expires_at))
    uow.audit("send", "instore_held_cart", cart.id, after={"store": store.code, "channel": channel,
                                                            "customer_id": cart.customer_id})
    uow.commit()
    return held_cart_out(cart) | {"link": path}


def held_cart_out(cart: HeldCart) -> dict[str, Any]:
    cur = cart.currency
    money = lambda minor: str(pricing.from_minor(minor, cur))  # noqa: E731
    return {"id": cart.id, "store": cart.store_code, "customer_id": cart.customer_id, "currency": cur,
            "status": cart.status, "channel": cart.channel, "fulfilment": cart.fulfilment,
            "lines": [{"sku": ln["sku"], "name": ln["name"], "quantity": ln["quantity"],
                       "unit_price": money(ln["unit_price_minor"]),
                       "total": money(ln["unit_price_minor"] * ln["quantity"])} for ln in cart.lines],
            "total": money(cart.total_minor), "order_id": cart.order_id,
            "expires_at": cart.expires_at.isoformat(), "expired": cart.status == "sent" and cart.expires_at <= utcnow()}


def list_held_carts(uow: UnitOfWork, *, since: dt.datetime, until: dt.datetime, limit: int = 200) -> list[dict[str, Any]]:
    """The carts the caller's stores held and sent in the period, newest first: to whom, by
    whom, for how much, and whether the customer has ordered (or the link expired)."""
    from merx.instore.reports import require_report_reader

    require_report_reader(uow)
    codes = [s.code for s in my_stores(uow)]
    rows = uow.session.scalars(sa.select(HeldCart).where(
        HeldCart.store_code.in_(codes), HeldCart.created_at >= since, HeldCart.created_at < until)
        .order_by(HeldCart.id.desc()).limit(limit))
    return [held_cart_out(c) | {"associate": c.associate_name, "sent_at": c.created_at} for c in rows]


def _cart_of_token(uow: UnitOfWork, token: str, *, for_update: bool = False) -> HeldCart:
    try:
        data = _serializer(uow).loads(token)
    except BadSignature:
        raise NotFound("This cart link is not valid") from None
    cart_id = data.get("cart") if isinstance(data, dict) else None
    if not isinstance(cart_id, int):
        raise NotFound("This cart link is not valid")
    stmt = sa.select(HeldCart).where(HeldCart.id == cart_id)
    cart = uow.session.scalar(stmt.with_for_update() if for_update else stmt)
    if cart is None:
        raise NotFound("This cart link is not valid")
    return cart


def held_cart_of_link(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """The held cart a link names (404 for a forged or unknown link): the signed link is the
    customer's proof of access, as a payment link is."""
    return held_cart_out(_cart_of_token(uow, token))


def _mark_ordered(cart_id: int):
    def hook(uow: UnitOfWork) -> None:
        for ev in list(uow._pending_events):  # noqa: SLF001 - the events of this very commit
            if ev.type == "order.placed":
                # Conditional: of two taps racing, the second's order is not committed at all.
                done = uow.session.execute(sa.update(HeldCart).where(HeldCart.id == cart_id, HeldCart.status == "sent")
                                           .values(status="ordered", order_id=ev.data.order_id, ordered_at=utcnow()))
                if done.rowcount != 1:
                    raise Conflict("This cart has already been ordered", type_slug="cart-ordered")
    return hook


def order_held_cart(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """The customer checks out the held cart: an order of its lines at the cart's prices, for
    the fulfilment chosen at the counter, paid through its payment link. A second tap answers
    with the order already placed; an expired link is 409."""
    cart = _cart_of_token(uow, token)
    if cart.status == "ordered" and cart.order_id is not None:
        return _as_associate(uow, cart, lambda: orders.get_order(uow, cart.order_id))
    if cart.expires_at <= utcnow():
        raise Conflict("This cart link has expired: ask the store to send the cart again", type_slug="cart-expired")
    store = store_for_kiosk(uow, cart.store_code)
    ful = cart.fulfilment or {"type": "ship"}
    order_in = _order_create(AssistedOrderIn(
        customer_id=cart.customer_id, email=None, lines=[(ln["sku"], ln["quantity"]) for ln in cart.lines],
        fulfilment=ful["type"], pickup_store=ful.get("location"), address=ful.get("address"), payment_mode="link"))
    prices = {ln["sku"]: pricing.from_minor(ln["unit_price_minor"], cart.currency) for ln in cart.lines}
    uow.rollback()  # place_order runs its own transaction; the hook's conditional update guards a second tap
    uow.before_commit(_attribute(store, cart.associate_user_id, "associate", "link", None))
    uow.before_commit(_mark_ordered(cart.id))
    return _as_associate(uow, cart, lambda: orders.place_order(uow, order_in, price_overrides=prices))


def _as_associate(uow: UnitOfWork, cart: HeldCart, fn: Any) -> Any:
    """Run an orders call as the associate who held the cart (placed_by and audit name them)."""
    original = uow.actor
    uow.actor = Principal(user_id=cart.associate_user_id, role=Role.staff,
                          name=f"{cart.associate_name or 'associate'} (cart link)")
    try:
        return fn()
    finally:
        uow.actor = original


def send_payment_link(uow: UnitOfWork, store: Store, order_id: int) -> dict[str, Any]:
    """Send an assisted order's payment link to its customer (email, else SMS). 404 for an
    order this store did not place to be paid by link; 409 when it is no longer awaiting payment."""
    placed = uow.session.get(AssistedOrder, order_id)
    if placed is None or placed.store_code != store.code or placed.payment_mode != "link":
        raise NotFound(f"Order {order_id} is not an order of this store paid by link")
    with acting_for_store(uow):
        order = orders.get_order(uow, order_id)
    if order["payment"]["status"] != "awaiting":
        raise Conflict(f"Order {order['number']} is not awaiting payment", type_slug="not-awaiting-payment")
    channel = contact_channel(uow, order.get("customer_id"))
    placed.payment_link_issued_at = utcnow()  # a fresh validity period, also for an expired link
    path = f"/pay/{payment_link_token(uow, order_id)}"
    uow.emit(PaymentLinkSent(order_id=order_id, number=order["number"], store_code=store.code,
                             customer_id=order["customer_id"], channel=channel, path=path,
                             total=Money(Decimal(order["totals"]["total"]), order["currency"])))
    uow.audit("send_payment_link", "order", order_id, after={"store": store.code, "channel": channel})
    uow.commit()
    return {"order_id": order_id, "number": order["number"], "channel": channel, "link": path}
