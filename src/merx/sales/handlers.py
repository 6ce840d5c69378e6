"""Reactions to the orders context's events (a durable subscriber: fed from the outbox, its writes
committed with its cursor). An order of an account's contact:
- placed: the follow-up rule creates the owner's "call back in a month" task (once per order);
- placed, paid, cancelled: the account's live contracts have their risk recomputed."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.orders.events import OrderCancelled, OrderPaid, OrderPlaced
from merx.sales import activities, ledger, risk
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


def register(bus: MessageBus) -> None:
    for event_class in (OrderPlaced, OrderPaid, OrderCancelled):
        bus.subscribe(event_class, on_order_events, batch=True, durable="sales.orders")
    for event_class in ledger.LEDGER_EVENTS:  # the order-line ledger of targets, commissions and rebates
        bus.subscribe(event_class, on_ledger_events, batch=True, durable="sales.ledger")
