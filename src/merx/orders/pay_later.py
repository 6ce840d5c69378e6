"""Paying later by card: an order placed with the `manual` provider (an assisted or kiosk order
paid through its payment link) is paid through one of the payments context's card providers.

The order switches from `manual` to the card provider for the attempt, so the capture, the
refunds (a return at the counter goes back to the card) and the reconciliation all go to that
provider's payment, exactly as for a web checkout paid by card. The steps, like checkout's
saga: claim the attempt (one transaction, the order row locked), authorise with the provider
outside any transaction, record the outcome (another transaction).

- Authorised at once: the card payment's intent is opened, the manual one voided in the
  ledger, the money captured; the order is paid (`order.paid` names the card provider).
- A 3-D Secure challenge: the order waits (payment_status action_required, its `action_url`);
  the provider's signed webhook moves it (payment_sync.apply_payment_update).
- Declined (at once or at the challenge): the order goes back to `manual`, awaiting payment,
  so the link still works and the counter can still take the money.

A second tap never opens a second authorisation: while an attempt is open the order answers
with it (its challenge), and an attempt whose outcome was lost (a crash after the claim) is
resumed with the same idempotency key, which the gateway answers with the same payment."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.orders import collectable
from merx.orders.checkout import PaymentFailed
from merx.orders.models import Order, PaymentTransaction
from merx.orders.reading import order_out
from merx.orders.state import _load, _load_any, _require_staff, _retrying
from merx.payments import public as payments
from merx.pricing import public as pricing

MANUAL = "manual"
PAID = ("captured", "partially_refunded", "refunded")
OPEN_ATTEMPT = ("pending", "action_required", "authorized")


def card_providers(settings: Any) -> list[tuple[str, str]]:
    """(name, label) of the enabled providers a customer can pay an order with later: the
    payments context's session providers that answer at once or by webhook (cards), not those
    that wait for money paid later (bank transfer, cash)."""
    enabled = settings.enabled_payment_providers
    return [(p.name, getattr(p, "label", p.name)) for name, p in sorted(payments.session_providers().items())
            if name in enabled and not getattr(p, "settles_later", False)]


def _card_provider(settings: Any, name: str) -> Any:
    names = [n for n, _ in card_providers(settings)]
    if name not in names:
        raise ValidationProblem.for_field("provider", f"must be one of {', '.join(names) or 'no enabled card provider'}",
                                          "provider_not_enabled")
    return payments.session_provider(name)


def _attempts(uow: UnitOfWork, order: Order) -> list[PaymentTransaction]:
    return list(uow.session.scalars(sa.select(PaymentTransaction).where(
        PaymentTransaction.order_id == order.id, PaymentTransaction.kind == "authorise",
        PaymentTransaction.provider != MANUAL).order_by(PaymentTransaction.id)))


def _back_to_manual(uow: UnitOfWork, order: Order, message: str | None) -> None:
    """The card attempt failed: the order awaits payment again, collected by hand or by another try."""
    order.payment_provider = MANUAL
    order.payment_reference = f"{MANUAL}-{order.number}"
    order.payment_status = "awaiting"
    order.version += 1
    order.updated_at = utcnow()
    uow.audit("payment_declined", "order", order.id, after={"payment_status": "awaiting", "message": message})


def leave_manual(uow: UnitOfWork, order: Order) -> None:
    """The card took over: the manual payment the order was placed with is voided in the ledger
    (reports and reconciliation see one payment to collect, the card's)."""
    payments.record_external(uow, order_id=order.id, kind="void", amount_minor=0,
                             reference=f"{MANUAL}-{order.number}", provider=MANUAL)


def pay_by_card_later(uow: UnitOfWork, order_id: int, *, provider: str, card: str | None = None) -> dict[str, Any]:
    """Start (or resume) paying an unpaid manual order with a card provider. Answers the order:
    paid, or waiting for its 3-D Secure challenge (`payment.action_url`); a decline is a 402
    and leaves the order awaiting payment. An order already paid answers as it is."""
    _require_staff(uow)
    chosen = _card_provider(uow.settings, provider)

    def claim() -> tuple[dict[str, Any] | None, tuple | None]:
        order = _load(uow, order_id, for_update=True)
        if order.status == "cancelled":
            raise Conflict(f"Order {order.number} is cancelled: there is nothing to pay", type_slug="order-cancelled")
        if order.payment_status in PAID or (order.payment_provider != MANUAL
                                            and order.payment_status in ("action_required", "authorized")):
            uow.rollback()  # paid, or an attempt waits for the shopper or the gateway: answer it
            return order_out(uow, _load_any(uow, order_id)), None
        attempts = _attempts(uow, order)
        if order.payment_provider != MANUAL and order.payment_status == "pending":
            # an attempt whose outcome was never recorded: resume it with the same key
            current = attempts[-1]
            name = current.provider
        elif order.payment_provider == MANUAL and order.payment_status == "awaiting":
            name = chosen.name
            current = PaymentTransaction(order_id=order.id, provider=name, kind="authorise", status="pending",
                                         amount_minor=collectable.chargeable_minor(uow, order),
                                         message="paid later by card")
            uow.session.add(current)
            attempts.append(current)
            order.payment_provider, order.payment_status, order.payment_reference = name, "pending", None
            order.version += 1
            order.updated_at = utcnow()
            uow.audit("pay_later", "order", order.id, after={"provider": name, "attempt": len(attempts)})
        else:
            raise Conflict(f"Order {order.number} is paid with {order.payment_provider} "
                           f"({order.payment_status}): it cannot be paid by card", type_slug="not-payable-by-card")
        pending = (order.number, current.amount_minor, order.currency, name, f"{order.number}:later:{len(attempts)}")
        uow.commit()
        return None, pending

    answered, pending = _retrying(uow, claim)
    if answered is not None:
        return answered
    number, amount_minor, currency, name, key = pending
    gateway = payments.session_provider(name)
    amount = pricing.from_minor(amount_minor, currency)
    # --- outside any transaction: the gateway dedups on the key, so a resumed attempt is the same payment
    try:
        result = gateway.authorise(order_number=number, amount=amount, currency=currency,
                                   options={"card": card, "idempotency_key": key})
    except Exception as e:  # no answer: the outcome is unknown; the customer may try again
        result = payments.ProviderResult("failed", None, f"the provider did not answer ({type(e).__name__})")
    capture = None
    if result.status == "authorized":
        capture = gateway.capture(reference=result.reference, amount=amount, currency=currency,
                                  idempotency_key=f"{key}:capture")

    def record() -> dict[str, Any]:
        order = _load_any(uow, order_id, for_update=True)
        attempt = _attempts(uow, order)[-1]
        if order.payment_provider != name or order.payment_status != "pending" or attempt.status != "pending":
            uow.rollback()  # another tap recorded this attempt's outcome first
            return order_out(uow, _load_any(uow, order_id))
        from merx.orders import payment_sync

        attempt.reference, attempt.message = result.reference, result.message or attempt.message
        if result.reference:  # the ledger sees every attempt, a declined one too
            payments.open_intent(uow, order_id=order.id, order_number=order.number, provider=name, currency=currency,
                                 amount_minor=amount_minor, result=result)
        if result.status in ("declined", "failed"):
            attempt.status = "declined" if result.status == "declined" else "failed"
            _back_to_manual(uow, order, result.message)
            uow.commit()
            return {"declined": result.message or result.status}
        order.payment_reference = result.reference
        if result.status == "authorized":
            attempt.status = "succeeded"
            order.payment_status = "authorized"
            leave_manual(uow, order)
            if capture is not None and capture.status == "captured":
                payments.record_external(uow, order_id=order.id, kind="capture", amount_minor=amount_minor,
                                         reference=capture.reference, provider=name)
                payment_sync._record_capture(uow, order, name, capture.reference, result.fingerprint)  # noqa: SLF001
        else:  # action_required / pending: the provider's webhook decides
            order.payment_status = result.status
        order.version += 1
        order.updated_at = utcnow()
        uow.commit()
        return order_out(uow, order)

    out = _retrying(uow, record)
    if "declined" in out:
        message = out["declined"]
        raise PaymentFailed(f"The card was not charged: {message}. The order still waits for its payment; try "
                            "again or use another card.", errors=[FieldError("card", message, "declined")],
                            extra={"order_id": order_id, "number": number})
    return out


def settle_later_update(uow: UnitOfWork, order: Order, u: Any) -> bool:
    """A verified change (webhook) of a card attempt on an order placed unpaid (it is not
    pending, so checkout's rules do not apply). True when it was that attempt's and is handled."""
    if order.status in ("pending", "cancelled") or u.provider != order.payment_provider \
            or u.reference != order.payment_reference or order.payment_status not in OPEN_ATTEMPT:
        return False
    attempt = _attempts(uow, order)[-1:]
    if u.change == "declined":
        if attempt:
            attempt[0].status = "declined"
            attempt[0].message = "declined by the provider"
        _back_to_manual(uow, order, "declined by the provider")
        return True
    if u.change in ("authorized", "captured") and order.payment_status != "authorized":
        if attempt:
            attempt[0].status = "succeeded"
        order.payment_status = "authorized"
        order.version += 1
        order.updated_at = utcnow()
        leave_manual(uow, order)
    return u.change == "authorized"
