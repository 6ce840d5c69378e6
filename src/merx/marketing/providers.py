"""Channels' providers. Email goes through `merx.core.mail` (one SMTP transport for all of
Merx); SMS and messaging apps go to a gateway as signed outgoing webhooks (Standard Webhooks
signature: HMAC-SHA256 over "id.timestamp.body", `webhook-signature: v1,<base64>`, so any
gateway that verifies Standard Webhooks accepts them). Each provider has a rate limit
(`limits` moving window, MERX_MARKETING_PROVIDER_RATES); a sender waits for its turn.

Inbound bounces and complaints use the same signature scheme (`verify`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from merx.core import mail
from merx.core.ids import new_ulid
from merx.marketing.settings import MarketingSettings


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    idem_key: str
    to: str
    subject: str | None
    text: str
    html: str | None
    headers: dict[str, str]


class Provider(Protocol):
    name: str
    delivers: bool

    def send(self, message: Outgoing) -> str: ...


_limiter = MovingWindowRateLimiter(MemoryStorage())
_limiter_lock = threading.Lock()


def wait_for_turn(channel: str, rate: str | None) -> None:
    """Blocks until the provider's rate limit lets one more message through."""
    if not rate:
        return
    item = parse(rate)
    while True:
        with _limiter_lock:
            if _limiter.hit(item, "marketing", channel):
                return
            reset = _limiter.get_window_stats(item, "marketing", channel).reset_time
        time.sleep(min(max(reset - time.time(), 0.001), 1.0))


@dataclass
class EmailProvider:
    settings: Any
    name: str = "smtp"
    delivers: bool = True
    transport: Any = field(default=None)

    def __post_init__(self) -> None:
        # one SMTP session for the whole dispatch batch (closed by `close`)
        self.transport = mail.transport_for(self.settings, keep_open=True)
        self.name = self.transport.name
        self.delivers = mail.delivers(self.transport)

    def close(self) -> None:
        self.transport.close()

    def send(self, message: Outgoing) -> str:
        msg = mail.build_message(self.settings, to=message.to, subject=message.subject or "", text=message.text,
                                 html=message.html, headers=message.headers)
        try:
            return self.transport.send(msg)
        except mail.MailError as e:
            raise SendError(str(e), permanent=e.permanent) from e


def _secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{new_ulid()}"
    timestamp = timestamp if timestamp is not None else int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body), "content-type": "application/json"}


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    msg_id, ts = headers.get("webhook-id"), headers.get("webhook-timestamp")
    given = headers.get("webhook-signature", "")
    if not msg_id or not ts or not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    expected = signature(secret, msg_id, int(ts), body)
    return any(hmac.compare_digest(expected, part) for part in given.split())


@dataclass
class GatewayProvider:
    """SMS / messaging through a gateway URL; the body is JSON {channel, to, text, message}."""

    channel: str
    url: str
    secret: str
    name: str = "gateway"
    delivers: bool = True
    timeout: float = 10.0

    def send(self, message: Outgoing) -> str:
        body = json.dumps({"channel": self.channel, "to": message.to, "text": message.text,
                           "message": message.idem_key}, separators=(",", ":")).encode()
        headers = signed_headers(self.secret, body)
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as e:
            raise SendError(f"gateway unreachable: {e}", permanent=False) from e
        if response.status_code >= 500 or response.status_code == 429:
            raise SendError(f"gateway answered {response.status_code}", permanent=False)
        if response.status_code >= 400:
            raise SendError(f"gateway refused: {response.status_code} {response.text[:200]}", permanent=True)
        return headers["webhook-id"]


@dataclass
class InAppProvider:
    """The in-app/web channel: the message row is the inbox entry (marketing/inapp.py); sending
    makes it visible on the storefront."""

    name: str = "inapp"
    delivers: bool = True

    def send(self, message: Outgoing) -> str:
        return f"inapp:{message.idem_key}"[:255]


def provider_for(channel: str, settings: Any, ms: MarketingSettings) -> Provider | None:
    if channel == "inapp":
        return InAppProvider()
    if channel == "email":
        return EmailProvider(settings)
    if channel in ("sms", "messaging") and ms.sms_gateway_url and ms.gateway_secret:
        return GatewayProvider(channel, ms.sms_gateway_url, ms.gateway_secret.get_secret_value())
    return None
