"""Standard Webhooks signatures (https://www.standardwebhooks.com/) for provider
notifications: headers webhook-id, webhook-timestamp, webhook-signature ("v1,<base64 HMAC-SHA256
of '<id>.<timestamp>.<body>'>", several separated by spaces while a secret rotates). The same
scheme integration/webhooks.py uses outbound; written out here (a dozen lines of stdlib hmac)
because the `standardwebhooks` package is only a test dependency, which the tests use to sign
independently of this code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Mapping

from merx.payments.providers import BadSignature

TOLERANCE_SECONDS = 300


def derived_secret(app_secret: str, provider: str) -> str:
    """A per-provider webhook secret derived from the app's secret key (test gateway, demo)."""
    raw = hmac.new(app_secret.encode(), f"merx-payments-webhook:{provider}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret, msg_id, ts, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> str:
    """The message id when the signature verifies; BadSignature otherwise (missing headers,
    a timestamp outside the tolerance: an old message replayed with its valid signature)."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, ts_text, signatures = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not msg_id or not ts_text or not signatures:
        raise BadSignature("webhook-id, webhook-timestamp and webhook-signature headers are required")
    try:
        ts = int(ts_text)
    except ValueError:
        raise BadSignature("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_SECONDS:
        raise BadSignature("webhook-timestamp is outside the tolerance (5 minutes)")
    expected = sign(secret, msg_id, ts, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    raise BadSignature("the signature does not match")
