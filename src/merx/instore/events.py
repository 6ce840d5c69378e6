"""Events of the in-store context. Merx's instore context sends no mail or SMS itself: when an
associate sends a held cart or a payment link to the customer, it emits one of these, and
marketing's transactional sender (a durable subscriber) delivers the link by email, or by
SMS through the messaging gateway when the customer has only a phone (`channel`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Event, EventMoney, Timestamp


class HeldCartSent(Event):
    """An associate held a cart for the customer and sent it: `path` (the storefront page of
    the cart, a secret link) goes to the customer by `channel`."""

    event_type: ClassVar[str] = "instore.cart_sent"
    aggregate_type: ClassVar[str] = "instore_held_cart"
    aggregate_field: ClassVar[str] = "cart_id"

    cart_id: int
    store_code: str
    store_name: str
    customer_id: int
    associate_user_id: int | None
    channel: Literal["email", "sms"]
    path: str
    total: EventMoney
    units: int
    expires_at: Timestamp


class PaymentLinkSent(Event):
    """An assisted or kiosk order's payment link was sent to the customer (by the associate, or
    by the kiosk when the order is placed): `path` (the secret `/pay/...` page, paid by card)
    goes to the customer by `channel`."""

    event_type: ClassVar[str] = "instore.payment_link_sent"
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: int
    number: str
    store_code: str
    customer_id: int
    channel: Literal["email", "sms"]
    path: str
    total: EventMoney
