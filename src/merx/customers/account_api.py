"""Storefront account routes (`/api/v1/storefront/account/...`): sign-up, email confirmation,
sign-in, sign-out, password reset, and the shopper's address book and saved carts.

Signing in (or confirming, or resetting) answers a session token `mxs_...`: send it as
`Authorization: Bearer mxs_...`. It makes the caller a customer-role principal scoped to
their own record, so the rest of the API answers with their records only: `GET /orders`,
`GET /orders/{id}`, `GET /invoices?order_id=`, `GET /customers/{id}/consents`,
`GET /customers/{id}/export`, `POST /customers/{id}/erase` (another customer's: 404)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from merx.core.auth import Principal, Role
from merx.core.ratelimit import rate_limited
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, problem_response, require
from merx.customers import accounts, addresses
from merx.customers.schemas import (AccountEmail, AccountMailOut, AccountOut, AccountPasswordChange, AccountReset,
                                    AccountSignIn, AccountSignUp, AccountVerify, AddressIn, AddressOut, SavedCartIn,
                                    SavedCartOut, ShopperSessionOut)

router = APIRouter(prefix="/storefront/account", tags=["storefront accounts"])
SHOPPER = require(Role.customer)
_SENT = ("If {email} can open an account, a mail with a link is on its way (check the spam folder too). "
         "The link works once.")


def _session(signed: accounts.SignedIn) -> ShopperSessionOut:
    return ShopperSessionOut(token=signed.token, expires_at=signed.expires_at, account=signed.account)


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _shopper(request: Request) -> accounts.Shopper:
    shopper = accounts.shopper_of(request.app.state.db, _bearer(request))
    if shopper is None:  # require(Role.customer) passed, but with an API key rather than a session
        from merx.core.errors import Forbidden

        raise Forbidden("This needs a shopper session (Bearer mxs_...), not an API key")
    return shopper


def _locked(request: Request, exc: accounts.LockedOut) -> Response:
    return problem_response(exc, request, {"Retry-After": str(exc.retry_after)})


@router.post("/sign-up", response_model=AccountMailOut, status_code=202)
def sign_up(body: AccountSignUp, request: Request, uow: UnitOfWork = Depends(get_uow),
            _: None = Depends(rate_limited("account_mail"))) -> AccountMailOut:
    """Opens a pending account and mails a confirmation link (an email with an account gets a
    mail saying so). The answer is the same for both: it never tells who has an account."""
    accounts.sign_up(uow, body, link_base=accounts.link_base(uow.settings, str(request.base_url)))
    return AccountMailOut(detail=_SENT.format(email=body.email))


@router.post("/verify", response_model=ShopperSessionOut)
def verify(body: AccountVerify, request: Request, uow: UnitOfWork = Depends(get_uow),
           _: None = Depends(rate_limited("shopper_login"))) -> ShopperSessionOut | Response:
    """The mailed token and the sign-up password: the account is active, its guest orders are
    in its history, and the answer signs it in."""
    try:
        return _session(accounts.verify_email(uow, body.token, body.password))
    except accounts.LockedOut as e:
        return _locked(request, e)


@router.post("/verify/resend", response_model=AccountMailOut, status_code=202)
def resend(body: AccountEmail, request: Request, uow: UnitOfWork = Depends(get_uow),
           _: None = Depends(rate_limited("account_mail"))) -> AccountMailOut:
    accounts.resend_verification(uow, body.email, link_base=accounts.link_base(uow.settings, str(request.base_url)))
    return AccountMailOut(detail=_SENT.format(email=body.email))


@router.post("/sign-in", response_model=ShopperSessionOut)
def sign_in(body: AccountSignIn, request: Request, uow: UnitOfWork = Depends(get_uow),
            _: None = Depends(rate_limited("shopper_login"))) -> ShopperSessionOut | Response:
    """401 for a wrong email or password alike; 429 with Retry-After while the account is
    locked after repeated failures; 403 `email-not-verified` before the email is confirmed."""
    try:
        return _session(accounts.sign_in(uow, body.email, body.password))
    except accounts.LockedOut as e:
        return _locked(request, e)


@router.post("/sign-out", status_code=204)
def sign_out(request: Request, _: Principal = Depends(SHOPPER)) -> Response:
    _shopper(request)  # a session, not an API key
    accounts.sign_out(request.app.state.db, _bearer(request))
    return Response(status_code=204)


@router.post("/password-reset", response_model=AccountMailOut, status_code=202)
def password_reset(body: AccountEmail, request: Request, uow: UnitOfWork = Depends(get_uow),
                   _: None = Depends(rate_limited("account_mail"))) -> AccountMailOut:
    accounts.request_password_reset(uow, body.email, link_base=accounts.link_base(uow.settings, str(request.base_url)))
    return AccountMailOut(detail=_SENT.format(email=body.email).replace("can open an account", "has an account"))


@router.post("/password-reset/confirm", response_model=ShopperSessionOut)
def password_reset_confirm(body: AccountReset, uow: UnitOfWork = Depends(get_uow),
                           _: None = Depends(rate_limited("shopper_login"))) -> ShopperSessionOut:
    """A new password from the mailed token (once, within the hour): every other session ends."""
    return _session(accounts.reset_password(uow, body.token, body.password))


@router.post("/password", response_model=ShopperSessionOut)
def change_password(body: AccountPasswordChange, request: Request, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(SHOPPER)) -> ShopperSessionOut | Response:
    try:
        return _session(accounts.change_password(uow, _shopper(request).account_id, body.current_password,
                                                 body.new_password))
    except accounts.LockedOut as e:
        return _locked(request, e)


@router.get("", response_model=AccountOut)
def my_account(request: Request, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SHOPPER)) -> AccountOut:
    return accounts.get_account(uow, _shopper(request).account_id)


# -- address book -------------------------------------------------------------------------------


@router.get("/addresses", response_model=list[AddressOut])
def list_addresses(uow: UnitOfWork = Depends(get_read_uow), me: Principal = Depends(SHOPPER)) -> list[AddressOut]:
    return addresses.list_addresses(uow, me.customer_id)  # type: ignore[arg-type]


@router.post("/addresses", response_model=AddressOut, status_code=201)
def add_address(body: AddressIn, uow: UnitOfWork = Depends(get_uow), me: Principal = Depends(SHOPPER)) -> AddressOut:
    return addresses.add_address(uow, me.customer_id, body)  # type: ignore[arg-type]


@router.get("/addresses/{address_id}", response_model=AddressOut)
def get_address(address_id: int, uow: UnitOfWork = Depends(get_read_uow),
                me: Principal = Depends(SHOPPER)) -> AddressOut:
    return addresses.get_address(uow, me.customer_id, address_id)  # type: ignore[arg-type]


@router.put("/addresses/{address_id}", response_model=AddressOut)
def update_address(address_id: int, body: AddressIn, uow: UnitOfWork = Depends(get_uow),
                   me: Principal = Depends(SHOPPER)) -> AddressOut:
    return addresses.update_address(uow, me.customer_id, address_id, body)  # type: ignore[arg-type]


@router.post("/addresses/{address_id}/default-{kind}", response_model=AddressOut)
def set_default(address_id: int, kind: str, uow: UnitOfWork = Depends(get_uow),
                me: Principal = Depends(SHOPPER)) -> AddressOut:
    """`kind`: shipping or billing."""
    return addresses.set_default(uow, me.customer_id, address_id, kind)  # type: ignore[arg-type]


@router.delete("/addresses/{address_id}", status_code=204)
def delete_address(address_id: int, uow: UnitOfWork = Depends(get_uow), me: Principal = Depends(SHOPPER)) -> Response:
    addresses.delete_address(uow, me.customer_id, address_id)  # type: ignore[arg-type]
    return Response(status_code=204)


# -- saved carts --------------------------------------------------------------------------------


@router.get("/saved-carts", response_model=list[SavedCartOut])
def list_saved_carts(uow: UnitOfWork = Depends(get_read_uow), me: Principal = Depends(SHOPPER)) -> list[SavedCartOut]:
    return addresses.list_saved_carts(uow, me.customer_id)  # type: ignore[arg-type]


@router.post("/saved-carts", response_model=SavedCartOut, status_code=201)
def save_cart(body: SavedCartIn, uow: UnitOfWork = Depends(get_uow), me: Principal = Depends(SHOPPER)) -> SavedCartOut:
    return addresses.save_cart(uow, me.customer_id, body)  # type: ignore[arg-type]


@router.get("/saved-carts/{cart_id}", response_model=SavedCartOut)
def get_saved_cart(cart_id: int, uow: UnitOfWork = Depends(get_read_uow),
                   me: Principal = Depends(SHOPPER)) -> SavedCartOut:
    return addresses.get_saved_cart(uow, me.customer_id, cart_id)  # type: ignore[arg-type]


@router.delete("/saved-carts/{cart_id}", status_code=204)
def delete_saved_cart(cart_id: int, uow: UnitOfWork = Depends(get_uow), me: Principal = Depends(SHOPPER)) -> Response:
    addresses.delete_saved_cart(uow, me.customer_id, cart_id)  # type: ignore[arg-type]
    return Response(status_code=204)
