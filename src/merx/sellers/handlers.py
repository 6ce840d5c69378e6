"""Reactions of the sellers context: a cancelled customer order cancels its sub-orders' open
and accepted lines (a durable subscriber: the bookkeeping must not be lost)."""

from __future__ import annotations

from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.orders.events import OrderCancelled


def on_order_cancelled(events: list[DomainEvent], uow: UnitOfWork) -> None:
    from merx.sellers.seller_orders import cancel_for_order

    for e in events:
        data = e.data
        cancel_for_order(uow, data.order_id, f"order cancelled: {data.reason}"[:500])
    uow.commit()


def register(bus: MessageBus) -> None:
    bus.subscribe(OrderCancelled, on_order_cancelled, batch=True, durable="sellers.orders")
