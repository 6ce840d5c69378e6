"""`testcard`: a stand-in for a card gateway that behaves like one, for the demo and tests.

Test cards (spaces allowed), after well-known gateways' own:
  4242 4242 4242 4242   authorised at once (frictionless)
  4000 0000 0000 0002   declined
  4000 0027 6000 3184   3-D Secure challenge: the shopper approves or fails it on the
                        gateway's page (`action_url`); the outcome arrives by signed webhook
  4000 0000 0000 0077   delayed: pending; the gateway confirms by signed webhook later
                        (the payments.testcard_deliver job, after MERX_PAYMENTS_TESTCARD_DELAY_SECONDS)
Any other number is authorised. The gateway is stateless: references are derived from the
idempotency key (a retried call answers the same), the card fingerprint rides in the
reference, and the challenge page carries a signed token with what it needs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from decimal import Decimal
from typing import Any, Mapping

from merx.payments import signing
from merx.payments.providers import BadSignature, Notification, ProviderResult

FRICTIONLESS = "4242424242424242"
DECLINED = "4000000000000002"
CHALLENGE = "4000002760003184"
DELAYED = "4000000000000077"
EVENT_TYPES = ("authorized", "captured", "declined", "voided", "refunded")


def card_fingerprint(card_number: str) -> str:
    digits = re.sub(r"[^0-9]", "", card_number)
    return "fp_" + hashlib.sha256(f"merx-test-card:{digits}".encode()).hexdigest()[:24]


def _ref(seed: str) -> str:
    return "tc_" + hashlib.sha256(f"testcard:{seed}".encode()).hexdigest()[:16]


class TestCardProvider:
    name = "testcard"
    label = "Card (test gateway)"
    session = True
    settles_later = False
    __test__ = False  # not a pytest test class

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        card = re.sub(r"[^0-9]", "", options.get("card") or FRICTIONLESS)
        fingerprint = card_fingerprint(card)
        reference = _ref(options.get("idempotency_key") or order_number) + "." + fingerprint
        if card == DECLINED:
            return ProviderResult("declined", reference, "card declined (test card 4000 0000 0000 0002)",
                                  fingerprint=fingerprint)
        if card == CHALLENGE:
            return ProviderResult("action_required", reference, "3-D Secure challenge", fingerprint=fingerprint,
                                  action_url=f"/pay/testcard/challenge?reference={reference}")
        if card == DELAYED:
            return ProviderResult("pending", reference, "the bank confirms later", fingerprint=fingerprint)
        return ProviderResult("authorized", reference, fingerprint=fingerprint)

    @staticmethod
    def fingerprint_of(reference: str | None) -> str | None:
        _, dot, fingerprint = (reference or "").partition(".")
        return fingerprint if dot and fingerprint.startswith("fp_") else None

    def capture(self, *, reference: str | None, amount: Decimal, currency: str,
                idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("captured", _ref(f"{reference}:capture:{idempotency_key or amount}"),
                              fingerprint=self.fingerprint_of(reference))

    def refund(self, *, reference: str | None, amount: Decimal, currency: str,
               idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("refunded", _ref(f"{reference}:refund:{idempotency_key or amount}"))

    def void(self, *, reference: str | None, idempotency_key: str | None = None) -> ProviderResult:
        return ProviderResult("voided", reference)

    # -- webhooks ------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> list[Notification]:
        msg_id = signing.verify(secret, headers, body)
        try:
            doc = json.loads(body)
            data = doc["data"]
            kind = doc["type"].removeprefix("payment.")
            if kind not in EVENT_TYPES:
                raise ValueError(f"unknown event type {doc['type']}")
            amount = Decimal(data["amount"]) if data.get("amount") is not None else None
            occurred = dt.datetime.fromisoformat(doc["created"]) if doc.get("created") else None
            return [Notification(event_id=str(doc.get("id") or msg_id), type=kind, reference=str(data["reference"]),
                                 amount=amount, currency=data.get("currency"), occurred_at=occurred,
                                 fingerprint=self.fingerprint_of(str(data["reference"])), payload=doc)]
        except (KeyError, TypeError, ValueError, ArithmeticError) as e:
            raise BadSignature(f"the notification body is not a testcard event: {e}") from None

    @staticmethod
    def notification(kind: str, reference: str, amount: Decimal | str | None, currency: str, *,
                     event_id: str | None = None, created: dt.datetime | None = None) -> bytes:
        """The body the gateway sends (what the tests and the challenge page post)."""
        return json.dumps({
            "id": event_id or "evt_" + secrets.token_hex(8), "type": f"payment.{kind}",
            "created": (created or dt.datetime.now(dt.timezone.utc)).isoformat(),
            "data": {"reference": reference, "amount": None if amount is None else str(amount), "currency": currency},
        }, separators=(",", ":")).encode()

    def signed_notification(self, secret: str, kind: str, reference: str, amount: Any, currency: str,
                            **kw: Any) -> tuple[bytes, dict[str, str]]:
        body = self.notification(kind, reference, amount, currency, **kw)
        return body, signing.signed_headers(secret, "msg_" + secrets.token_hex(8), body)
