"""The storefront's shopper sign-in cookie, separate from the console's staff session.

`merx_shopper` carries a shopper session token (customers/accounts.py: a row in
`customer_account_sessions`, revocable) signed with itsdangerous under the app's secret key,
HttpOnly, SameSite=Lax. The console's `merx_session` is never read or written here, so a
shopper's sign-in gives no console access and a staff sign-in is not a shopper's. While a
shopper is signed in, forms carry a CSRF token bound to their session (see session.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from merx.core.auth import Principal
from merx.customers import public as customers
from merx.web.auth.session import _keys, _secure

SHOPPER_COOKIE = "merx_shopper"
_UNSET = object()


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_keys(request), salt="merx.shopper")


def shopper_token(request: Request) -> str | None:
    """The session token from a validly signed cookie (no I/O; the session may have ended)."""
    cached = getattr(request.state, "shopper_token", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = None
    cookie = request.cookies.get(SHOPPER_COOKIE)
    if cookie:
        try:
            loaded = _serializer(request).loads(cookie, max_age=int(customers.SESSION_LIFETIME.total_seconds()))
        except BadSignature:
            loaded = None
        token = loaded if isinstance(loaded, str) else None
    request.state.shopper_token = token
    return token


def current_shopper(request: Request) -> customers.Shopper | None:
    """The signed-in shopper (blocking when a cookie came along: the session row is read)."""
    cached = getattr(request.state, "shopper", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    token = shopper_token(request)
    shopper = customers.shopper_of(request.app.state.db, token) if token else None
    request.state.shopper = shopper
    return shopper


def shopper_principal(request: Request) -> Principal | None:
    shopper = current_shopper(request)
    return shopper.principal if shopper is not None else None


def shopper_present(request: Request) -> bool:
    """Installed as `app.state.shopper_present`: a signed shopper cookie came along (no I/O)."""
    return shopper_token(request) is not None


def shopper_reader(request: Request) -> Principal | None:
    """Installed as `app.state.shopper_reader`: the signed-in shopper for the API routes that
    accept one by cookie (core.web.get_principal_or_shopper). A write needs the session's CSRF
    token in the header, so another site cannot act as the shopper."""
    from merx.web.auth.session import CSRF_HEADER, UNSAFE_METHODS, csrf_matches

    if request.method in UNSAFE_METHODS and not csrf_matches(request, request.headers.get(CSRF_HEADER, "")):
        return None
    return shopper_principal(request)


def start(request: Request, response: Response, signed: Any) -> None:
    response.set_cookie(SHOPPER_COOKIE, _serializer(request).dumps(signed.token),
                        max_age=int(customers.SESSION_LIFETIME.total_seconds()), httponly=True, samesite="lax",
                        secure=_secure(request), path="/")


def end(request: Request, response: Response) -> None:
    customers.sign_out(request.app.state.db, shopper_token(request))
    response.delete_cookie(SHOPPER_COOKIE, path="/")


def checkout_prefill(request: Request) -> dict[str, Any]:
    """The checkout form's first values for a signed-in shopper: their email and names, and
    their default shipping address (or the one picked with ?address=)."""
    from merx.core.uow import UnitOfWork

    shopper = current_shopper(request)
    if shopper is None:
        return {}
    picked = request.query_params.get("address")
    with UnitOfWork(request.app.state.db, shopper.principal, readonly=True) as uow:
        record = customers.get_customer(uow, shopper.customer_id)
        address = None
        if picked and picked.isdigit():
            try:
                address = customers.get_address(uow, shopper.customer_id, int(picked))
            except Exception:  # another shopper's or a deleted address: fall back to the default
                address = None
        address = address or customers.default_address(uow, shopper.customer_id, "shipping")
    form: dict[str, Any] = {"email": record.email or shopper.email, "first_name": record.first_name or "",
                            "last_name": record.last_name or "", "phone": record.phone or ""}
    if address is not None:
        first, _, last = address.name.partition(" ")
        form |= {"first_name": first or form["first_name"], "last_name": last or form["last_name"],
                 "line1": address.line1 + (f", {address.line2}" if address.line2 else ""), "city": address.city,
                 "postal_code": address.postal_code or "", "country": address.country,
                 "phone": address.phone or form["phone"], "address_id": address.id}
    return form
