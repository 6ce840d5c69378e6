"""Assisted orders (the endless aisle): an associate orders for the customer at the counter,
for home delivery or pickup in any store, paid at this counter, at the pickup counter, or
by a payment link; the kiosk orders for a shopper the same way with a payment link. The
order is the orders context's (`store` channel); this module attributes it to the store and
the associate in the same transaction as the order itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError

from merx.core.auth import SYSTEM
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.instore.access import Store, acting_for_store
from merx.instore.models import AssistedOrder
from merx.instore.settings import get_instore_settings
from merx.orders import public as orders
from merx.pricing import public as pricing

# counter: paid now at this counter; at_pickup: collected at the pickup counter; link: the
# customer pays through a link (kiosk orders always pay by link)
PAYMENT_MODES = ("counter", "at_pickup", "link")


@dataclass(frozen=True)
class AssistedOrderIn:
    customer_id: int | None
    email: str | None
    lines: list[tuple[str, int]]
    fulfilment: str  # ship | pickup
    pickup_store: str | None
    address: dict[str, Any] | None
    payment_mode: str


def _attribute(store: Store, associate_user_id: int | None, source: str, mode: str, kiosk_session_id: int | None):
    def hook(uow: UnitOfWork) -> None:
        # The order and its attribution commit together: the hook runs inside checkout's commit.
        for ev in list(uow._pending_events):  # noqa: SLF001 - the events of this very commit
            if ev.type == "order.placed" and uow.session.get(AssistedOrder, ev.data.order_id) is None:
                data = ev.data
                uow.session.add(AssistedOrder(
                    order_id=data.order_id, order_number=data.number, store_code=store.code,
                    associate_user_id=associate_user_id, source=source, kiosk_session_id=kiosk_session_id,
                    fulfilment=data.fulfilment.type, pickup_store=data.fulfilment.location, payment_mode=mode,
                    total_minor=pricing.to_minor(data.total, data.currency), currency=data.currency))
                # a retry of this request after a crash answers with this answer (instore/api.py)
                uow.created("instore_order", data.order_id)
    return hook


def _order_create(data: AssistedOrderIn) -> orders.OrderCreate:
    if data.payment_mode not in PAYMENT_MODES:
        raise ValidationProblem.for_field("payment_mode", f"must be one of {', '.join(PAYMENT_MODES)}", "bad_mode")
    if data.payment_mode == "at_pickup" and data.fulfilment != "pickup":
        raise ValidationProblem.for_field("payment_mode", "paying at pickup needs a pickup order", "not_pickup")
    if not data.lines:
        raise ValidationProblem.for_field("lines", "the cart is empty", "required")
    fulfilment: dict[str, Any] = {"type": data.fulfilment}
    if data.fulfilment == "pickup":
        fulfilment["location"] = data.pickup_store
    else:
        fulfilment["address"] = data.address
    customer: dict[str, Any] = {"id": data.customer_id} if data.customer_id is not None else {"email": data.email}
    try:
        return orders.OrderCreate(channel="store", customer=customer, fulfilment=fulfilment,
                                  lines=[{"sku": s, "quantity": q} for s, q in data.lines],
                                  payment={"provider": "manual"})
    except ValidationError as e:
        errors = [FieldError(".".join(str(p) for p in err["loc"]) or "body",
                             str(err["msg"]).removeprefix("Value error, "), err["type"]) for err in e.errors()]
        raise ValidationProblem("; ".join(f"{x.field}: {x.message}" for x in errors), errors=errors) from None


def place_assisted_order(uow: UnitOfWork, store: Store, data: AssistedOrderIn, *, source: str = "associate",
                         kiosk_session_id: int | None = None) -> dict[str, Any]:
    """Place the order in the `store` channel for the customer, attributed to `store` and the
    calling associate (none for a kiosk). Paid at this counter: the payment is recorded at once."""
    order_in = _order_create(data)
    associate = uow.actor.user_id if source == "associate" else None
    uow.before_commit(_attribute(store, associate, source, data.payment_mode, kiosk_session_id))
    with acting_for_store(uow):
        order = orders.place_order(uow, order_in)
        if data.payment_mode == "counter" and order["payment"]["status"] == "awaiting":
            order = orders.capture_payment(uow, order["id"])
    return order


# --------------------------------------------------------------------------------------------
# Payment links
# --------------------------------------------------------------------------------------------


def _link_serializer(uow: UnitOfWork) -> URLSafeSerializer:
    return URLSafeSerializer(uow.settings.verification_secrets()[::-1], salt="merx.instore-pay")


def payment_link_token(uow: UnitOfWork, order_id: int) -> str:
    """The token of the order's payment link: signed, names only the order."""
    return _link_serializer(uow).dumps({"order": order_id})


class PaymentLinkExpired(Problem):
    """410: the link's validity period is over while the order still waits for payment."""

    status = 410
    type_slug = "payment-link-expired"
    title = "Payment link expired"


# Still payable through the link: only these expire (a paid or cancelled order's page stays as it was)
_PAYABLE = ("awaiting", "action_required")


def payment_link_expires_at(uow: UnitOfWork, order_id: int) -> dt.datetime | None:
    """When the order's payment link stops working: its issue time (the order placed, or the
    link last sent) plus MERX_INSTORE_PAYMENT_LINK_HOURS. None for an order instore did not place."""
    placed = uow.session.get(AssistedOrder, order_id)
    if placed is None:
        return None
    issued = placed.payment_link_issued_at or placed.created_at
    return issued + dt.timedelta(hours=get_instore_settings().instore_payment_link_hours)


def order_of_payment_link(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """The order a payment link is for (404 for a forged or unknown link; 410 when the link's
    validity is over and the order still waits for payment: the store sends a new one)."""
    try:
        data = _link_serializer(uow).loads(token)
    except BadSignature:
        raise NotFound("This payment link is not valid") from None
    order_id = data.get("order") if isinstance(data, dict) else None
    if not isinstance(order_id, int):
        raise NotFound("This payment link is not valid")
    original = uow.actor
    uow.actor = SYSTEM  # the signed link is the payer's proof of access
    try:
        order = orders.get_order(uow, order_id)
    finally:
        uow.actor = original
    expires = payment_link_expires_at(uow, order_id)
    if (expires is not None and utcnow() >= expires and order["status"] != "cancelled"
            and order["payment"]["status"] in _PAYABLE):
        raise PaymentLinkExpired(
            f"The payment link of order {order['number']} expired on {expires:%Y-%m-%d %H:%M} UTC: "
            "ask the store to send you a new one", extra={"order_number": order["number"]})
    return order


def payment_link_providers(uow: UnitOfWork) -> list[tuple[str, str]]:
    """(name, label) of the card providers a payment link offers (configured for the shop)."""
    return orders.card_providers(uow.settings)


def pay_by_link(uow: UnitOfWork, token: str, *, provider: str, card: str | None = None) -> dict[str, Any]:
    """The customer pays through the link with a card provider (orders.pay_by_card_later): the
    order switches from `manual` to that provider, so its capture, refunds and reconciliation
    are the card's. Answers the order: paid, or waiting for a 3-D Secure challenge
    (`payment.action_url`); a declined card is a 402 and the link still works. A second tap
    answers with the attempt already open, never a second authorisation."""
    order = order_of_payment_link(uow, token)
    uow.created("instore_link_payment", order["id"])  # a retry whose answer was lost gets the order
    original = uow.actor
    uow.actor = SYSTEM  # the signed link is the payer's proof of access
    try:
        return orders.pay_by_card_later(uow, order["id"], provider=provider, card=card)
    finally:
        uow.actor = original


def link_payment_out(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """The order a payment through its link answers with (the API's replay of a lost answer)."""
    original = uow.actor
    uow.actor = SYSTEM
    try:
        return orders.get_order(uow, order_id)
    finally:
        uow.actor = original


def paid_at_counter(uow: UnitOfWork, store: Store, order_id: int) -> dict[str, Any]:
    """The customer of a payment-link order paid at this counter after all (cash or the
    store's terminal): the associate records it. Only an order this store placed; 409 when it
    is not awaiting payment (paid by card meanwhile)."""
    placed = uow.session.get(AssistedOrder, order_id)
    if placed is None or placed.store_code != store.code:
        raise NotFound(f"Order {order_id} is not an order of this store")
    with acting_for_store(uow):
        order = orders.get_order(uow, order_id)
        if order["payment"]["status"] != "awaiting" or order["payment"]["provider"] != "manual":
            raise Conflict(f"Order {order['number']} is not awaiting payment at the counter "
                           f"(payment {order['payment']['status']})", type_slug="not-awaiting-payment")
        return orders.capture_payment(uow, order_id)


def order_for_receipt(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """An order the caller's stores placed or hand over (its receipt); any other is 404."""
    from merx.instore.access import my_stores

    codes = {s.code for s in my_stores(uow)}
    placed = uow.session.get(AssistedOrder, order_id)
    try:
        with acting_for_store(uow):
            order = orders.get_order(uow, order_id)
    except NotFound:
        order = None
    if order is None or not ((placed is not None and placed.store_code in codes)
                             or order["fulfilment"]["location"] in codes):
        raise NotFound(f"Order {order_id} is not an order of your stores")
    return order


def assisted_order_out(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """What the API answers for an assisted order: the order, its payment link when the
    customer pays by link, its pickup code when it is collected in a store."""
    from merx.instore.pickups import pickup_code_of

    with acting_for_store(uow):
        order = orders.get_order(uow, order_id)
    placed = uow.session.get(AssistedOrder, order_id)
    out: dict[str, Any] = {"order": order}
    if placed is not None and placed.payment_mode == "link":
        out["payment_link"] = f"/pay/{payment_link_token(uow, order_id)}"
    if order["fulfilment"]["type"] == "pickup":
        out["pickup_code"] = pickup_code_of(uow, order["number"])
    return out
