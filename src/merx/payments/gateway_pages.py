"""The test gateway's own pages: the 3-D Secure challenge a shopper answers, and the
delayed confirmation it sends later (a job). They stand in for the gateway's side, so they
reach the shop the way a real gateway does: a Standard Webhooks-signed notification through
webhooks.receive, verified like any other. (Being a stand-in living in the same process, they
read the amount from the payment record instead of a gateway database of their own.)"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from merx.core.errors import NotFound
from merx.core.money import minor_to_str
from merx.core.uow import UnitOfWork
from merx.payments.models import PaymentIntent
from merx.payments.schemas import WebhookAck
from merx.payments.service import intent_by_reference, webhook_secret
from merx.payments.testcard import TestCardProvider

PROVIDER = "testcard"


def challenge(uow: UnitOfWork, reference: str) -> dict[str, str]:
    intent = intent_by_reference(uow, PROVIDER, reference)
    if intent is None or intent.status != "action_required":
        raise NotFound("No 3-D Secure challenge waits for this payment")
    return {"reference": reference, "order_number": intent.order_number, "currency": intent.currency,
            "amount": minor_to_str(intent.amount_minor, intent.currency)}


def send(uow: UnitOfWork, kind: str, reference: str) -> WebhookAck:
    """The gateway notifies the shop (signed), as it would over HTTP."""
    from merx.payments import webhooks

    intent = intent_by_reference(uow, PROVIDER, reference)
    if intent is None:
        raise NotFound("No such payment")
    amount = minor_to_str(intent.amount_minor, intent.currency)
    uow.rollback()
    body, headers = TestCardProvider().signed_notification(webhook_secret(uow, PROVIDER), kind, reference, amount,
                                                          intent.currency)
    return webhooks.receive(uow, PROVIDER, headers, body)


def _authorised(uow: UnitOfWork, reference: str) -> None:
    """The bank said yes: the gateway notifies the authorisation, then (automatic capture, as
    the checkout asked) the capture: two notifications, like a real gateway's."""
    intent = intent_by_reference(uow, PROVIDER, reference)
    auto_capture = bool(intent and intent.auto_capture)
    send(uow, "authorized", reference)
    if auto_capture:
        send(uow, "captured", reference)


def answer_challenge(uow: UnitOfWork, reference: str, approved: bool) -> None:
    challenge(uow, reference)
    if approved:
        _authorised(uow, reference)
    else:
        send(uow, "declined", reference)


def deliver_delayed(uow: UnitOfWork, now: dt.datetime, delay_seconds: int) -> int:
    """Confirm the delayed payments (test card 4000 0000 0000 0077) opened before now - delay."""
    refs = list(uow.session.scalars(sa.select(PaymentIntent.reference).where(
        PaymentIntent.provider == PROVIDER, PaymentIntent.status == "pending",
        PaymentIntent.created_at <= now - dt.timedelta(seconds=delay_seconds)).limit(200)))
    uow.rollback()
    for ref in refs:
        _authorised(uow, ref)
    return len(refs)
