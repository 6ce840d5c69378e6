"""Orders' part in the customer lifecycle (see merx.core.lifecycle): a profile merge moves
the duplicate's orders and carts to the survivor and un-merge moves exactly those back;
erasure strips the contact details from orders and carts but keeps lines, amounts and
payments for the books; the export lists the customer's orders."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.orders.models import Cart, Order
from merx.orders.reading import orders_for_customer


def _reassign(uow: UnitOfWork, order_ids: list[int], cart_ids: list[int], from_id: int, to_id: int) -> int:
    """Move the given orders and carts of `from_id` to `to_id`; records another customer owns
    by now stay put. Returns the number of orders moved. Does not commit."""
    moved = 0
    if order_ids:
        moved = uow.session.execute(
            sa.update(Order).where(Order.id.in_(order_ids), Order.customer_id == from_id)
            .values(customer_id=to_id, version=Order.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount or 0
        uow.audit("reassign_customer", "order", ",".join(map(str, order_ids))[:64],
                  before={"customer_id": from_id}, after={"customer_id": to_id, "orders": order_ids})
    if cart_ids:
        uow.session.execute(sa.update(Cart).where(Cart.id.in_(cart_ids), Cart.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))
    return moved


class OrdersParticipant:
    name = "orders"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        order_ids = list(uow.session.scalars(sa.select(Order.id).where(Order.customer_id == from_id).order_by(Order.id)))
        cart_ids = list(uow.session.scalars(sa.select(Cart.id).where(Cart.customer_id == from_id).order_by(Cart.id)))
        _reassign(uow, order_ids, cart_ids, from_id, into_id)
        return {"orders": order_ids, "carts": cart_ids}

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        _reassign(uow, list(moved.get("orders") or []), list(moved.get("carts") or []), survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        orders = uow.session.execute(
            sa.update(Order).where(Order.customer_id == customer_id)
            .values(email=None, shipping_address=sa.null(), updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount or 0
        carts = uow.session.execute(
            sa.update(Cart).where(Cart.customer_id == customer_id)
            .values(email=None, fulfilment=sa.null(), updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount or 0
        return {"orders": orders, "carts": carts}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        return {"orders": orders_for_customer(uow, customer_id)}


PARTICIPANT = OrdersParticipant()
