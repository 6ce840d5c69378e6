"""Pay-later guest orders hold stock for a limited time, and one client address may hold only
a few at once (an anonymous shopper could otherwise take every unit with cash on delivery
orders nobody means to collect). The orders.expire_unpaid_orders job cancels the holds that
ran out; staff accepting an order (`POST /orders/{id}/accept`) keeps it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import sqlalchemy as sa

from merx.core.errors import FieldError, Problem
from merx.core.uow import UnitOfWork
from merx.orders.models import Order
from merx.orders.settings import get_orders_settings


class TooManyGuestHolds(Problem):
    status = 429
    type_slug = "guest-hold-limit"
    title = "Too many open pay-later orders from this address"


def address_key(uow: UnitOfWork, client_address: str | None) -> str | None:
    """A keyed hash of the client address: enough to count holds per address without storing
    shoppers' IP addresses in the orders table."""
    if not client_address:
        return None
    secret = uow.settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, client_address.encode(), hashlib.sha256).hexdigest()[:64]


def hold_for_guest_order(uow: UnitOfWork, client_address: str | None,
                         now: dt.datetime) -> tuple[dt.datetime, str | None]:
    """(hold_expires_at, hold_address) for a new pay-later guest order; 429 when the address
    already holds the most open ones allowed."""
    settings = get_orders_settings()
    key = address_key(uow, client_address)
    if key is not None:
        open_holds = uow.session.scalar(sa.select(sa.func.count()).select_from(Order).where(
            Order.hold_address == key, Order.status == "confirmed", Order.hold_expires_at.is_not(None),
            Order.hold_expires_at > now)) or 0
        if open_holds >= settings.guest_open_holds_per_address:
            raise TooManyGuestHolds(
                f"This address already has {open_holds} unpaid pay-later orders waiting; pay by card, sign in, or "
                "wait until one is confirmed or expires",
                errors=[FieldError("payment.provider", "open pay-later guest orders from this address are at the "
                                   f"limit ({settings.guest_open_holds_per_address})", "guest_hold_limit")])
    return now + dt.timedelta(minutes=settings.guest_deferred_hold_minutes), key
