"""Events the orders context publishes: the order lifecycle (aggregate "order", version =
the order's version) and checkout holds (aggregate "cart").

Every order event carries the order's identity and headline figures (`_OrderEvent`); each
type adds what happened, as typed fields. Money that moved is `{"amount", "currency"}`;
`total` stays the decimal string it always was, next to `currency`."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Amount, Currency, Event, EventMoney, EventPart, Timestamp

OrderStatus = Literal["pending", "confirmed", "paid", "fulfilled", "ready_for_pickup", "delivered", "picked_up",
                      "completed", "cancelled", "returned", "refunded"]
Channel = Literal["web", "store", "marketplace", "b2b"]


class _OrderEvent(Event):
    aggregate_type: ClassVar[str] = "order"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: int
    number: str
    customer_id: int | None
    status: OrderStatus  # after this event
    total: Amount
    currency: Currency


class _OrderChange(_OrderEvent):
    previous_status: OrderStatus  # before this event (the same when the status did not change)


class PlacedLine(EventPart):

    sku: str
    product_id: int | None
    quantity: int
    unit_price: Amount
    line_total: Amount
    category: str | None
    location: str | None  # the location that serves most of the line
    locations: list[str]
    unit_cost: Amount | None = None  # landed at the time of sale, order currency; null: no cost known


class OrderTotals(EventPart):

    subtotal: Amount
    discount: Amount
    shipping: Amount
    total: Amount


class Fulfilment(EventPart):

    type: Literal["ship", "pickup"]
    location: str | None


class AppliedPromotion(EventPart):

    promotion_id: int
    name: str
    amount: Amount


class OrderPlaced(_OrderEvent):
    """An order was created with its stock reserved (status pending, confirmed, or paid for a
    free order)."""

    event_type: ClassVar[str] = "order.placed"

    channel: Channel
    email: str | None
    lines: list[PlacedLine]
    totals: OrderTotals
    fulfilment: Fulfilment
    promotions: list[AppliedPromotion]
    placed_at: Timestamp
    payment_provider: str


class OrderConfirmed(_OrderChange):
    """The payment was authorised by the provider (`payment_fingerprint`: the card's, when
    the provider knows one)."""

    event_type: ClassVar[str] = "order.confirmed"

    payment_status: str
    payment_fingerprint: str | None = None


class OrderPaid(_OrderChange):
    """The payment was captured: `amount` through `provider`; `payment_fingerprint` identifies
    the card (the same card gives the same fingerprint) when the provider knows one."""

    event_type: ClassVar[str] = "order.paid"

    amount: EventMoney
    provider: str
    payment_fingerprint: str | None


class Tracking(EventPart):

    carrier: str
    number: str
    url: str | None


class OrderFulfilled(_OrderChange):
    """The order was shipped, with its tracking."""

    event_type: ClassVar[str] = "order.fulfilled"

    tracking: Tracking


class OrderDelivered(_OrderChange):
    """The order was delivered to the customer."""

    event_type: ClassVar[str] = "order.delivered"


class OrderReadyForPickup(_OrderChange):
    """The order waits in the store `location`."""

    event_type: ClassVar[str] = "order.ready_for_pickup"

    location: str
    location_name: str


class OrderPickedUp(_OrderChange):
    """The customer collected the order at `location` (`payment_status` is "captured" when
    the payment was collected there)."""

    event_type: ClassVar[str] = "order.picked_up"

    location: str
    payment_status: str


class OrderCompleted(_OrderChange):
    """The order was closed."""

    event_type: ClassVar[str] = "order.completed"


class OrderCancelled(_OrderChange):
    """The order was cancelled and its stock released (`reason`); money taken goes back with
    an order.refunded event."""

    event_type: ClassVar[str] = "order.cancelled"

    reason: str
    payment_status: str


class ReturnedLine(EventPart):

    line: int
    sku: str
    quantity: int
    reason: str | None
    restocked: bool
    unit_cost: Amount | None = None  # the cost landed on the line when it was sold; null: unknown


class OrderReturned(_OrderChange):
    """Goods of a return came back to `location`. `partial` when some of the order is still
    with the customer (the status then stays as it was). `returned_value` is what the
    returned units were paid; `refund` is what will be paid back for them (null when the
    goods came back without a refund). Money actually paid back is an order.refunded event."""

    event_type: ClassVar[str] = "order.returned"

    return_id: int
    location: str
    lines: list[ReturnedLine]
    returned_value: EventMoney
    refund: EventMoney | None
    partial: bool


class OrderRefunded(_OrderChange):
    """Money was paid back (`amount`, for return `return_id` or a cancellation), or a fully
    returned order became `refunded` (`amount` null). `refunded_total` is everything paid
    back on the order so far."""

    event_type: ClassVar[str] = "order.refunded"

    amount: EventMoney | None
    refunded_total: EventMoney
    return_id: int | None
    payment_status: str
    # why the money went back, when checkout's own flows know: "return" (return_id names it),
    # "cancellation", or "undelivered_lines" (marketplace lines a seller refused or never
    # shipped: `seller_order.line_refunded` explains each, so the customer gets one mail);
    # null for a refund reported by the provider (a webhook) or an older event
    cause: Literal["return", "cancellation", "undelivered_lines"] | None = None


# -- carts ------------------------------------------------------------------------------------

class CartCheckoutStarted(Event):
    """A cart holds its stock for the checkout time to live (until `expires_at`)."""

    event_type: ClassVar[str] = "cart.checkout_started"
    aggregate_type: ClassVar[str] = "cart"
    aggregate_field: ClassVar[str] = "cart_id"

    cart_id: int
    customer_id: int | None
    email: str | None
    expires_at: Timestamp


class CartAbandoned(Event):
    """A checkout hold lapsed without an order (`detected_by` "orders", `cart_id` the cart),
    or the analytics scan found a cart left behind (`detected_by` "analytics", `cart_id` and
    `cart_key` the analytics cart key, with `anonymous_id`, `items`, `last_activity_at`)."""

    event_type: ClassVar[str] = "cart.abandoned"
    aggregate_type: ClassVar[str] = "cart"

    cart_id: int | str
    customer_id: int | None
    email: str | None
    currency: Currency | None
    total: Amount | None
    detected_by: Literal["orders", "analytics"] = "orders"
    cart_key: str | None = None
    anonymous_id: str | None = None
    items: int | None = None
    last_activity_at: Timestamp | None = None

    def aggregate_id(self) -> str:
        return str(self.cart_key or self.cart_id)


STATUS_EVENTS: dict[str, type[_OrderChange]] = {
    cls.event_type.split(".", 1)[1]: cls
    for cls in (OrderConfirmed, OrderPaid, OrderFulfilled, OrderDelivered, OrderReadyForPickup, OrderPickedUp,
                OrderCompleted, OrderCancelled, OrderReturned, OrderRefunded)}
