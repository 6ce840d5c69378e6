"""Loading an order and moving it between statuses: what every order use case shares
(reading, checkout, transitions, returns, carts, expiry)."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Forbidden, NotFound
from merx.core.money import Money, minor_to_str
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import domain, events
from merx.orders.models import Order

T = TypeVar("T")

STAFF = (Role.admin, Role.staff)
READ_ALL = (Role.admin, Role.staff, Role.support_agent)
# roles bound to one customer record, who read only its orders: a shopper, and a dealer's staff
# (bound to the customer that buys for its B2B account)
CUSTOMER_BOUND = (Role.customer, Role.dealer)


def _m(minor: int, currency: str) -> str:
    return minor_to_str(minor, currency)


# Retries of whole transactions on PostgreSQL deadlock / serialisation failures

def _retrying(uow: UnitOfWork, fn: Callable[[], T], attempts: int = 4) -> T:
    """`uow.run_in_transaction` with this process's SQLite writers queued (inventory.serialised).
    A lock wait that timed out (55P03) is not retried: that request already waited its bound
    and answers 503 (core/web.py). A refusal (409, 422) rolls back here, in this thread, so
    its row locks end before the answer, not when the request's unit of work is closed."""
    return uow.run_in_transaction(fn, attempts=attempts, guard=inventory.serialised)


def _can_see(uow: UnitOfWork, order: Order) -> bool:
    actor = uow.actor
    if actor.role in READ_ALL:
        return True
    if actor.role in CUSTOMER_BOUND:
        return actor.customer_id is not None and order.customer_id == actor.customer_id
    if actor.role == Role.sales_rep:
        return order.sales_rep_user_id == actor.user_id
    return False


def _load(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> Order:
    """Load an order the caller may see; one they may not is as absent as one that does not exist."""
    order = _load_any(uow, order_id, for_update=for_update)
    if not _can_see(uow, order):
        raise NotFound(f"Order {order_id} does not exist")
    return order


def _load_any(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> Order:
    """Load without the caller's visibility check (internal saga steps)."""
    stmt = sa.select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    order = uow.session.scalar(stmt)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist")
    return order


def _order_fields(order: Order) -> dict[str, Any]:
    """What every order event carries (events._OrderEvent)."""
    return {"order_id": order.id, "number": order.number, "customer_id": order.customer_id, "status": order.status,
            "total": _m(order.total_minor, order.currency), "currency": order.currency}


def _captured(order: Order, provider: str, fingerprint: str | None) -> dict[str, Any]:
    """The fields of OrderPaid beyond the order's own."""
    return {"amount": Money.from_minor(order.total_minor, order.currency), "provider": provider,
            "payment_fingerprint": fingerprint}


def _set_status(uow: UnitOfWork, order: Order, target: str, **fields: Any) -> None:
    """Move the order to `target` and emit its event (events.STATUS_EVENTS) with `fields`."""
    domain.check_transition(order.status, target, order_ref=order.number or str(order.id))
    before = order.status
    order.status = target
    order.version += 1
    order.updated_at = utcnow()
    event = events.STATUS_EVENTS[target](**_order_fields(order), previous_status=before, **fields)
    payload = event.payload()
    uow.audit(target, "order", order.id, before={"status": before},
              after={"status": target, **{k: payload[k] for k in fields}})
    uow.emit(event, version=order.version)


def _require_staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in STAFF:
        raise Forbidden("Only staff may do this")
