"""Reactions to the orders context's events (a durable subscriber: fed from the outbox, its writes
committed with its cursor). An order of an account's contact:
- placed: the follow-up rule creates the owner's "call back in a month" task (once per order);
- placed, paid, cancelled: the account's live contracts have their risk recomputed.
And to the CRM's `customer.qr_scanned` (a known customer scanned a campaign's QR code): a lead
of that campaign, source qr_scan, assigned by the rules (a repeat scan merges into it)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import ValidationError

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.crm.events import QrScanTracked
from merx.customers import public as customers
from merx.orders.events import OrderCancelled, OrderPaid, OrderPlaced
from merx.sales import activities, leads, ledger, risk
from merx.sales.models import Account, Contact


def on_order_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    customer_ids = sorted({e.data.customer_id for e in events if e.data.customer_id is not None})
    if not customer_ids:
        return
    rows = uow.session.execute(sa.select(Contact.customer_id, Account.id, Account.owner_user_id, Account.name)
                               .join(Account, Account.id == Contact.account_id)
                               .where(Contact.customer_id.in_(customer_ids))).all()
    if not rows:
        return
    accounts = {r.customer_id: r for r in rows}
    for e in events:
        data = e.data
        if isinstance(data, OrderPlaced) and data.customer_id in accounts:
            acc = accounts[data.customer_id]
            activities.create_rule_task(
                uow, owner_user_id=acc.owner_user_id, account_id=acc.id,
                subject=f"Call {acc.name} about order {data.number}: did it arrive and work out?",
                due_at=data.placed_at + dt.timedelta(days=activities.FOLLOW_UP_DAYS), rule="follow_up_after_order",
                source_ref=f"follow-up:order:{data.order_id}")
    risk.recompute_for_customers(uow, list(accounts), utcnow())
    uow.commit()


def on_ledger_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    ledger.record(events, uow)
    uow.commit()


def on_qr_scans(events: list[DomainEvent], uow: UnitOfWork) -> None:
    from merx.sales.schemas import LeadIn

    for e in events:
        data = e.data
        person = customers.raw_customer(uow, data.customer_id)
        if person is None or not (person.email or person.phone):
            continue  # erased, or nothing to call back on
        name = " ".join(p for p in (person.first_name, person.last_name) if p) or None
        try:  # a profile field a lead does not take (an odd phone) skips the scan, not the batch
            lead = LeadIn(source="qr_scan", channel="tracked_event", campaign=data.campaign,
                          company=(person.company or "")[:200] or None, contact_name=name, email=person.email,
                          phone=person.phone, country=person.country,
                          note=f"QR code {data.qr_id}" if data.qr_id else None)
            leads.intake(uow, lead, commit=False)
        except (ValidationError, ValidationProblem):
            continue
    uow.commit()


def register(bus: MessageBus) -> None:
    for event_class in (OrderPlaced, OrderPaid, OrderCancelled):
        bus.subscribe(event_class, on_order_events, batch=True, durable="sales.orders")
    for event_class in ledger.LEDGER_EVENTS:  # the order-line ledger of targets, commissions and rebates
        bus.subscribe(event_class, on_ledger_events, batch=True, durable="sales.ledger")
    bus.subscribe(QrScanTracked, on_qr_scans, batch=True, durable="sales.qr_scans")
