"""Expiring what nobody finished, run by the jobs in orders/jobs.py:

- checkouts whose hold lapsed: the cart goes back to open (`cart.abandoned`) and its held
  units are released;
- orders stranded in `pending` (the process died between the order and the payment result)
  once the hold time to live (MERX_RESERVATION_TTL_SECONDS) has passed;
- guests' pay-later orders (cash on delivery, pay in store) whose hold ran out before staff
  accepted them (MERX_GUEST_DEFERRED_HOLD_MINUTES).

Expired orders are cancelled in one transaction (stock and coupon redemptions released),
then voided at the payment provider outside it, and the void is recorded, like a cancel.
A void left `void_pending` by a crash between the two (here or in a cancel by hand) is
retried by the next run. Every step is safe to repeat: the jobs run at least once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.inventory.settings import get_inventory_settings
from merx.orders import carts, reading, state, transitions
from merx.orders.events import CartAbandoned
from merx.orders.models import Cart, Order, PaymentTransaction
from merx.pricing import public as pricing

STRANDED = "no payment result before the hold expired"
VOID_RETRY_AFTER = dt.timedelta(minutes=1)  # a cancel's own void normally follows within a second
GUEST_HOLD_LAPSED = "pay-later guest order not accepted before its hold expired"


def expire_checkouts(uow: UnitOfWork, now: dt.datetime) -> int:
    """Carts whose checkout hold lapsed reopen; returns how many."""
    ids = list(uow.session.scalars(sa.select(Cart.id).where(Cart.status == "checkout",
                                                            Cart.hold_expires_at <= now).order_by(Cart.id)))
    uow.rollback()
    reopened = 0
    for cart_id in ids:
        reopened += state._retrying(uow, lambda cart_id=cart_id: _reopen_cart(uow, cart_id, now))
    return reopened


def _reopen_cart(uow: UnitOfWork, cart_id: int, now: dt.datetime) -> int:
    cart = uow.session.scalar(sa.select(Cart).where(Cart.id == cart_id).with_for_update()
                              .execution_options(populate_existing=True))
    if cart is None or cart.status != "checkout" or cart.hold_expires_at is None or cart.hold_expires_at > now:
        uow.rollback()  # ordered or checked out again meanwhile
        return 0
    inventory.release(uow, f"cart:{cart.id}", note="checkout hold lapsed")
    cart.status, cart.hold_expires_at = "open", None
    cart.version += 1
    cart.updated_at = now
    uow.emit(CartAbandoned(cart_id=cart.id, customer_id=cart.customer_id, email=cart.email, currency=cart.currency,
                           total=carts.cart_out(uow, cart)["totals"]["total"]), version=cart.version)
    uow.commit()
    return 1


def _stranded(order: Order, now: dt.datetime, ttl: dt.timedelta) -> bool:
    return order.status == "pending" and order.created_at <= now - ttl


def _guest_hold_lapsed(order: Order, now: dt.datetime) -> bool:
    return (order.status == "confirmed" and order.payment_status == "awaiting"
            and order.hold_expires_at is not None and order.hold_expires_at <= now)


def expire_unpaid_orders(uow: UnitOfWork, now: dt.datetime) -> dict[str, int]:
    """Cancel and void stranded pending orders and lapsed pay-later guest orders."""
    ttl = dt.timedelta(seconds=get_inventory_settings().reservation_ttl_seconds)
    stranded = list(uow.session.scalars(sa.select(Order.id).where(Order.status == "pending",
                                                                  Order.created_at <= now - ttl).order_by(Order.id)))
    lapsed = list(uow.session.scalars(sa.select(Order.id).where(
        Order.status == "confirmed", Order.payment_status == "awaiting", Order.hold_expires_at.is_not(None),
        Order.hold_expires_at <= now).order_by(Order.id)))
    unvoided = list(uow.session.scalars(sa.select(Order.id).where(
        Order.status == "cancelled", Order.payment_status == "void_pending",
        Order.updated_at <= now - VOID_RETRY_AFTER).order_by(Order.id)))
    uow.rollback()
    done = {"stranded_pending": 0, "guest_holds": 0, "voids_retried": 0}
    for order_id in stranded:
        done["stranded_pending"] += _expire(uow, order_id, STRANDED, lambda o: _stranded(o, now, ttl))
    for order_id in lapsed:
        done["guest_holds"] += _expire(uow, order_id, GUEST_HOLD_LAPSED, lambda o: _guest_hold_lapsed(o, now))
    for order_id in unvoided:
        order = state._load_any(uow, order_id)
        uow.rollback()
        transitions._settle_money_back(uow, order_id, kind="void", amount_minor=order.total_minor)
        done["voids_retried"] += 1
    return done


def _expire(uow: UnitOfWork, order_id: int, reason: str, still_due: Any) -> int:
    def cancel() -> Order | None:
        order = state._load_any(uow, order_id, for_update=True)
        if not still_due(order):  # paid, accepted or cancelled meanwhile
            uow.rollback()
            return None
        if order.status == "pending":  # the authorisation never reported back: say so in the payment history
            uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="authorise",
                                               status="abandoned", amount_minor=order.total_minor, message=reason))
        inventory.release(uow, f"order:{order.id}", note=reason)
        pricing.release(uow, order.id)
        order.cancel_reason = reason
        order.payment_status = "void_pending"
        order.hold_expires_at = None
        state._set_status(uow, order, "cancelled", reason=reason, payment_status="void_pending")
        uow.commit()
        return order

    order = state._retrying(uow, cancel)
    if order is None:
        return 0
    # outside the stock transaction, like every provider call: whatever the provider may have
    # authorised for this order is voided, and the outcome recorded (void_failed is visible to staff)
    transitions._settle_money_back(uow, order.id, kind="void", amount_minor=order.total_minor)
    return 1


def accept_guest_order(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """Staff accept a guest's pay-later order: it keeps its stock until delivered or cancelled."""
    state._require_staff(uow)

    def run() -> dict[str, Any]:
        order = state._load(uow, order_id, for_update=True)
        if order.hold_expires_at is not None:
            if order.status != "confirmed":
                raise Conflict(f"Order {order.number} is {order.status}; only a confirmed order can be accepted",
                               type_slug="invalid-transition")
            order.hold_expires_at = None
            order.version += 1
            order.updated_at = now = utcnow()
            uow.audit("accept", "order", order.id, after={"hold_expires_at": None, "accepted_at": now.isoformat()})
            uow.commit()
        return reading.order_out(uow, order)

    return state._retrying(uow, run)
