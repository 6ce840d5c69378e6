"""Payment use cases: opening an intent at checkout, staff capture / void / refund (full or
partial, each with an idempotency key), and the read side.

Money operations run in two phases, like orders' refunds: claim the operation in one
transaction (the amount checked against what is left, the operation row unique per
idempotency key, so two concurrent requests cannot both take it), call the provider with no
transaction held, record the outcome and move the order (outcomes.notify_order) in another."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.money import MoneyError, Money, minor_to_str, parse_amount
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.payments import outcomes, providers, rules, signing
from merx.payments.models import PaymentIntent, PaymentNotification, PaymentOperation
from merx.payments.schemas import IntentDetailOut, IntentOut, NotificationOut, OperationOut, ProviderOut

log = logging.getLogger("merx.payments")
STAFF = (Role.admin, Role.staff)


def _require_staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in STAFF:
        raise Forbidden("Only staff may do this")


def webhook_secret(uow: UnitOfWork, provider: str) -> str:
    """MERX_PAYMENTS_WEBHOOK_SECRET_<PROVIDER> (what the provider's dashboard shows), else a
    secret derived from the app's secret key (the test gateway signs with that one)."""
    configured = os.environ.get(f"MERX_PAYMENTS_WEBHOOK_SECRET_{provider.upper()}")
    return configured or signing.derived_secret(uow.settings.current_secret, provider)


def intent_out(i: PaymentIntent) -> IntentOut:
    m = lambda v: minor_to_str(v, i.currency)  # noqa: E731
    return IntentOut(id=i.id, provider=i.provider, reference=i.reference, order_id=i.order_id,
                     order_number=i.order_number, currency=i.currency, status=i.status, amount=m(i.amount_minor),
                     authorized=m(i.authorized_minor), captured=m(i.captured_minor), refunded=m(i.refunded_minor),
                     action_url=i.action_url, note=i.note, created_at=i.created_at, updated_at=i.updated_at)


def figures(i: PaymentIntent) -> rules.Figures:
    return rules.Figures(i.status, i.amount_minor, i.authorized_minor, i.captured_minor, i.refunded_minor)


def set_figures(i: PaymentIntent, f: rules.Figures) -> None:
    i.status, i.authorized_minor, i.captured_minor, i.refunded_minor = f.status, f.authorized, f.captured, f.refunded
    i.version += 1
    i.updated_at = utcnow()


def update_for(i: PaymentIntent, change: str) -> outcomes.PaymentUpdate:
    return outcomes.PaymentUpdate(
        order_id=i.order_id, order_number=i.order_number, provider=i.provider, reference=i.reference,
        currency=i.currency, change=change, status=i.status, amount_minor=i.amount_minor,
        authorized_minor=i.authorized_minor, captured_minor=i.captured_minor, refunded_minor=i.refunded_minor,
        fingerprint=i.fingerprint)


# -- checkout -------------------------------------------------------------------------------

def open_intent(uow: UnitOfWork, *, order_id: int, order_number: str, provider: str, currency: str,
                amount_minor: int, result: providers.ProviderResult, auto_capture: bool = True) -> PaymentIntent:
    """Record the payment checkout opened (inside orders' transaction that records the outcome)."""
    authorized = amount_minor if result.status in ("authorized", "awaiting") else 0
    intent = PaymentIntent(provider=provider, reference=result.reference or f"{provider}-{order_number}",
                           order_id=order_id, order_number=order_number, currency=currency,
                           amount_minor=amount_minor, authorized_minor=authorized, captured_minor=0, refunded_minor=0,
                           status=result.status, fingerprint=result.fingerprint, action_url=result.action_url,
                           auto_capture=auto_capture, version=1, created_at=utcnow(), updated_at=utcnow())
    uow.session.add(intent)
    uow.session.flush()
    uow.session.add(PaymentOperation(intent_id=intent.id, kind="authorize", amount_minor=amount_minor,
                                     idempotency_key=f"{order_number}:authorize", status=_op_status(result.status),
                                     provider_reference=result.reference, message=result.message,
                                     actor=uow.actor.name, created_at=utcnow()))
    uow.audit("open", "payment", intent.id, after={"order": order_number, "provider": provider,
                                                   "status": result.status, "amount": minor_to_str(amount_minor, currency)})
    return intent


def _op_status(status: str) -> str:
    return {"authorized": "succeeded", "captured": "succeeded", "refunded": "succeeded", "voided": "succeeded",
            "declined": "failed", "failed": "failed"}.get(status, "pending")


def _load(uow: UnitOfWork, intent_id: int, *, for_update: bool = False) -> PaymentIntent:
    stmt = sa.select(PaymentIntent).where(PaymentIntent.id == intent_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    intent = uow.session.scalar(stmt)
    if intent is None:
        raise NotFound(f"Payment {intent_id} does not exist")
    return intent


def intent_by_reference(uow: UnitOfWork, provider: str, reference: str, *, for_update: bool = False) -> PaymentIntent | None:
    stmt = (sa.select(PaymentIntent).where(PaymentIntent.provider == provider, PaymentIntent.reference == reference)
            .execution_options(populate_existing=True))
    if for_update:
        stmt = stmt.with_for_update()
    return uow.session.scalar(stmt)


def intent_for_order(uow: UnitOfWork, order_id: int) -> IntentOut | None:
    i = uow.session.scalar(sa.select(PaymentIntent).where(PaymentIntent.order_id == order_id)
                           .order_by(PaymentIntent.id.desc()).limit(1))
    return intent_out(i) if i else None


def action_url(uow: UnitOfWork, order_id: int) -> str | None:
    """Where the shopper completes a payment that waits for them (a 3-D Secure challenge)."""
    i = uow.session.scalar(sa.select(PaymentIntent.action_url).where(
        PaymentIntent.order_id == order_id, PaymentIntent.status == "action_required"))
    return i


# -- staff money operations ----------------------------------------------------------------

def _amount(value: str | None, currency: str, left: int) -> int:
    if value is None:
        return left
    try:
        amount = parse_amount(value, currency)
    except MoneyError as e:
        raise ValidationProblem.for_field("amount", str(e)) from None
    minor = Money(amount, currency).minor
    if minor <= 0:
        raise ValidationProblem.for_field("amount", "must be more than zero", "not_positive")
    return minor


def _pending_minor(uow: UnitOfWork, intent_id: int, kind: str) -> int:
    return int(uow.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PaymentOperation.amount_minor), 0)).where(
        PaymentOperation.intent_id == intent_id, PaymentOperation.kind == kind,
        PaymentOperation.status == "requested")) or 0)


def capture(uow: UnitOfWork, intent_id: int, *, amount: str | None, idempotency_key: str | None) -> IntentOut:
    return _money_operation(uow, intent_id, "capture", amount, idempotency_key)


def refund(uow: UnitOfWork, intent_id: int, *, amount: str | None, idempotency_key: str | None,
           reason: str | None = None) -> IntentOut:
    return _money_operation(uow, intent_id, "refund", amount, idempotency_key, reason=reason)


def void(uow: UnitOfWork, intent_id: int, *, idempotency_key: str | None) -> IntentOut:
    return _money_operation(uow, intent_id, "void", None, idempotency_key)


# The built-in providers orders calls itself (orders/payments.py): their intents are recorded
# in this ledger, but captures, refunds and voids go through the order.
ORDER_MANAGED = ("manual", "test")


def _money_operation(uow: UnitOfWork, intent_id: int, kind: str, amount: str | None, idempotency_key: str | None,
                     *, reason: str | None = None) -> IntentOut:
    _require_staff(uow)
    if not idempotency_key:
        raise ValidationProblem.for_field("Idempotency-Key", f"a {kind} needs an Idempotency-Key header", "required")

    def claim() -> tuple[PaymentOperation, PaymentIntent, bool]:
        intent = _load(uow, intent_id, for_update=True)
        if providers.session_provider(intent.provider) is None and intent.provider in ORDER_MANAGED:
            raise Conflict(f"Payment {intent.id} ({intent.provider}) moves with its order: capture, cancel or refund "
                           f"order {intent.order_number} (POST /orders/{intent.order_id}/capture, /cancel, returns)",
                           type_slug="order-managed-payment")
        existing = uow.session.scalar(sa.select(PaymentOperation).where(
            PaymentOperation.intent_id == intent.id, PaymentOperation.idempotency_key == idempotency_key))
        if existing is not None:
            if existing.kind != kind:
                raise Conflict(f"Idempotency-Key {idempotency_key} was used for a {existing.kind}",
                               type_slug="idempotency-key-reused")
            uow.rollback()
            return existing, intent, existing.status != "requested"
        if kind == "capture":
            if intent.status in ("declined", "voided") or intent.status in ("pending", "action_required"):
                raise Conflict(f"Payment {intent.id} is {intent.status}; nothing to capture", type_slug="invalid-payment-state")
            left = intent.authorized_minor - intent.captured_minor - _pending_minor(uow, intent.id, "capture")
            minor = _amount(amount, intent.currency, left)
            if minor > left:
                raise ValidationProblem.for_field(
                    "amount", f"exceeds what is authorised and not yet captured ({minor_to_str(max(left, 0), intent.currency)} "
                    f"{intent.currency})", "above_authorized")
        elif kind == "refund":
            left = intent.captured_minor - intent.refunded_minor - _pending_minor(uow, intent.id, "refund")
            minor = _amount(amount, intent.currency, left)
            if minor > left:
                raise ValidationProblem.for_field(
                    "amount", f"exceeds what was captured and not yet refunded ({minor_to_str(max(left, 0), intent.currency)} "
                    f"{intent.currency})", "above_captured")
        else:
            if intent.captured_minor or intent.status in ("declined", "voided"):
                raise Conflict(f"Payment {intent.id} is {intent.status}; only an uncaptured payment can be voided",
                               type_slug="invalid-payment-state")
            minor = intent.authorized_minor
        op = PaymentOperation(intent_id=intent.id, kind=kind, amount_minor=minor, idempotency_key=idempotency_key,
                              status="requested", message=reason, actor=uow.actor.name, created_at=utcnow())
        uow.session.add(op)
        uow.commit()
        return op, intent, False

    op, intent, done = uow.run_in_transaction(claim)
    if done:  # the same key again: answer what it did, call nothing
        return intent_out(_load(uow, intent_id))
    provider = providers.session_provider(intent.provider)
    if provider is None:
        raise Conflict(f"Payment provider {intent.provider} is not installed", type_slug="provider-missing")
    value = Money.from_minor(op.amount_minor, intent.currency).amount
    try:
        if kind == "capture":
            result = provider.capture(reference=intent.reference, amount=value, currency=intent.currency,
                                      idempotency_key=op.idempotency_key)
        elif kind == "refund":
            result = provider.refund(reference=intent.reference, amount=value, currency=intent.currency,
                                     idempotency_key=op.idempotency_key)
        else:
            result = provider.void(reference=intent.reference, idempotency_key=op.idempotency_key)
    except Exception as e:  # the provider failed: recorded; the same key may be retried
        log.warning("payment operation failed", extra={"intent_id": intent_id, "kind": kind, "error": str(e)})
        result = providers.ProviderResult("failed", None, str(e)[:300])
    ok = result.status in ("captured", "refunded", "voided")
    later = result.status == "pending"  # the provider confirms by webhook

    def record() -> IntentOut:
        i = _load(uow, intent_id, for_update=True)
        o = uow.session.get(PaymentOperation, op.id, with_for_update=True, populate_existing=True)
        if o.status != "requested":
            uow.rollback()
            return intent_out(i)
        o.status = "succeeded" if ok else ("pending" if later else "failed")
        o.provider_reference, o.message = result.reference, result.message or o.message
        if ok:
            change = {"capture": "captured", "refund": "refunded", "void": "voided"}[kind]
            total = {"capture": i.captured_minor, "refund": i.refunded_minor, "void": 0}[kind] + o.amount_minor
            new, _ = rules.apply(figures(i), change, total)
            set_figures(i, new)
            i.note = outcomes.notify_order(uow, update_for(i, change)) or i.note
        uow.audit(kind, "payment", i.id, after={"status": o.status, "amount": minor_to_str(o.amount_minor, i.currency),
                                                "idempotency_key": idempotency_key})
        uow.commit()
        return intent_out(i)

    out = uow.run_in_transaction(record)
    if not ok and not later:
        raise Conflict(f"The provider refused the {kind}: {result.message or result.status}", type_slug="provider-refused")
    return out


def record_external(uow: UnitOfWork, *, order_id: int, kind: str, amount_minor: int, reference: str | None,
                    provider: str | None = None) -> None:
    """Orders paid money back through the provider itself (a cancellation, a return): keep
    the ledger's figures in step, inside orders' transaction. Does not call back into orders.
    `provider`: the order's payment with that provider (an order paid later by card also has
    the voided manual payment it was placed with, and declined card attempts); else its latest."""
    stmt = sa.select(PaymentIntent).where(PaymentIntent.order_id == order_id)
    if provider is not None:
        stmt = stmt.where(PaymentIntent.provider == provider)
    i = uow.session.scalar(stmt.order_by(PaymentIntent.id.desc()).limit(1).with_for_update())
    if i is None:
        return
    change = {"refund": "refunded", "void": "voided", "capture": "captured"}[kind]
    total = {"refund": i.refunded_minor, "capture": i.captured_minor, "void": 0}[kind] + amount_minor
    new, stale = rules.apply(figures(i), change, total)
    if stale is None:
        set_figures(i, new)
    uow.session.add(PaymentOperation(intent_id=i.id, kind=kind, amount_minor=amount_minor,
                                     idempotency_key=f"order:{order_id}:{kind}:{i.version}", status="succeeded",
                                     provider_reference=reference, message="through the order", actor=uow.actor.name,
                                     created_at=utcnow()))


# -- reading ---------------------------------------------------------------------------------

def list_intents(uow: UnitOfWork, *, status: str | None = None, provider: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> tuple[list[IntentOut], str | None]:
    _require_read(uow)
    stmt = sa.select(PaymentIntent)
    if status:
        stmt = stmt.where(PaymentIntent.status == status)
    if provider:
        stmt = stmt.where(PaymentIntent.provider == provider)
    return paginate(uow.session, stmt, PaymentIntent.id, limit=limit, cursor=cursor, convert=intent_out,
                    descending=True)


def get_intent(uow: UnitOfWork, intent_id: int) -> IntentDetailOut:
    _require_read(uow)
    i = _load(uow, intent_id)
    ops = uow.session.scalars(sa.select(PaymentOperation).where(PaymentOperation.intent_id == i.id)
                              .order_by(PaymentOperation.id))
    notes = uow.session.scalars(sa.select(PaymentNotification).where(PaymentNotification.intent_id == i.id)
                                .order_by(PaymentNotification.id))
    return IntentDetailOut(**intent_out(i).model_dump(), operations=[
        OperationOut(id=o.id, kind=o.kind, amount=minor_to_str(o.amount_minor, i.currency), status=o.status,
                     idempotency_key=o.idempotency_key, provider_reference=o.provider_reference, message=o.message,
                     created_at=o.created_at) for o in ops],
        notifications=[notification_out(n, i.currency) for n in notes])


def notification_out(n: PaymentNotification, currency: str | None = None) -> NotificationOut:
    amount = None
    if n.amount_minor is not None:
        amount = minor_to_str(n.amount_minor, currency) if currency else str(n.amount_minor)
    return NotificationOut(id=n.id, provider=n.provider, event_id=n.event_id, event_type=n.event_type,
                           reference=n.reference, intent_id=n.intent_id, amount=amount, outcome=n.outcome,
                           detail=n.detail, received_at=n.received_at)


def list_notifications(uow: UnitOfWork, *, limit: int = 50, cursor: str | None = None) -> tuple[list[NotificationOut], str | None]:
    _require_read(uow)
    return paginate(uow.session, sa.select(PaymentNotification), PaymentNotification.id, limit=limit, cursor=cursor,
                    convert=notification_out, descending=True)


def list_providers(uow: UnitOfWork, enabled: set[str]) -> list[ProviderOut]:
    return [ProviderOut(name=p.name, label=getattr(p, "label", p.name), enabled=p.name in enabled,
                        settles_later=bool(getattr(p, "settles_later", False)),
                        webhook_url=None if getattr(p, "settles_later", False) else f"/api/v1/payments/webhooks/{p.name}")
            for p in sorted(providers.session_providers().values(), key=lambda p: p.name)]


def _require_read(uow: UnitOfWork) -> None:
    if uow.actor.role not in (Role.admin, Role.staff, Role.support_agent):
        raise Forbidden("Only the back office sees payments")


def summary(uow: UnitOfWork) -> dict[str, Any]:
    rows = uow.session.execute(sa.select(PaymentIntent.provider, PaymentIntent.status, sa.func.count())
                               .group_by(PaymentIntent.provider, PaymentIntent.status)).all()
    return {"by_provider_status": [{"provider": p, "status": s, "count": int(c)} for p, s, c in rows]}


def to_decimal(minor: int, currency: str) -> Decimal:
    return Money.from_minor(minor, currency).amount
