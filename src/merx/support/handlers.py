"""Support's reactions to events.

- After a commit that queued mail (an agent reply, a solved ticket's CSAT request), send it
  at once (`mailout.send_pending`, outside any transaction). A plain handler: if the process
  dies first, the `support.send_mail` job sends it; the claim makes a double send by two
  processes impossible.
- A delivered order creates the follow-up tasks its rules ask for: a durable subscriber
  ("support.follow_ups"), so no delivery is missed."""

from __future__ import annotations

from merx.core.db import Database
from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.orders.events import OrderDelivered, OrderPickedUp
from merx.support.events import TicketMessageAdded, TicketResolved


def send_queued_mail(event: DomainEvent, db: Database) -> None:
    payload = event.payload
    if event.type == "ticket.message_added" and payload.get("message_kind") != "out":
        return
    from merx.support import mailout

    mailout.send_pending(db)


def on_delivered(events: list[DomainEvent], uow: UnitOfWork) -> None:
    from merx.support import feedback

    for event in events:
        order_id = int(event.payload["order_id"])
        customer_id = event.payload.get("customer_id")
        feedback.tasks_for_delivery(uow, order_id, int(customer_id) if customer_id is not None else None,
                                    event.occurred_at)


def register(bus: MessageBus) -> None:
    bus.subscribe(TicketMessageAdded, send_queued_mail)
    bus.subscribe(TicketResolved, send_queued_mail)
    bus.subscribe(OrderDelivered, on_delivered, batch=True, durable="support.follow_ups")
    bus.subscribe(OrderPickedUp, on_delivered, batch=True, durable="support.follow_ups")
