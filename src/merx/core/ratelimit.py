"""Rate limits: the one mechanism every rate-limited route uses, on the `limits` package.

A limit has a name (`login`, `identify`, ...), a rate in the `limits` notation ("30/minute",
"1000/hour") and a key: the client address (`per="address"`) or the caller (`per="principal"`:
its API key, else its user, else the address for anonymous callers). Rates come from
`DEFAULT_LIMITS`, overridden one by one with `MERX_RATE_LIMITS='{"login": "5/minute"}'`.

Where the counters live:
- `MERX_REDIS_URL` set: in Redis, so every worker and replica shares one budget per key.
- otherwise: in this process's memory. The one-machine default (`merx serve`, SQLite) is one
  process, where that is exact and costs no I/O per request. We do not count in the database:
  a write per limited request would contend with checkouts for SQLite's single writer lock.
  With `--workers N` and no Redis each worker counts on its own, so a client can get up to N
  times the rate; set MERX_REDIS_URL when you run several workers or replicas.

An exceeded limit answers 429 problem+json with `Retry-After` (seconds) and `retry_after`.
If Redis cannot be reached the request is let through and a warning logged: a limiter outage
must not take the shop down with it."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Literal

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from merx.core.auth import Principal
from merx.core.errors import Problem
from merx.core.settings import Settings

log = logging.getLogger("merx.ratelimit")

DEFAULT_LIMITS: dict[str, str] = {
    "login": "10/minute",             # console sign-in attempts per client address
    "identify": "30/minute",          # storefront identify calls per address
    "events": "1200/minute",          # tracked events (each event in a batch counts) per address
    "search_feedback": "120/minute",  # search clicks/carts/purchases per address
    "guest_checkout": "20/minute",    # anonymous orders and cart checkouts per address
    "seller_api": "600/minute",       # marketplace routes per seller (all of a seller's keys together)
    "support_chat": "20/minute",      # live chat messages (and chats started) per visitor address
    "shopper_login": "20/minute",     # storefront sign-ins and email confirmations per address
    "account_mail": "5/minute",       # sign-ups, new links and password reset mails per address
}

Per = Literal["address", "principal"]


class RateLimited(Problem):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, name: str, retry_after: int) -> None:
        super().__init__(f"Too many {name.replace('_', ' ')} requests; retry in {retry_after}s",
                         extra={"retry_after": retry_after, "limit": name})
        self.retry_after = retry_after


class RateLimiter:
    """The limits of one app: named rates and the storage their counters live in."""

    def __init__(self, settings: Settings) -> None:
        self.storage_uri = settings.redis_url or "memory://"
        self.shared = settings.redis_url is not None
        # Moving window: exact counts over the last period, no burst of twice the rate at a
        # fixed window's edge.
        self._strategy = MovingWindowRateLimiter(storage_from_string(self.storage_uri))
        self._items: dict[str, RateLimitItem] = {
            name: parse(rate) for name, rate in {**DEFAULT_LIMITS, **settings.rate_limits}.items()}

    def rate(self, name: str) -> RateLimitItem:
        return self._items[name]

    def hit(self, name: str, key: str, cost: int = 1) -> None:
        """Count `cost` against `key`'s budget for `name`; raises RateLimited when it is spent."""
        item = self._items[name]
        try:
            if self._strategy.hit(item, name, key, cost=cost):
                return
            reset_at = self._strategy.get_window_stats(item, name, key).reset_time
        except Exception:  # Redis down or unreachable: let the request through (see module doc)
            log.warning("rate limit storage unavailable; not limiting", extra={"limit": name}, exc_info=True)
            return
        raise RateLimited(name, max(1, math.ceil(reset_at - time.time())))

    def reset(self) -> None:
        self._strategy.storage.reset()


def limiter_of(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter(request.app.state.settings)
    return limiter


def client_address(request: Request) -> str:
    # Behind a proxy, run uvicorn with --proxy-headers/--forwarded-allow-ips so this is the
    # shopper's address, not the proxy's.
    return request.client.host if request.client else "unknown"


def key_of(request: Request, principal: Principal | None, per: Per) -> str:
    if per == "principal" and principal is not None and not principal.is_anonymous:
        if principal.api_key_id is not None:
            return f"key:{principal.api_key_id}"
        if principal.user_id is None and principal.customer_id is not None:  # a signed-in shopper
            return f"customer:{principal.customer_id}"
        return f"user:{principal.user_id}"
    return f"addr:{client_address(request)}"


def check_rate(request: Request, name: str, *, principal: Principal | None = None, per: Per = "address",
               cost: int = 1) -> None:
    """The function form, for a route that knows the cost only after parsing its body."""
    limiter_of(request).hit(name, key_of(request, principal, per), cost)


def rate_limited(name: str, *, per: Per = "address", anonymous_only: bool = False) -> Callable[..., None]:
    """FastAPI dependency: `_: None = Depends(rate_limited("identify"))`. `anonymous_only`
    leaves callers with a credential to their own (per-key) limits elsewhere."""
    from merx.core.web import get_principal

    if name not in DEFAULT_LIMITS:
        raise ValueError(f"unknown rate limit {name!r}; declare it in DEFAULT_LIMITS")

    def dependency(request: Request, principal: Principal = Depends(get_principal)) -> None:
        if anonymous_only and not principal.is_anonymous:
            return
        check_rate(request, name, principal=principal, per=per)

    return dependency


def _rate_limited_handler(request: Request, exc: Any) -> JSONResponse:
    from merx.core.web import problem_response

    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rate_limited.labels(exc.extra["limit"]).inc()
    return problem_response(exc, request, {"Retry-After": str(exc.retry_after)})


def install(app: Any) -> None:
    """Create the app's limiter and answer RateLimited with its Retry-After header."""
    app.state.rate_limiter = RateLimiter(app.state.settings)
    app.add_exception_handler(RateLimited, _rate_limited_handler)
