"""The payment provider interface and its registry.

A provider is an object with a `name` and the calls of a payment session, each taking an
idempotency key (the gateway dedups on it, so a retried call after a lost answer never
charges twice): `authorise` (opens the payment: answers authorized, declined, or pending /
action_required when the outcome comes later by webhook, or awaiting for money paid later
such as a bank transfer), `capture` (full or partial), `void`, `refund` (full or partial),
and `parse_webhook(headers, body, secret)` which verifies a notification's signature and
returns the `Notification`s it reports.

Built in: `testcard` (a card gateway stand-in: declines, 3-D Secure challenges, delayed
confirmation by signed webhook; payments/testcard.py), `bank_transfer` (paid when a bank
statement line with the order's reference arrives; payments/reconciliation.py) and `cod`
(cash on delivery / pay at pickup). orders/payments.py keeps `manual` and `test`.
A plugin adds a provider with an entry point in the group `merx.payment_providers`
(docs/payments.md); `register_provider` does the same in code."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any, Mapping, Protocol, runtime_checkable

log = logging.getLogger("merx.payments")

ENTRY_POINT_GROUP = "merx.payment_providers"


class PaymentTimeout(Exception):
    """The provider did not answer in time; the outcome is unknown, so we void."""


class BadSignature(Exception):
    """A webhook whose signature does not verify (or is missing, or too old)."""


@dataclass(frozen=True)
class ProviderResult:
    # authorized | captured | declined | pending | action_required | awaiting | refunded | voided | failed
    status: str
    reference: str | None = None
    message: str | None = None
    # The gateway's fingerprint of the card (the same card gives the same value, across
    # customers): what fraud checks such as the referral abuse check compare. None when the
    # provider has no card (cash, pay in store) or does not say.
    fingerprint: str | None = None
    # Where the shopper completes the payment (a 3-D Secure challenge) when status is action_required
    action_url: str | None = None


@dataclass(frozen=True)
class Notification:
    """What a verified webhook reports about one payment."""

    event_id: str
    type: str  # authorized | captured | declined | voided | refunded
    reference: str
    amount: Decimal | None
    currency: str | None
    occurred_at: dt.datetime | None
    fingerprint: str | None = None
    payload: Any = None


@runtime_checkable
class PaymentProvider(Protocol):
    name: str

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult: ...

    def capture(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult: ...

    def refund(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult: ...

    def void(self, *, reference: str | None) -> ProviderResult: ...


class SessionProvider(PaymentProvider, Protocol):
    """A provider of the payments context: idempotency keys on every call, asynchronous
    outcomes, signed webhooks. Checkout hands such providers to merx.orders.payment_sync."""

    session: bool  # True: marks the provider as a session provider
    label: str
    settles_later: bool  # awaiting money paid later (bank transfer, cash): the order is confirmed at once

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> list[Notification]: ...


class CashOnDelivery:
    """Cash on delivery or pay at pickup: nothing to call; the money is collected by the
    courier or at the counter, then recorded by staff (capture)."""

    name = "cod"
    label = "Cash on delivery / pay at pickup"
    session = True
    settles_later = True

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        return ProviderResult("awaiting", f"cod-{order_number}", "to be collected on delivery or at pickup")

    def capture(self, *, reference: str | None, amount: Decimal, currency: str,
                idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("captured", reference, "collected")

    def refund(self, *, reference: str | None, amount: Decimal, currency: str,
               idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("refunded", reference, "paid back by hand")

    def void(self, *, reference: str | None, idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("voided", reference)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> list[Notification]:
        raise BadSignature("cash on delivery sends no webhooks")


class BankTransfer:
    """The shopper transfers the money with the order number as the payment reference; the
    order is paid when a bank statement line with that reference and amount is imported."""

    name = "bank_transfer"
    label = "Bank transfer"
    session = True
    settles_later = True

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        return ProviderResult("awaiting", order_number, f"transfer {amount} {currency} with reference {order_number}")

    def capture(self, *, reference: str | None, amount: Decimal, currency: str,
                idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("captured", reference, "received on the bank account")

    def refund(self, *, reference: str | None, amount: Decimal, currency: str,
               idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("refunded", reference, "to be transferred back by staff")

    def void(self, *, reference: str | None, idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("voided", reference)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> list[Notification]:
        raise BadSignature("bank transfers are reconciled from statements, not webhooks")


_PROVIDERS: dict[str, Any] = {}
_loaded_entry_points = False


def register_provider(provider: Any) -> None:
    """Add (or replace) a session provider; plugins usually use the entry point instead."""
    _PROVIDERS[provider.name] = provider


def _load_builtin() -> None:
    from merx.payments.testcard import TestCardProvider

    for p in (TestCardProvider(), BankTransfer(), CashOnDelivery()):
        _PROVIDERS.setdefault(p.name, p)


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            provider = obj() if isinstance(obj, type) else obj
            _PROVIDERS.setdefault(provider.name, provider)
        except Exception:  # a broken plugin must not stop the shop: logged, its provider absent
            log.exception("payment provider plugin failed to load", extra={"entry_point": ep.name})


def session_providers() -> dict[str, Any]:
    """Every session provider: built in, registered in code, and from installed plugins."""
    _load_builtin()
    _load_entry_points()
    return dict(_PROVIDERS)


def session_provider(name: str) -> Any | None:
    return session_providers().get(name)


def is_session_provider(provider: Any) -> bool:
    return bool(getattr(provider, "session", False))
