"""Reads a store counter needs: the orders waiting for pickup at one store, and an order
found by its number (what the customer reads out or the receipt shows)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.errors import Forbidden, NotFound
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders.models import Order
from merx.orders.reading import order_out
from merx.orders.state import READ_ALL, _load

PICKUP_QUEUE_STATUSES = ("confirmed", "paid", "ready_for_pickup")


def pickup_queue(uow: UnitOfWork, location_code: str, *, statuses: tuple[str, ...] = PICKUP_QUEUE_STATUSES,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Pickup orders for one store in these statuses, oldest first (back office callers)."""
    if uow.actor.role not in READ_ALL:
        raise Forbidden("This role may not list a store's pickups")
    loc = inventory.get_location_by_code(uow, location_code, field="location")
    rows = uow.session.scalars(sa.select(Order).where(
        Order.fulfilment_type == "pickup", Order.pickup_location_id == loc.id, Order.status.in_(statuses))
        .order_by(Order.id).limit(limit))
    return [order_out(uow, o, codes={loc.id: loc.code}) for o in rows]


def order_by_number(uow: UnitOfWork, number: str) -> dict[str, Any]:
    """The order with this number the caller may see (404 otherwise)."""
    order_id = uow.session.scalar(sa.select(Order.id).where(Order.number == number.strip().upper()))
    if order_id is None:
        raise NotFound(f"No order has number {number.strip()!r}")
    return order_out(uow, _load(uow, order_id))
