"""The self-service kiosk of a store: anonymous shopper sessions (started on the first touch,
ended by an order's reset, the reset button or inactivity), and orders for delivery or
pickup paid by a payment link. No staff function is reachable from a kiosk."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Principal
from merx.core.db import utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork
from merx.instore.access import Store
from merx.instore.assisted import AssistedOrderIn, place_assisted_order
from merx.instore.held_carts import send_payment_link
from merx.instore.models import KioskSession

log = logging.getLogger("merx.instore")
END_REASONS = ("idle", "reset", "ordered")


def start_session(uow: UnitOfWork, store: Store) -> int:
    row = KioskSession(store_code=store.code)
    uow.session.add(row)
    uow.session.flush()
    uow.commit()
    return row.id


def live_session(uow: UnitOfWork, store: Store, session_id: int | None) -> int | None:
    """The session id when it is still open at this store (its last activity is updated)."""
    if session_id is None:
        return None
    row = uow.session.get(KioskSession, session_id)
    if row is None or row.store_code != store.code or row.ended_at is not None:
        return None
    row.last_activity_at = utcnow()
    uow.commit()
    return row.id


def end_session(uow: UnitOfWork, store: Store, session_id: int | None, reason: str) -> None:
    if session_id is None or reason not in END_REASONS:
        return
    uow.session.execute(sa.update(KioskSession).where(
        KioskSession.id == session_id, KioskSession.store_code == store.code, KioskSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason))
    uow.commit()


def kiosk_order(uow: UnitOfWork, store: Store, session_id: int | None, *, email: str | None,
                lines: list[tuple[str, int]], fulfilment: str, pickup_store: str | None,
                address: dict[str, Any] | None) -> dict[str, Any]:
    """The shopper's order, paid by a payment link, attributed to this store's kiosk. The link
    is shown as a QR code and sent to the shopper (instore.payment_link_sent: marketing mails it)."""
    uow.actor = Principal(user_id=None, role=None, name=f"kiosk {store.code}")
    data = AssistedOrderIn(customer_id=None, email=email, lines=lines, fulfilment=fulfilment,
                           pickup_store=pickup_store, address=address, payment_mode="link")
    order = place_assisted_order(uow, store, data, source="kiosk", kiosk_session_id=session_id)
    if session_id is not None:
        uow.session.execute(sa.update(KioskSession).where(KioskSession.id == session_id)
                            .values(order_id=order["id"], last_activity_at=utcnow()))
        uow.commit()
    try:  # the link goes to the shopper's email too: the QR code leaves with them only if they scan it
        order["payment_link_sent"] = send_payment_link(uow, store, order["id"])["channel"]
    except Problem as e:  # the order stands; its QR code on the screen still pays it
        uow.rollback()
        log.warning("kiosk payment link not sent", extra={"order_id": order["id"], "problem": e.detail})
        order["payment_link_sent"] = None
    return order
