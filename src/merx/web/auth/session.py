"""Console sign-in cookies and CSRF tokens for the web pages.

The session cookie carries a random session token signed with itsdangerous under the app's
secret key (older keys in MERX_SECRET_KEY_FALLBACKS still verify until their end date; new
cookies always use the current key). The signature only keeps junk away from the database:
the session itself lives in `user_sessions` (core/sessions.py), so signing out, a password
change, the lifetime or the idle timeout end it whatever the cookie says. HttpOnly, SameSite=Lax.

CSRF: for a signed-in visitor the token is an HMAC keyed by the session token, so it belongs to
that session and nobody without the session cookie can compute it; a cookie an attacker planted
is never consulted. Anonymous visitors (the shop's cart, the sign-in form) get a random token
in a cookie, echoed by every form (double submit). The API accepts the session too (see
`session_reader`), but only for reads, or for writes that carry the token in `X-CSRF-Token`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from merx.core import sessions

SESSION_COOKIE = "merx_session"
CSRF_COOKIE = "merx_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSET = object()


def _keys(request: Request) -> list[str]:
    # itsdangerous signs with the last key and verifies with any: current last, fallbacks before it.
    return list(reversed(request.app.state.settings.verification_secrets()))


def _lifetime(request: Request) -> dt.timedelta:
    return dt.timedelta(hours=request.app.state.settings.session_lifetime_hours)


def sign(secret: bytes | list[str], payload: dict[str, Any], purpose: str) -> str:
    """A signed (not encrypted) token for small state kept by the browser (the shop's cart)."""
    return URLSafeSerializer(secret, salt=f"merx.{purpose}").dumps(payload)


def unsign(secret: bytes | list[str], token: str | None, purpose: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        data = URLSafeSerializer(secret, salt=f"merx.{purpose}").loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    """The session token from a cookie with a valid signature (no I/O; the session may still
    have ended: `session_user_id` asks the database)."""
    cached = getattr(request.state, "session_token", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        serializer = URLSafeTimedSerializer(_keys(request), salt="merx.session")
        try:
            loaded = serializer.loads(cookie, max_age=int(_lifetime(request).total_seconds()))
        except BadSignature:  # includes SignatureExpired
            loaded = None
        token = loaded if isinstance(loaded, str) else None
    request.state.session_token = token
    return token


def session_present(request: Request) -> bool:
    """Installed as `app.state.session_present`: whether a signed session cookie came along,
    without I/O, so an anonymous request is recognised on the event loop."""
    return session_token(request) is not None


def start_session(request: Request, response: Response, user_id: int) -> None:
    lifetime = _lifetime(request)
    token = sessions.start_session(request.app.state.db, user_id, lifetime=lifetime)
    cookie = URLSafeTimedSerializer(_keys(request), salt="merx.session").dumps(token)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(lifetime.total_seconds()), httponly=True,
                        samesite="lax", secure=_secure(request), path="/")


def end_session(request: Request, response: Response) -> None:
    token = session_token(request)
    if token is not None:
        sessions.end_session(request.app.state.db, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_user_id(request: Request) -> int | None:
    """The signed-in user (blocking: the session row is read)."""
    cached = getattr(request.state, "session_user_id", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = session_token(request)
    uid = None
    if token is not None:
        idle = dt.timedelta(minutes=request.app.state.settings.session_idle_minutes)
        uid = sessions.session_user(request.app.state.db, token, idle=idle)
    request.state.session_user_id = uid
    return uid


def session_reader(request: Request) -> int | None:
    """Installed as `app.state.session_reader`: the signed-in user for the API's principal.
    API writes with only a cookie need the session's CSRF token in the header; page routes
    check their form field."""
    if request.method in UNSAFE_METHODS and request.url.path.startswith("/api/"):
        if session_token(request) is None or not csrf_matches(request, request.headers.get(CSRF_HEADER, "")):
            return None
    return session_user_id(request)


def _session_csrf(token: str) -> str:
    digest = hmac.new(token.encode(), b"merx.csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed_in_token(request: Request) -> str | None:
    """The console session's token, else a storefront shopper's (web/auth/shopper.py)."""
    from merx.web.auth.shopper import shopper_token

    return session_token(request) or shopper_token(request)


def csrf_token(request: Request) -> str:
    """The token forms must echo: the session's when signed in (console or shopper), else the
    visitor's cookie token (made on first sight; `ensure_csrf_cookie` stores it)."""
    token = _signed_in_token(request)
    if token is not None:
        return _session_csrf(token)
    visitor = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not visitor:
        visitor = secrets.token_urlsafe(24)
        request.state.new_csrf = visitor
    return visitor


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="lax", secure=_secure(request), path="/")


def csrf_matches(request: Request, sent: str | None) -> bool:
    token = _signed_in_token(request)
    expected = _session_csrf(token) if token is not None else request.cookies.get(CSRF_COOKIE)
    return bool(expected and sent and hmac.compare_digest(expected.encode(), sent.encode()))
