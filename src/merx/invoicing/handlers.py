"""Invoicing's reactions to orders' events (durable subscriber "invoicing.orders": a crash
redoes a batch, never applies it twice; documents are also unique by their source).

- order.paid (MERX_INVOICE_ISSUE_ON=payment, the default), or order.fulfilled / order.picked_up
  (=shipment): the order's invoice;
- order.refunded with an amount: a credit note for it (when the order was invoiced)."""

from __future__ import annotations

from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.invoicing import service
from merx.invoicing.settings import get_invoicing_settings
from merx.orders.events import OrderFulfilled, OrderPaid, OrderPickedUp, OrderRefunded
from merx.pricing import public as pricing


def on_order_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    issue_on = get_invoicing_settings().issue_on
    for e in events:
        data = e.data
        if isinstance(data, OrderPaid) and issue_on == "payment":
            service.issue_invoice(uow, data.order_id, source=f"invoice:{data.order_id}")
        elif isinstance(data, (OrderFulfilled, OrderPickedUp)) and issue_on == "shipment":
            service.issue_invoice(uow, data.order_id, source=f"invoice:{data.order_id}")
        elif isinstance(data, OrderRefunded) and data.amount is not None:
            amount = pricing.to_minor(data.amount.amount, data.amount.currency)
            reason = f"return {data.return_id}" if data.return_id else "refund"
            service.issue_credit_note(uow, data.order_id, amount, source=f"refund:{e.id}", reason=reason)


def register(bus: MessageBus) -> None:
    for event_class in (OrderPaid, OrderFulfilled, OrderPickedUp, OrderRefunded):
        bus.subscribe(event_class, on_order_events, batch=True, durable="invoicing.orders")
