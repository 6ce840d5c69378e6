"""Reactions to other contexts' events: orders and tickets become timeline events and CRM
order facts (lifetime value, RFM fallback, loyalty earning, referral rewards); customer
records feed the identity index. All of them are durable subscribers (core/subscribers.py):
fed from the outbox, each batch's writes committed with its cursor, so none is lost or
applied twice."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from merx.core.events import DomainEvent, MessageBus
from merx.core.money import CURRENCY_EXPONENTS, Money
from merx.core.uow import UnitOfWork
from merx.crm.models import OrderFact

log = logging.getLogger("merx.crm")

_ORDER_TIMELINE = {"order.placed": "order_placed", "order.paid": "order_paid", "order.cancelled": "order_cancelled",
                   "order.refunded": "order_refunded", "order.returned": "order_returned",
                   "order.fulfilled": "order_fulfilled"}


def _minor(value: Any, currency: str) -> int:
    try:
        return Money(Decimal(str(value)), currency).minor
    except (InvalidOperation, KeyError, ValueError):
        return 0


def _when(value: Any, default: dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return default


def _total(payload: dict[str, Any]) -> Any:
    totals = payload.get("totals")
    if isinstance(totals, dict) and "total" in totals:
        return totals["total"]
    total = payload.get("total")
    return total.get("amount") if isinstance(total, dict) else total


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

    p = event.payload
    order_id = p.get("order_id")
    if order_id is None:
        return None
    raw_customer = p.get("customer_id")
    customer_id = survivors.get(int(raw_customer)) if raw_customer is not None else None
    currency = p.get("currency") if p.get("currency") in CURRENCY_EXPONENTS else None
    fact = facts.get(int(order_id))
    if fact is None:
        if currency is None:
            return None
        fact = OrderFact(order_id=int(order_id), customer_id=customer_id, currency=currency, status="placed",
                         total_minor=_minor(_total(p), currency), refunded_minor=0,
                         placed_at=_when(p.get("placed_at"), event.occurred_at))
        uow.session.add(fact)
        facts[fact.order_id] = fact
    elif customer_id is not None:
        fact.customer_id = customer_id
    if event.type == "order.placed":
        fact.number = p.get("number")
        fact.channel = (p.get("channel") or None) and str(p.get("channel"))[:32]
        fact.lines = [{k: line.get(k) for k in ("sku", "product_id", "quantity", "unit_price", "line_total", "category")}
                      for line in p.get("lines") or [] if isinstance(line, dict)]
        fact.total_minor = _minor(_total(p), fact.currency)
    elif event.type == "order.paid":
        fact.status = "paid" if fact.status == "placed" else fact.status
        fact.paid_at = fact.paid_at or event.occurred_at
        payment = p.get("payment") if isinstance(p.get("payment"), dict) else {}
        fact.payment_fingerprint = p.get("payment_fingerprint") or payment.get("fingerprint") or fact.payment_fingerprint
    elif event.type == "order.cancelled":
        fact.status = "cancelled"
    elif event.type in ("order.refunded", "order.returned"):
        refunded = p.get("refunded_total") or p.get("refund_amount") or p.get("amount")
        if isinstance(refunded, dict):
            refunded = refunded.get("amount")
        fact.refunded_minor = min(fact.total_minor, _minor(refunded, fact.currency)) if refunded is not None \
            else fact.total_minor
        fact.status = event.type.split(".")[1]
    elif p.get("status"):
        fact.status = str(p["status"])[:24]
    timeline_type = _ORDER_TIMELINE.get(event.type)
    if timeline_type:
        channel = p.get("channel") if isinstance(p.get("channel"), str) and len(p["channel"]) <= 16 else "system"
        record_system_event(uow, customer_id=customer_id, type=timeline_type, channel=channel,
                            occurred_at=event.occurred_at, source="orders", bump_stats=False,
                            properties={"order_id": int(order_id), "number": fact.number, "status": fact.status,
                                        "total": _total(p), "currency": fact.currency})
    if event.type == "order.paid" and customer_id is not None:
        total = Decimal(fact.total_minor).scaleb(-CURRENCY_EXPONENTS[fact.currency])
        loyalty.earn_for_order(uow, customer_id, order_ref=str(order_id), currency=fact.currency, total=total,
                               lines=fact.lines)
        referrals.on_first_paid_order(uow, customer_id, int(order_id), fact.payment_fingerprint)
    return customer_id


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
    for event_type in _ORDER_TIMELINE:
        bus.subscribe(event_type, on_order_events, batch=True, durable="crm.orders")
    bus.subscribe("ticket.*", on_ticket_events, batch=True, durable="crm.tickets")
    bus.subscribe("customer.created", on_customer_events, batch=True, durable="crm.identities")
    bus.subscribe("customer.updated", on_customer_events, batch=True, durable="crm.identities")
