"""Reactions to other contexts' events: orders and tickets become timeline events and CRM
order facts (lifetime value, RFM fallback, loyalty earning, referral rewards); customer
records feed the identity index. All of them are durable subscribers (core/subscribers.py):
fed from the outbox, each batch's writes committed with its cursor, so none is lost or
applied twice."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.events import DomainEvent, MessageBus
from merx.core.money import CURRENCY_EXPONENTS, Money
from merx.core.uow import UnitOfWork
from merx.crm.models import OrderFact
from merx.customers.events import CustomerCreated, CustomerUpdated
from merx.orders.events import (OrderCancelled, OrderCompleted, OrderConfirmed, OrderDelivered, OrderFulfilled,
                                OrderPaid, OrderPickedUp, OrderPlaced, OrderReadyForPickup, OrderRefunded,
                                OrderReturned)

log = logging.getLogger("merx.crm")

_ORDER_TIMELINE = {"order.placed": "order_placed", "order.paid": "order_paid", "order.cancelled": "order_cancelled",
                   "order.refunded": "order_refunded", "order.returned": "order_returned",
                   "order.fulfilled": "order_fulfilled"}
# Every status change reaches the order fact, so the 360 shows the order's current status (a
# completed order as completed); the ones above also get a timeline entry.
_ORDER_EVENTS = (OrderPlaced, OrderPaid, OrderCancelled, OrderRefunded, OrderReturned, OrderFulfilled,
                 OrderConfirmed, OrderDelivered, OrderReadyForPickup, OrderPickedUp, OrderCompleted)


def on_order_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """A batch of order events in one transaction: the customers' current profiles and the
    existing order facts are read once for the whole batch, profile counters and rule
    segments are updated once per customer. Events go in customer order (stable, so one
    customer's events keep their order): two processes' batches then lock the same profile
    rows in the same order, never in a cycle."""
    from merx.crm import profiles
    from merx.crm.identity import survivors
    from merx.crm.segments import service as segments

    ordered = sorted(events, key=lambda e: _customer_key(e.payload))
    order_ids = {int(e.payload["order_id"]) for e in ordered if e.payload.get("order_id") is not None}
    facts = {f.order_id: f for f in uow.session.scalars(
        sa.select(OrderFact).where(OrderFact.order_id.in_(sorted(order_ids))))} if order_ids else {}
    current = survivors(uow, {_customer_key(e.payload) for e in ordered if e.payload.get("customer_id")})
    stats: dict[int, tuple[int, dt.datetime, dt.datetime]] = {}
    for event in ordered:
        customer_id = _apply_order_event(uow, event, facts=facts, survivors=current)
        if customer_id is not None and event.type in _ORDER_TIMELINE:
            count, first, last = stats.get(customer_id, (0, event.occurred_at, event.occurred_at))
            stats[customer_id] = (count + 1, min(first, event.occurred_at), max(last, event.occurred_at))
    if stats:
        uow.session.flush()
        profiles.bump_stats(uow, stats)
        segments.refresh_profiles(uow, stats.keys())


def _customer_key(payload: dict[str, Any]) -> int:
    try:
        return int(payload.get("customer_id") or 0)
    except (TypeError, ValueError):
        return 0


def _apply_order_event(uow: UnitOfWork, event: DomainEvent, *, facts: dict[int, OrderFact],
                       survivors: dict[int, int | None]) -> int | None:
    """The order fact, timeline entry, loyalty and referral effects of one event. Returns
    the customer whose profile gained a timeline entry. `facts` (the batch's existing facts,
    to which new ones are added) and `survivors` were read once for the batch. No commit."""
    from merx.crm import loyalty, referrals
    from merx.crm.service import record_system_event

    data = event.data  # the orders context's typed event (merx.orders.events)
    order_id = data.order_id
    customer_id = survivors.get(data.customer_id) if data.customer_id is not None else None
    fact = facts.get(order_id)
    if fact is None:
        fact = OrderFact(order_id=order_id, customer_id=customer_id, currency=data.currency, status=data.status,
                         total_minor=Money(data.total, data.currency).minor, refunded_minor=0,
                         placed_at=data.placed_at if isinstance(data, OrderPlaced) else event.occurred_at)
        uow.session.add(fact)
        facts[fact.order_id] = fact
    elif customer_id is not None:
        fact.customer_id = customer_id
    fact.status = data.status  # the order's status after this event
    if isinstance(data, OrderPlaced):
        fact.number = data.number
        fact.channel = data.channel
        fact.lines = [line.model_dump(mode="json", include={"sku", "product_id", "quantity", "unit_price",
                                                            "line_total", "category"}) for line in data.lines]
        fact.total_minor = Money(data.total, data.currency).minor
    elif isinstance(data, OrderPaid):
        fact.paid_at = fact.paid_at or event.occurred_at
        fact.payment_fingerprint = data.payment_fingerprint or fact.payment_fingerprint
    elif isinstance(data, OrderRefunded):
        # Everything paid back so far, as the order counts it: two partial refunds add up, and
        # an event delivered twice changes nothing. A return (order.returned) moves goods, not
        # money: it leaves the refunded amount alone.
        fact.refunded_minor = min(fact.total_minor, max(fact.refunded_minor, data.refunded_total.minor))
    timeline_type = _ORDER_TIMELINE.get(event.type)
    if timeline_type:
        channel = data.channel if isinstance(data, OrderPlaced) else "system"
        record_system_event(uow, customer_id=customer_id, type=timeline_type, channel=channel,
                            occurred_at=event.occurred_at, source="orders", bump_stats=False,
                            properties={"order_id": order_id, "number": fact.number, "status": fact.status,
                                        "total": format(data.total, "f"), "currency": fact.currency})
    if isinstance(data, (OrderCancelled, OrderRefunded)):  # points spent at checkout come back
        from merx.crm import checkout_points

        checkout_points.on_order_change(uow, data)
    if isinstance(data, (OrderCancelled, OrderRefunded, OrderReturned)):  # and points earned on it go
        _take_back_earned(uow, data, fact)
    if isinstance(data, OrderPaid) and customer_id is not None:
        total = Decimal(fact.total_minor).scaleb(-CURRENCY_EXPONENTS[fact.currency])
        loyalty.earn_for_order(uow, customer_id, order_ref=str(order_id), currency=fact.currency, total=total,
                               lines=fact.lines)
        referrals.on_first_paid_order(uow, customer_id, int(order_id), fact.payment_fingerprint)
    return customer_id


def _take_back_earned(uow: UnitOfWork, data: Any, fact: OrderFact) -> None:
    """Points earned on an order go when it is cancelled, fully returned or fully refunded; a
    partial return takes back its share of the goods' value (what earning counted: the lines,
    not shipping), a refund without a return its share of the order total. A return and the
    refund paying for it are one reason ("return N"), so whichever comes first takes the points.
    A referral reward the order earned its referrer goes with the whole order only."""
    from merx.crm import loyalty, referrals

    ref = str(data.order_id)
    if isinstance(data, OrderCancelled) or data.status in ("returned", "refunded"):
        loyalty.take_back_earned(uow, ref, Decimal(1), reason=f"order {data.number} {data.status}")
        referrals.on_order_undone(uow, data.order_id, reason=f"order {data.number} {data.status}")
        return
    goods = sum((Decimal(str(line.get("line_total") or 0)) for line in fact.lines or []), Decimal(0)) or data.total
    if isinstance(data, OrderReturned):
        if data.returned_value.amount > 0 and goods > 0:
            loyalty.take_back_earned(uow, ref, data.returned_value.amount / goods, reason=f"return {data.return_id}",
                                     once_per_reason=True)
    elif data.amount is not None and data.amount.amount > 0:
        if data.return_id is not None and goods > 0:
            loyalty.take_back_earned(uow, ref, data.amount.amount / goods, reason=f"return {data.return_id}",
                                     once_per_reason=True)
        elif data.total > 0:
            loyalty.take_back_earned(uow, ref, data.refunded_total.amount / data.total,
                                     reason=f"order {data.number} refunded")


def on_ticket_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    from merx.crm.identity import survivor
    from merx.crm.service import record_system_event

    for event in events:
        p = event.payload
        if p.get("customer_id") is None:
            continue
        kind = event.type.split(".", 1)[1]
        timeline_type = {"opened": "ticket_opened", "created": "ticket_opened", "closed": "ticket_closed",
                         "resolved": "ticket_closed"}.get(kind, "ticket_updated")
        customer_id = survivor(uow, int(p["customer_id"]))
        record_system_event(uow, customer_id=customer_id, type=timeline_type, occurred_at=event.occurred_at,
                            source="support", properties={k: p.get(k) for k in ("ticket_id", "subject", "status")
                                                          if p.get(k) is not None})


def on_customer_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Index customers' emails and phones as identifiers (unverified: typed in, not confirmed)."""
    from merx.crm.identity import add_identities
    from merx.customers import service as customers

    ids = sorted({int(e.payload["customer_id"]) for e in events if e.payload.get("customer_id") is not None})
    if not ids:
        return
    records = customers.raw_customers(uow, ids)
    add_identities(uow, [(r.id, kind, getattr(r, kind)) for r in records.values() if r.merged_into_id is None
                         for kind in ("email", "phone") if getattr(r, kind)], source="customer_record")


def register(bus: MessageBus) -> None:
    for event_class in _ORDER_EVENTS:
        bus.subscribe(event_class, on_order_events, batch=True, durable="crm.orders")
    bus.subscribe("ticket.*", on_ticket_events, batch=True, durable="crm.tickets")
    bus.subscribe(CustomerCreated, on_customer_events, batch=True, durable="crm.identities")
    bus.subscribe(CustomerUpdated, on_customer_events, batch=True, durable="crm.identities")
