"""Marketing's reactions, all durable subscribers (core/subscribers.py): fed from the outbox,
each batch's writes committed with the cursor, so a notification is recorded once per event
and never lost.

- `marketing.orders`: order events -> transactional notifications, marketing's order notes
  (attribution, journey exits), post-purchase and replenishment journeys; cart abandonment -> abandoned-cart
  journey.
- `marketing.sellers`: a marketplace line refused or not delivered and refunded -> the
  customer is told (`seller_order.line_refunded`).
- `marketing.sales`: a quote sent -> the buyer gets its link (`quote.sent`).
- `marketing.instore`: a cart held at a store counter, or an assisted order's payment link, sent
  -> the customer gets the link by email, or by SMS when they have only a phone.
- `marketing.consent`: consent granted -> welcome journey; withdrawn -> queued marketing
  messages to that channel are cancelled at once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from merx.core.events import DomainEvent, MessageBus
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.crm.events import CustomerConsentChanged
from merx.customers import public as customers
from merx.instore.events import HeldCartSent, PaymentLinkSent
from merx.marketing import journeys, notifications
from merx.marketing.models import Message, OrderNote
from merx.sales.events import QuoteSent
from merx.sellers.events import SellerLineRefunded
from merx.orders.events import (CartAbandoned, OrderCancelled, OrderDelivered, OrderFulfilled, OrderPaid, OrderPlaced,
                                OrderReadyForPickup, OrderRefunded, OrderReturned)

ORDER_EVENTS = (OrderPlaced, OrderPaid, OrderReadyForPickup, OrderFulfilled, OrderDelivered, OrderReturned,
                OrderRefunded, OrderCancelled, CartAbandoned)


def on_order_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    notifications.queue_for_events(uow, events)
    for event in events:
        data = event.data
        if event.type == "order.placed":
            _note_order(uow, data)
            if data.customer_id is not None:
                journeys.on_purchase(uow, data.customer_id, data.placed_at)
                journeys.enrol(uow, "order.placed", data.customer_id, f"order:{data.order_id}", data.placed_at)
                journeys.enrol_replenishment(uow, data.customer_id, data.order_id, data.lines, data.placed_at)
        elif event.type == "order.cancelled":
            note = uow.session.get(OrderNote, data.order_id)
            if note is not None:
                note.status = "cancelled"
        elif event.type == "cart.abandoned":
            customer_id = data.customer_id
            if customer_id is None and data.email:
                customer_id = customers.customer_id_by_email(uow, data.email)
            if customer_id is not None:
                at = data.last_activity_at or event.occurred_at
                journeys.enrol(uow, "cart.abandoned", customer_id, f"cart:{data.aggregate_id()}", at)
    uow.commit()


def _note_order(uow: UnitOfWork, data: OrderPlaced) -> None:
    if uow.session.get(OrderNote, data.order_id) is None:
        uow.session.add(OrderNote(order_id=data.order_id, customer_id=data.customer_id, currency=data.currency,
                                  total_minor=Money(data.total, data.currency).minor, status=data.status,
                                  placed_at=data.placed_at))
        uow.session.flush()


def on_consent(events: list[DomainEvent], uow: UnitOfWork) -> None:
    for event in events:
        data = event.data
        if data.granted:
            if data.channel == "email":
                journeys.enrol(uow, "consent.granted", data.customer_id, "consent:email", event.occurred_at)
        else:
            uow.session.execute(sa.update(Message).where(
                Message.customer_id == data.customer_id, Message.channel == data.channel, Message.kind == "marketing",
                Message.status == "queued").values(status="skipped", reason="consent withdrawn before sending"))
    uow.commit()


def on_line_refunds(events: list[DomainEvent], uow: UnitOfWork) -> None:
    notifications.queue_line_refunds(uow, events)
    uow.commit()


def on_quotes_sent(events: list[DomainEvent], uow: UnitOfWork) -> None:
    notifications.queue_quotes_sent(uow, events)
    uow.commit()


def on_instore_links(events: list[DomainEvent], uow: UnitOfWork) -> None:
    notifications.queue_instore_links(uow, events)
    uow.commit()


def register(bus: MessageBus) -> None:
    for cls in ORDER_EVENTS:
        bus.subscribe(cls, on_order_events, batch=True, durable="marketing.orders")
    bus.subscribe(CustomerConsentChanged, on_consent, batch=True, durable="marketing.consent")
    bus.subscribe(SellerLineRefunded, on_line_refunds, batch=True, durable="marketing.sellers")
    bus.subscribe(QuoteSent, on_quotes_sent, batch=True, durable="marketing.sales")
    bus.subscribe(HeldCartSent, on_instore_links, batch=True, durable="marketing.instore")
    bus.subscribe(PaymentLinkSent, on_instore_links, batch=True, durable="marketing.instore")
