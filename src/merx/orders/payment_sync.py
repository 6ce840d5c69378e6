"""Orders' side of the payments context's providers (testcard, bank_transfer, cod and plugins).

- `settle`: the checkout saga's payment step for such a provider (called from
  orders/checkout.py `_settle_payment`): authorise outside any transaction, then in one
  transaction open the payment's intent in the payments ledger and move the order: paid or
  confirmed when the provider answered at once; left pending (payment_status pending or
  action_required, with the challenge's `action_url`) when the outcome comes later by webhook;
  confirmed with payment_status awaiting for money paid later (bank transfer, cash); or
  cancelled (stock and coupons released) on a decline.
- `apply_payment_update`: the listener payments calls (outcomes hook, wired in orders/hooks.py)
  when a verified change arrives (webhook, staff capture or refund, a reconciled bank line),
  inside the transaction that records it. It moves the order forward only; it never applies a
  change twice (it compares figures, not events).
  An order paid later by card (orders/pay_later.py, the payment link) is not pending: its
  attempt's changes are taken by `pay_later.settle_later_update` first.
- `capture_in_full` and `money_back_recorded`: orders' own capture, cancel and return refunds
  keep the ledger in step."""

from __future__ import annotations

import secrets
from typing import Any

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import collectable, events
from merx.orders.models import Order, PaymentTransaction
from merx.orders.reading import order_out
from merx.orders.state import _captured, _load, _load_any, _order_fields, _retrying, _set_status
from merx.payments import public as payments
from merx.pricing import public as pricing


def settle(uow: UnitOfWork, pending: tuple, provider: Any, payment: Any) -> dict[str, Any]:
    from merx.orders.checkout import PaymentFailed, _compensate

    order_id, number, amount, currency = pending
    options = {"card": payment.card, "idempotency_key": f"{number}:{secrets.token_hex(8)}"}
    try:
        result = provider.authorise(order_number=number, amount=amount, currency=currency, options=options)
    except Exception as e:  # a time-out or a provider error: the outcome is unknown, cancel like a decline
        result = payments.ProviderResult("failed", None, f"the provider did not answer ({type(e).__name__})")
    if result.status in ("declined", "failed"):
        _compensate(uow, order_id, outcome="declined" if result.status == "declined" else "timeout",
                    message=result.message)
        raise PaymentFailed(f"The payment was declined ({result.message}); order {number} was cancelled and its stock "
                            "released.", errors=[FieldError("payment", result.message or "declined", "declined")],
                            extra={"order_id": order_id, "number": number, "order_status": "cancelled"})
    capture = None
    if result.status == "authorized" and payment.capture:
        capture = provider.capture(reference=result.reference, amount=amount, currency=currency,
                                   idempotency_key=f"{number}:capture")

    def record() -> dict[str, Any] | None:
        order = _load_any(uow, order_id, for_update=True)
        if order.status != "pending":
            return None
        order.payment_reference = result.reference
        intent = payments.open_intent(uow, order_id=order.id, order_number=number, provider=provider.name,
                                      currency=currency, amount_minor=order.total_minor, result=result,
                                      auto_capture=payment.capture)
        uow.session.add(PaymentTransaction(order_id=order.id, provider=provider.name, kind="authorise",
                                           status="succeeded" if result.status == "authorized" else "pending",
                                           amount_minor=order.total_minor, reference=result.reference,
                                           message=result.message))
        if result.status == "authorized":
            _set_status(uow, order, "confirmed", payment_status="authorized", payment_fingerprint=result.fingerprint)
            order.payment_status = "authorized"
            if capture is not None and capture.status == "captured":
                payments.record_external(uow, order_id=order.id, kind="capture", amount_minor=order.total_minor,
                                         reference=capture.reference)
                _record_capture(uow, order, provider.name, capture.reference, result.fingerprint)
        elif result.status == "awaiting":  # paid later: bank transfer, cash on delivery
            order.payment_status = "awaiting"
            _set_status(uow, order, "confirmed", payment_status="awaiting")
        else:  # pending / action_required: the webhook decides
            order.payment_status = result.status
            order.version += 1
            order.updated_at = utcnow()
        del intent
        uow.commit()
        return order_out(uow, order)

    out = _retrying(uow, record)
    if out is None:
        if capture is not None:
            provider.refund(reference=result.reference, amount=amount, currency=currency)
        elif result.status == "authorized":
            provider.void(reference=result.reference)
        raise Conflict(f"Order {number} was cancelled while its payment was being taken; the payment was reversed",
                       type_slug="order-cancelled", extra={"order_id": order_id, "number": number})
    return out


def _record_capture(uow: UnitOfWork, order: Order, provider: str, reference: str | None,
                    fingerprint: str | None) -> None:
    charged = collectable.chargeable_minor(uow, order)
    uow.session.add(PaymentTransaction(order_id=order.id, provider=provider, kind="capture", status="succeeded",
                                       amount_minor=charged, reference=reference))
    order.payment_status = "captured"
    paid = {**_captured(order, provider, fingerprint), "amount": Money.from_minor(charged, order.currency)}
    if order.status == "confirmed":
        _set_status(uow, order, "paid", **paid)
    else:  # shipped or collected before the money arrived
        order.version += 1
        order.updated_at = utcnow()
        uow.audit("capture", "order", order.id, after={"payment_status": "captured"})
        uow.emit(events.OrderPaid(**_order_fields(order), previous_status=order.status, **paid), version=order.version)


def apply_payment_update(uow: UnitOfWork, u: payments.PaymentUpdate) -> str | None:
    """Move the order for a verified payment change; None when it took it, else why not."""
    order = _load_any(uow, u.order_id, for_update=True)
    if u.change in ("authorized", "captured") and order.status == "cancelled":
        return (f"order {order.number} was cancelled before the payment was {u.change}: void or refund it "
                "(POST /payments/{id}/void or /refund)")
    from merx.orders import pay_later

    if pay_later.settle_later_update(uow, order, u):  # a card attempt on an order placed unpaid (payment link)
        return None
    if u.change == "authorized":
        if order.status == "pending":
            order.payment_status = "authorized"
            _set_status(uow, order, "confirmed", payment_status="authorized", payment_fingerprint=u.fingerprint)
        return None
    if u.change == "captured":
        if order.status == "pending":
            order.payment_status = "authorized"
            _set_status(uow, order, "confirmed", payment_status="authorized", payment_fingerprint=u.fingerprint)
        if u.captured_minor >= collectable.chargeable_minor(uow, order) and order.payment_status not in ("captured", "refunded",
                                                                                  "partially_refunded"):
            _record_capture(uow, order, u.provider, u.reference, u.fingerprint)
        return None
    if u.change == "declined":
        if order.status == "pending":
            uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="authorise",
                                               status="declined", amount_minor=order.total_minor,
                                               reference=u.reference, message="declined by the provider"))
            order.payment_status = "failed"
            order.cancel_reason = "payment declined"
            inventory.release(uow, f"order:{order.id}", note="payment declined")
            pricing.release(uow, order.id)
            _set_status(uow, order, "cancelled", reason=order.cancel_reason, payment_status="failed")
        return None
    if u.change == "voided":
        if order.payment_status in ("authorized", "void_pending", "awaiting", "pending", "action_required"):
            order.payment_status = "voided"
            order.version += 1
        return None
    if u.change == "refunded":
        delta = u.refunded_minor - order.refunded_minor
        if delta <= 0:
            return None
        delta = min(delta, order.total_minor - order.refunded_minor)
        order.refunded_minor += delta
        order.payment_status = ("refunded" if order.refunded_minor >= collectable.chargeable_minor(uow, order)
                                else "partially_refunded")
        uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="refund",
                                           status="succeeded", amount_minor=delta, reference=u.reference))
        order.version += 1
        order.updated_at = utcnow()
        uow.emit(events.OrderRefunded(
            **_order_fields(order), previous_status=order.status, amount=Money.from_minor(delta, order.currency),
            refunded_total=Money.from_minor(order.refunded_minor, order.currency), return_id=None,
            payment_status=order.payment_status), version=order.version)
        uow.audit("refund", "order", order.id, after={"payment_status": order.payment_status,
                                                      "amount": str(Money.from_minor(delta, order.currency).amount)})
        return None
    return None


def capture_in_full(uow: UnitOfWork, order_id: int) -> dict[str, Any] | None:
    """POST /orders/{id}/capture for a payments-context provider: capture through the ledger
    (which moves the order). None when the order's provider is not one of them."""
    order = _load(uow, order_id)
    intent = payments.intent_for_order(uow, order.id)
    if intent is None:
        return None
    released = collectable.released_minor(uow, order.id)  # lines refused before capture are not charged
    amount = None if not released else format(Money.from_minor(collectable.chargeable_minor(uow, order),
                                                               order.currency).amount, "f")
    uow.rollback()
    payments.capture(uow, intent.id, amount=amount, idempotency_key=f"order:{order_id}:capture-in-full")
    return order_out(uow, _load_any(uow, order_id))


def open_ledger_intent(uow: UnitOfWork, *, order_id: int, number: str, provider: str, currency: str,
                       amount_minor: int, result: Any, auto_capture: bool = True) -> None:
    """The built-in `manual` and `test` providers' payments go into the payments ledger too
    (an intent with its authorise operation), in checkout's transaction, so payment reports and
    reconciliation see every payment. Their later captures, refunds and voids are orders' own
    (`money_back_recorded` keeps the ledger in step); staff operations on such an intent are
    refused by the payments API (they go through the order). Orders placed before this have no
    intent and read as before."""
    payments.open_intent(uow, order_id=order_id, order_number=number, provider=provider, currency=currency,
                         amount_minor=amount_minor, result=result, auto_capture=auto_capture)


def money_back_recorded(uow: UnitOfWork, order: Order, kind: str, amount_minor: int, reference: str | None) -> None:
    """Orders moved money itself (a refund or void on cancel or return, cash collected at
    pickup, a manual payment recorded as received): keep the payments ledger in step (nothing for
    an order without an intent: manual/test orders placed before they had one)."""
    payments.record_external(uow, order_id=order.id, kind=kind, amount_minor=amount_minor, reference=reference,
                             provider=order.payment_provider)
