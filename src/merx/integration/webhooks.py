"""Standard Webhooks signing and one HTTP delivery attempt.

The message id is the event id, so a consumer deduplicates retries, relay restarts and
replays by `webhook-id`; the signature covers "<id>.<timestamp>.<body>" with the secret's
base64-decoded bytes (https://www.standardwebhooks.com/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from merx.integration.secrets_box import secret_bytes

USER_AGENT = "Merx-Webhooks/1"
SNIPPET_CHARS = 500


def event_body(*, event_id: str, event_type: str, occurred_at: str, aggregate_type: str, aggregate_id: str,
               aggregate_version: int | None, schema_version: int, payload: Any) -> str:
    return json.dumps({
        "id": event_id,
        "type": event_type,
        "timestamp": occurred_at,
        "aggregate": {"type": aggregate_type, "id": aggregate_id, "version": aggregate_version},
        "schema_version": schema_version,
        "data": payload,
    }, separators=(",", ":"), default=str)


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, msg_id: str, body: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


@dataclass
class AttemptResult:
    outcome: str  # succeeded | retryable | failed
    status_code: int | None
    latency_ms: int
    error: str | None = None
    response_snippet: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"


def classify(status_code: int) -> str:
    if 200 <= status_code < 300:
        return "succeeded"
    # Rate limiting and timeouts reported by a proxy are worth retrying; other 4xx are the
    # receiver saying "never send this again".
    if status_code >= 500 or status_code in (408, 429):
        return "retryable"
    return "failed"


def post(client: httpx.Client, url: str, secret: str, msg_id: str, body: str, timeout: float) -> AttemptResult:
    """One signed attempt. Synchronous on purpose: the relay runs these on a thread pool, which
    on a busy machine delivers several times more per second than httpx's asyncio client."""
    headers = signed_headers(secret, msg_id, body)
    started = time.perf_counter()
    try:
        resp = client.post(url, content=body.encode(), headers=headers, timeout=timeout)
    except httpx.TimeoutException as e:
        return AttemptResult("retryable", None, _ms(started), error=f"timeout: {type(e).__name__}")
    except httpx.HTTPError as e:
        return AttemptResult("retryable", None, _ms(started), error=f"{type(e).__name__}: {e}"[:500])
    snippet = resp.text[:SNIPPET_CHARS] if resp.content else None
    return AttemptResult(classify(resp.status_code), resp.status_code, _ms(started), response_snippet=snippet)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def backoff_seconds(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(n-1), capped, then a random 50-100% of it
    (so endpoints that failed together do not all retry in the same second)."""
    rng = rng or random
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (0.5 + rng.random() / 2)


def matches(event_types: list[str] | None, event_type: str) -> bool:
    if not event_types:
        return True
    for pattern in event_types:
        if pattern == event_type or pattern == "*":
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
