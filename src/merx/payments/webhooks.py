"""Provider notifications: verify, deduplicate, apply in order-independent fashion.

`POST /api/v1/payments/webhooks/{provider}`. A notification changes money state only when
its signature verifies (401 otherwise, nothing stored); it is stored once per provider event
id (a replay answers "duplicate" and changes nothing); it must name a payment we opened (422
`unknown_transaction` otherwise); and rules.apply decides whether it moves the payment
forward or is stale (out of order: recorded, nothing changes). The order moves in the same
transaction (outcomes.notify_order)."""

from __future__ import annotations

from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import utcnow
from merx.core.errors import NotFound, Problem, ValidationProblem
from merx.core.money import Money, MoneyError, check_currency
from merx.core.uow import UnitOfWork
from merx.payments import outcomes, providers, rules
from merx.payments.models import PaymentNotification
from merx.payments.schemas import WebhookAck
from merx.payments.service import figures, intent_by_reference, set_figures, update_for, webhook_secret


class BadWebhookSignature(Problem):
    status = 401
    type_slug = "webhook-signature-invalid"
    title = "Webhook signature invalid"


def receive(uow: UnitOfWork, provider_name: str, headers: Mapping[str, str], body: bytes) -> WebhookAck:
    provider = providers.session_provider(provider_name)
    if provider is None:
        raise NotFound(f"No payment provider {provider_name}")
    try:
        notifications = provider.parse_webhook(headers, body, webhook_secret(uow, provider_name))
    except providers.BadSignature as e:
        raise BadWebhookSignature(f"Refused: {e}; nothing was changed") from None
    outcomes_seen = [_apply_one(uow, provider_name, n) for n in notifications]
    return WebhookAck(received=len(notifications), outcomes=outcomes_seen)


def _apply_one(uow: UnitOfWork, provider_name: str, n: providers.Notification) -> str:
    def run() -> str:
        intent = intent_by_reference(uow, provider_name, n.reference, for_update=True)
        if intent is None:
            raise ValidationProblem.for_field("data.reference", f"no {provider_name} payment has reference "
                                              f"{n.reference}; nothing was changed", "unknown_transaction")
        seen = uow.session.scalar(sa.select(PaymentNotification.id).where(
            PaymentNotification.provider == provider_name, PaymentNotification.event_id == n.event_id))
        if seen is not None:
            uow.rollback()
            return "duplicate"
        amount_minor = None
        if n.amount is not None:
            try:
                if n.currency is not None and check_currency(n.currency) != intent.currency:
                    raise ValidationProblem.for_field("data.currency", f"the payment is in {intent.currency}",
                                                      "currency_mismatch")
                amount_minor = Money.of(format(n.amount, "f"), intent.currency).minor
            except MoneyError as e:
                raise ValidationProblem.for_field(f"data.{e.field}", str(e)) from None
        new, stale = rules.apply(figures(intent), n.type, amount_minor)
        detail = stale
        if stale is None:
            set_figures(intent, new)
            if n.fingerprint and not intent.fingerprint:
                intent.fingerprint = n.fingerprint
            if intent.status != "action_required":
                intent.action_url = None
            refused = outcomes.notify_order(uow, update_for(intent, n.type))
            if refused:
                intent.note = detail = refused
        uow.session.add(PaymentNotification(
            provider=provider_name, event_id=n.event_id, event_type=n.type, reference=n.reference,
            intent_id=intent.id, amount_minor=amount_minor, occurred_at=n.occurred_at,
            outcome="stale" if stale else "applied", detail=detail, payload=n.payload, received_at=utcnow()))
        uow.audit("webhook", "payment", intent.id, after={"event_id": n.event_id, "type": n.type,
                                                         "outcome": "stale" if stale else "applied"})
        try:
            uow.commit()
        except IntegrityError:  # the same event, delivered twice at once: the other one applied it
            uow.rollback()
            return "duplicate"
        return "stale" if stale else "applied"

    return uow.run_in_transaction(run)
