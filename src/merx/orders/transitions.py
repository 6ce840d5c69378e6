"""Lifecycle transitions after checkout: capture, fulfil, pickup in store, deliver/complete,
cancel, and the money going back to the provider (refund or void).

Money and refunds use the same two-phase pattern: claim the work in a transaction (so two
concurrent requests cannot both refund), call the provider, record the outcome."""

from __future__ import annotations

import logging
from typing import Any

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import collectable, domain, events, payments
from merx.orders.models import Order, PaymentTransaction
from merx.orders.reading import order_out
from merx.orders.state import (STAFF, _captured, _load, _load_any, _m, _order_fields, _require_staff, _retrying,
                               _set_status)
from merx.pricing import public as pricing

log = logging.getLogger("merx.orders")


def capture_payment(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """Record that the money was collected (manual) or capture an authorised payment."""
    _require_staff(uow)
    order = _load(uow, order_id)
    if payments.is_session_provider(payments.get_provider(order.payment_provider)):
        from merx.orders import payment_sync  # captured through the payments ledger, which moves the order

        if (done := payment_sync.capture_in_full(uow, order_id)) is not None:
            return done
    if order.payment_status not in ("awaiting", "authorized"):
        raise Conflict(f"Order {order.number} payment is {order.payment_status}; nothing to capture",
                       type_slug="invalid-transition")
    charge_minor = collectable.chargeable_minor(uow, order)  # lines refused before capture are not charged
    uow.rollback()  # no transaction is held while the provider is called
    provider = payments.get_provider(order.payment_provider)
    result = provider.capture(reference=order.payment_reference,
                              amount=pricing.from_minor(charge_minor, order.currency), currency=order.currency)

    def record() -> dict[str, Any]:
        o = _load(uow, order_id, for_update=True)
        if o.payment_status not in ("awaiting", "authorized"):
            raise Conflict(f"Order {o.number} payment is {o.payment_status}", type_slug="invalid-transition")
        uow.session.add(PaymentTransaction(order_id=o.id, provider=o.payment_provider, kind="capture",
                                           status="succeeded", amount_minor=charge_minor, reference=result.reference))
        from merx.orders import payment_sync  # manual / test: the payments ledger too

        payment_sync.money_back_recorded(uow, o, "capture", charge_minor, result.reference)
        o.payment_status = "captured"
        paid = {**_captured(o, o.payment_provider, result.fingerprint),
                "amount": Money.from_minor(charge_minor, o.currency)}
        if o.status == "confirmed":
            _set_status(uow, o, "paid", **paid)
        else:
            o.version += 1
            uow.audit("capture", "order", o.id, after={"payment_status": "captured"})
            uow.emit(events.OrderPaid(**_order_fields(o), previous_status=o.status, **paid), version=o.version)
        uow.commit()
        return order_out(uow, o)

    return _retrying(uow, record)


def fulfil(uow: UnitOfWork, order_id: int, *, carrier: str, tracking_number: str,
           tracking_url: str | None = None, read_back: bool = True) -> dict[str, Any] | None:
    """Ship it: the held units leave stock. `read_back=False` (a bulk replay such as the demo's
    year of orders) skips reading the order back and returns None."""
    _require_staff(uow)

    def run() -> dict[str, Any] | None:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "ship":
            raise domain.InvalidTransition(f"Order {order.number} is collected in store; use ready-for-pickup")
        domain.check_transition(order.status, "fulfilled", order_ref=order.number)
        inventory.consume(uow, f"order:{order.id}", note="shipped")
        order.tracking = {"carrier": carrier, "number": tracking_number, "url": tracking_url}
        _set_status(uow, order, "fulfilled", tracking=order.tracking)
        uow.commit()
        return order_out(uow, order) if read_back else None

    return _retrying(uow, run)


def simple_transition(uow: UnitOfWork, order_id: int, target: str, *, read_back: bool = True) -> dict[str, Any] | None:
    """deliver / complete: no side effects beyond the status (`read_back` as in `fulfil`)."""
    _require_staff(uow)

    def run() -> dict[str, Any] | None:
        order = _load(uow, order_id, for_update=True)
        _set_status(uow, order, target)
        uow.commit()
        return order_out(uow, order) if read_back else None

    return _retrying(uow, run)


def ready_for_pickup(uow: UnitOfWork, order_id: int, *, read_back: bool = True) -> dict[str, Any] | None:
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "pickup":
            raise domain.InvalidTransition(f"Order {order.number} is shipped; use fulfil")
        loc = inventory.get_location(uow, order.pickup_location_id)
        _set_status(uow, order, "ready_for_pickup", location=loc.code, location_name=loc.name)
        uow.commit()
        return order_out(uow, order) if read_back else None

    return _retrying(uow, run)


def picked_up(uow: UnitOfWork, order_id: int, *, location: str, payment_collected: bool,
              read_back: bool = True) -> dict[str, Any] | None:
    """The store confirms the handover: the held units become a sale at that store
    (`read_back` as in `fulfil`)."""
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "pickup":
            raise domain.InvalidTransition(f"Order {order.number} is not a pickup order")
        domain.check_transition(order.status, "picked_up", order_ref=order.number)
        loc = inventory.get_location_by_code(uow, location, field="location")
        if loc.id != order.pickup_location_id:
            waiting = inventory.get_location(uow, order.pickup_location_id)
            raise Conflict(f"Order {order.number} waits at {waiting.code}, not {loc.code}", type_slug="wrong-store",
                           errors=[FieldError("location", f"the order waits at {waiting.code}", "wrong_store")])
        if order.payment_status == "awaiting":
            if not payment_collected:
                raise Conflict(f"Order {order.number} is paid in store: collect the payment and confirm with "
                               "payment_collected", type_slug="payment-due",
                               errors=[FieldError("payment_collected", "the payment is still due", "payment_due")])
            uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="capture",
                                               status="succeeded", amount_minor=order.total_minor,
                                               reference=order.payment_reference, message=f"collected at {loc.code}"))
            order.payment_status = "captured"
            from merx.orders import payment_sync  # pay at pickup (cod): the payments ledger too

            payment_sync.money_back_recorded(uow, order, "capture", order.total_minor, order.payment_reference)
        inventory.consume(uow, f"order:{order.id}", note=f"picked up at {loc.code}")
        _set_status(uow, order, "picked_up", location=loc.code, payment_status=order.payment_status)
        uow.commit()
        return order_out(uow, order) if read_back else None

    return _retrying(uow, run)


def cancel(uow: UnitOfWork, order_id: int, *, reason: str | None = None) -> dict[str, Any]:
    """Cancel, release stock and coupons in one transaction; then refund or void with the
    provider (outside it) and record that."""
    actor = uow.actor

    def run() -> tuple[Order, str | None]:
        order = _load(uow, order_id, for_update=True)
        if actor.role not in STAFF and not (actor.role == Role.customer and order.status in ("pending", "confirmed",
                                                                                            "paid")):
            raise Forbidden("This order can no longer be cancelled by the customer")
        domain.check_transition(order.status, "cancelled", order_ref=order.number)
        # what was captured and not yet paid back (a refused marketplace line may have been
        # refunded already, or released before capture): never the full total again
        refund_left = collectable.refundable_minor(uow, order)
        money_action = {"captured": "refund", "partially_refunded": "refund", "refund_failed": "refund",
                        "authorized": "void"}.get(order.payment_status)
        if money_action == "refund" and refund_left <= 0:
            money_action = None
        inventory.release(uow, f"order:{order.id}", note="order cancelled")
        pricing.release(uow, order.id)
        order.cancel_reason = reason or "cancelled"
        if money_action == "refund":
            order.payment_status = "refund_pending"
        elif money_action == "void":
            order.payment_status = "void_pending"
        elif order.payment_status == "awaiting":
            order.payment_status = "voided"
            if not payments.is_session_provider(payments.get_provider(order.payment_provider)):
                from merx.orders import payment_sync  # manual: its ledger intent is voided with it

                payment_sync.money_back_recorded(uow, order, "void", 0, order.payment_reference)
        _set_status(uow, order, "cancelled", reason=order.cancel_reason, payment_status=order.payment_status)
        uow.commit()
        return order, money_action, refund_left

    order, money_action, refund_left = _retrying(uow, run)
    if money_action:
        _settle_money_back(uow, order.id, kind=money_action,
                           amount_minor=refund_left if money_action == "refund" else order.total_minor,
                           cause="cancellation")
    return order_out(uow, _load_any(uow, order_id))


def _settle_money_back(uow: UnitOfWork, order_id: int, *, kind: str, amount_minor: int,
                       return_id: int | None = None, cause: str | None = None) -> bool:
    order = _load_any(uow, order_id)
    uow.rollback()
    provider = payments.get_provider(order.payment_provider)
    amount = pricing.from_minor(amount_minor, order.currency)
    try:
        if kind == "refund":
            result = provider.refund(reference=order.payment_reference, amount=amount, currency=order.currency)
        else:
            result = provider.void(reference=order.payment_reference)
        ok = result.status in ("refunded", "voided")
    except Exception as e:  # the provider failed: recorded, staff may retry the refund
        log.warning("refund failed", extra={"order_id": order_id, "error": str(e)})
        result, ok = None, False

    def record() -> bool:
        o = _load_any(uow, order_id, for_update=True)
        uow.session.add(PaymentTransaction(order_id=o.id, provider=o.payment_provider, kind=kind,
                                           status="succeeded" if ok else "failed", amount_minor=amount_minor,
                                           reference=result.reference if result else None, return_id=return_id))
        if ok:  # keep the payments ledger in step (payment_sync); nothing for manual/test orders
            from merx.orders import payment_sync

            payment_sync.money_back_recorded(uow, o, kind, amount_minor, result.reference if result else None)
        if kind == "void":
            o.payment_status = "voided" if ok else "void_failed"
        elif ok:
            o.refunded_minor += amount_minor
            o.payment_status = ("refunded" if o.refunded_minor >= collectable.chargeable_minor(uow, o)
                                else "partially_refunded")
            uow.emit(events.OrderRefunded(
                **_order_fields(o), previous_status=o.status, amount=Money.from_minor(amount_minor, o.currency),
                refunded_total=Money.from_minor(o.refunded_minor, o.currency), return_id=return_id,
                payment_status=o.payment_status, cause=cause or ("return" if return_id is not None else None)),
                version=o.version + 1)
        else:
            o.payment_status = "refund_failed"
        o.version += 1
        o.updated_at = utcnow()
        uow.audit(kind, "order", o.id, after={"payment_status": o.payment_status, "amount": _m(amount_minor, o.currency)})
        uow.commit()
        return ok

    return _retrying(uow, record)
