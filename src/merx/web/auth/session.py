"""Signed login sessions and CSRF tokens for the web pages.

The session cookie carries `{"uid", "exp"}` signed with HMAC-SHA256 under the app's
`secret_key`; nothing secret is inside, so signing (not encrypting) is enough. It is
HttpOnly and SameSite=Lax. A second cookie holds a random CSRF token; every form and HTMX
request echoes it (double submit), so another site cannot post on a signed-in user's behalf.
The API accepts the session too (see `session_reader`), but only for reads, or for writes
that carry the token in `X-CSRF-Token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from fastapi import Request, Response

SESSION_COOKIE = "merx_session"
CSRF_COOKIE = "merx_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_SECONDS = 12 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _secret(request: Request) -> bytes:
    return request.app.state.settings.secret_key.get_secret_value().encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict[str, Any], purpose: str) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: bytes, token: str | None, purpose: str) -> dict[str, Any] | None:
    if not token or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    expected = hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        data = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, user_id: int) -> None:
    token = sign(_secret(request), {"uid": user_id, "exp": int(time.time()) + SESSION_TTL_SECONDS}, "session")
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_SECONDS, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")
    # A fresh CSRF token at login: a token planted before login is worthless afterwards.
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=True, samesite="lax",
                        secure=_secure(request), path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_user_id(request: Request) -> int | None:
    data = unsign(_secret(request), request.cookies.get(SESSION_COOKIE), "session")
    if not data or not isinstance(data.get("uid"), int) or not isinstance(data.get("exp"), int):
        return None
    if data["exp"] < time.time():
        return None
    return data["uid"]


def session_reader(request: Request) -> int | None:
    """Installed as `app.state.session_reader`: the signed-in user for the API's principal.
    API writes with only a cookie need the CSRF header; page routes check their form field."""
    uid = session_user_id(request)
    if uid is None:
        return None
    if request.method in UNSAFE_METHODS and request.url.path.startswith("/api/"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not csrf_matches(request, sent):
            return None
    return uid


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token (made on first sight; `ensure_csrf_cookie` stores it)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="lax", secure=_secure(request), path="/")


def csrf_matches(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode()))
