"""Payment providers: the interface and the two built-in ones.

`manual` (cash on delivery, pay in store): nothing to call; the money is collected later
and recorded by staff. `test`: a deterministic stand-in for a card gateway that can be told
to succeed, decline or time out, so the checkout saga's compensation can be exercised.
Which providers a checkout may use is configuration (MERX_PAYMENT_PROVIDERS, default
`manual`): `test` is enabled only by the demo and the test suite.
Provider calls are made OUTSIDE any database transaction (see orders/checkout.py)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from decimal import Decimal
from typing import Any

from merx.core.errors import ValidationProblem
from merx.payments import public as _payments


# The interface lives in the payments context (shared with its providers); re-exported here
# so `payments.PaymentTimeout`, `payments.ProviderResult` keep working in orders.
PaymentTimeout = _payments.PaymentTimeout
ProviderResult = _payments.ProviderResult
PaymentProvider = _payments.PaymentProvider
is_session_provider = _payments.is_session_provider


class ManualProvider:
    name = "manual"

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        return ProviderResult("pending", f"manual-{order_number}", "to be collected on delivery or in store")

    def capture(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        return ProviderResult("captured", reference, "collected")

    def refund(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        return ProviderResult("refunded", reference, "paid back by hand")

    def void(self, *, reference: str | None) -> ProviderResult:
        return ProviderResult("voided", reference)


def card_fingerprint(card_number: str) -> str:
    """A stable fingerprint of a card number, like a gateway's: never the number itself."""
    digits = re.sub(r"[^0-9]", "", card_number)
    return "fp_" + hashlib.sha256(f"merx-test-card:{digits}".encode()).hexdigest()[:24]


class TestProvider:
    """`options["behaviour"]`: succeed (default) | decline | timeout; `options["card"]`: a
    test card number, from which a stable fingerprint is derived (none without a card).

    Like a real gateway, it can tell a charge's card from the charge's reference later (a
    capture hours after the authorisation): the fingerprint is part of the reference, so the
    provider stays stateless across processes."""

    name = "test"
    __test__ = False  # not a pytest test class
    timeout_delay_seconds = 0.05  # how long a simulated time-out keeps the caller waiting

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        behaviour = options.get("behaviour", "succeed")
        if behaviour == "decline":
            return ProviderResult("declined", None, "card declined by the test provider")
        if behaviour == "timeout":
            time.sleep(self.timeout_delay_seconds)
            raise PaymentTimeout("the test provider did not answer")
        card = options.get("card")
        fingerprint = card_fingerprint(card) if card else None
        reference = "test_" + secrets.token_hex(8) + (f".{fingerprint}" if fingerprint else "")
        return ProviderResult("authorized", reference, fingerprint=fingerprint)

    def capture(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        return ProviderResult("captured", reference, fingerprint=self.fingerprint_of(reference))

    @staticmethod
    def fingerprint_of(reference: str | None) -> str | None:
        _, dot, fingerprint = (reference or "").partition(".")
        return fingerprint if dot and fingerprint.startswith("fp_") else None

    def refund(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        return ProviderResult("refunded", reference)

    def void(self, *, reference: str | None) -> ProviderResult:
        return ProviderResult("voided", reference)


PROVIDERS: dict[str, PaymentProvider] = {"manual": ManualProvider(), "test": TestProvider()}


def register_provider(provider: PaymentProvider) -> None:
    PROVIDERS[provider.name] = provider


def _all() -> dict[str, Any]:
    """manual and test (here), then the payments context's (testcard, bank_transfer, cod, plugins)."""
    return {**_payments.session_providers(), **PROVIDERS}


def get_provider(name: str) -> PaymentProvider:
    """The provider an existing order was paid with (refunds and voids go back through it
    even after it was disabled for new checkouts)."""
    return _all()[name]


def enabled_providers(settings: Any) -> list[str]:
    """Providers new checkouts may use: those named in MERX_PAYMENT_PROVIDERS that exist."""
    return sorted(settings.enabled_payment_providers & _all().keys())


def provider_for_checkout(settings: Any, name: str) -> PaymentProvider:
    """The enabled provider called `name`, or a 422 naming `payment.provider`. The `test`
    provider pays without money changing hands, so it is off unless configured."""
    enabled = enabled_providers(settings)
    if name not in enabled:
        raise ValidationProblem.for_field("payment.provider", f"must be one of {', '.join(enabled)}",
                                          "provider_not_enabled")
    return _all()[name]
