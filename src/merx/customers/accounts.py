"""Shopper accounts on the storefront: sign-up, email verification, sign-in with a lockout,
sessions, password reset by email.

Who owns what. The account belongs to the customer record: it is attached to the record
with its email when that email is verified, so the record's earlier guest orders (checkout
links a guest's order to the record with the order's email) become the account's at that
moment and not before: someone who signs up with another person's email sees nothing. A
pending account cannot sign in. Verifying needs the emailed link *and* the password chosen
at sign-up, so a link in the mailbox of someone who never signed up activates nothing; a new
sign-up for a still-pending email replaces the password and voids the earlier links.

Tokens in mails are signed (itsdangerous, the app's secret key, with its fallbacks) around
a random nonce; only the nonce's SHA-256 is stored, with its purpose and expiry, and it is
used once (a conditional UPDATE, so two clicks racing cannot both win). Tokens never enter an
event, the audit log or the outbox; mail goes out through `core.mail` after the commit.

Sessions are rows too (`customer_account_sessions`, SHA-256 of the token): the storefront
cookie and the API bearer (`mxs_...`) carry the same kind of token. Sign-out, a password
reset and erasure end them. Failed sign-ins count in core's per-account lockout
(`core.sessions`), under a key of their own so a shopper and a staff user with one email do
not share a count."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from merx.core import sessions as core_sessions
from merx.core.auth import Principal, Role, hash_password, verify_password
from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, NotFound, Problem, ValidationProblem
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork
from merx.customers import account_mail
from merx.customers.events import CustomerAccountVerified
from merx.customers.models import Customer, CustomerAccount, CustomerAccountSession, CustomerAccountToken
from merx.customers.rules import check_password, normalize_email
from merx.customers.schemas import AccountOut, AccountSignUp, CustomerCreate

log = logging.getLogger("merx.customers.accounts")

VERIFY_TTL = dt.timedelta(hours=48)
RESET_TTL = dt.timedelta(hours=1)
SESSION_LIFETIME = dt.timedelta(days=30)
SESSION_IDLE = dt.timedelta(days=14)
SESSION_PREFIX = "mxs_"
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=5)
# A hash to check against when the email has no account, so an unknown email costs the same
# scrypt work as a known one (the answer time tells nothing).
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class LockedOut(Problem):
    status = 429
    type_slug = "locked-out"
    title = "Too many failed sign-ins"

    def __init__(self, retry_after: int) -> None:
        minutes = -(-retry_after // 60)
        super().__init__(f"Too many failed sign-ins for this account. Try again in {minutes} minute"
                         f"{'s' if minutes != 1 else ''}.", extra={"retry_after": retry_after})
        self.retry_after = retry_after


class WrongCredentials(Problem):
    status = 401
    type_slug = "wrong-credentials"
    title = "Sign-in failed"


class NotVerified(Problem):
    status = 403
    type_slug = "email-not-verified"
    title = "Email not verified"


@dataclass(frozen=True)
class Shopper:
    """A signed-in shopper, as a session resolves."""

    account_id: int
    customer_id: int
    email: str
    name: str | None

    @property
    def principal(self) -> Principal:
        # A customer-role caller scoped to its record: orders, invoices, CRM consents and
        # exports already answer such a caller with its own records only (404 otherwise).
        return Principal(user_id=None, role=Role.customer, name=self.email, customer_id=self.customer_id)


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: dt.datetime
    account: AccountOut


def link_base(settings: Settings, request_base_url: str) -> str:
    """Where links in account mails point: MERX_PUBLIC_URL, else the request's own address."""
    return (settings.public_url or request_base_url).rstrip("/")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _out(account: CustomerAccount) -> AccountOut:
    return AccountOut.model_validate(account, from_attributes=True)


def _lock_key(email: str) -> str:
    return "shopper:" + email


def _lockout_args(settings: Settings) -> dict[str, object]:
    return {"after": settings.login_lockout_after,
            "longest": dt.timedelta(minutes=settings.login_lockout_max_minutes)}


# --------------------------------------------------------------------------------------------
# One-time mail tokens
# --------------------------------------------------------------------------------------------


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and accepts any: current last, fallbacks before it.
    return URLSafeTimedSerializer(list(reversed(settings.verification_secrets())),
                                  salt=f"merx.customer-account.{purpose}")


def _issue(uow: UnitOfWork, account: CustomerAccount, purpose: str, ttl: dt.timedelta) -> str:
    """A new link token; earlier unused ones of the same purpose stop working (only the
    latest mail's link counts)."""
    now = utcnow()
    uow.session.execute(sa.update(CustomerAccountToken).where(
        CustomerAccountToken.account_id == account.id, CustomerAccountToken.purpose == purpose,
        CustomerAccountToken.used_at.is_(None)).values(used_at=now))
    nonce = secrets.token_urlsafe(32)
    uow.session.add(CustomerAccountToken(account_id=account.id, purpose=purpose, token_hash=_digest(nonce),
                                         expires_at=now + ttl, created_at=now))
    return _serializer(uow.settings, purpose).dumps(nonce)


def _peek(uow: UnitOfWork, token: str, purpose: str, ttl: dt.timedelta) -> CustomerAccountToken:
    """The live token row, or a 422 naming `token` (unknown, expired, already used)."""
    try:
        nonce = _serializer(uow.settings, purpose).loads(token, max_age=int(ttl.total_seconds()))
    except SignatureExpired:
        raise ValidationProblem.for_field("token", "this link has expired; ask for a new one", "token_expired") from None
    except BadSignature:
        raise ValidationProblem.for_field("token", "this link is not valid", "token_invalid") from None
    row = uow.session.scalar(sa.select(CustomerAccountToken).where(
        CustomerAccountToken.token_hash == _digest(str(nonce)), CustomerAccountToken.purpose == purpose))
    if row is None:
        raise ValidationProblem.for_field("token", "this link is not valid", "token_invalid")
    if row.used_at is not None:
        raise ValidationProblem.for_field("token", "this link was already used or replaced by a newer one",
                                          "token_used")
    if row.expires_at <= utcnow():
        raise ValidationProblem.for_field("token", "this link has expired; ask for a new one", "token_expired")
    return row


def _consume(uow: UnitOfWork, row: CustomerAccountToken) -> None:
    done = uow.session.execute(sa.update(CustomerAccountToken).where(
        CustomerAccountToken.id == row.id, CustomerAccountToken.used_at.is_(None)).values(used_at=utcnow()))
    if done.rowcount != 1:  # a second click racing this one got there first
        raise ValidationProblem.for_field("token", "this link was already used", "token_used")


def check_token(uow: UnitOfWork, token: str, purpose: str) -> str:
    """The email a live link is for (to show on the page it opens); 422 otherwise."""
    row = _peek(uow, token, purpose, VERIFY_TTL if purpose == "verify" else RESET_TTL)
    return uow.session.get(CustomerAccount, row.account_id).email  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# Sign-up and verification
# --------------------------------------------------------------------------------------------


def _account_by_email(uow: UnitOfWork, email: str, *, lock: bool = False) -> CustomerAccount | None:
    stmt = sa.select(CustomerAccount).where(CustomerAccount.email == email)
    if lock:
        stmt = stmt.with_for_update()
    return uow.session.scalar(stmt)


def sign_up(uow: UnitOfWork, data: AccountSignUp, *, link_base: str) -> bool:
    """Open (or re-open) a pending account and mail the verification link. An email that
    already has an active account gets a "you already have an account" mail with a reset
    link instead, and nothing changes; the caller's answer is the same either way. Returns
    whether the mail was handed to a mail server."""
    email = normalize_email(data.email)
    check_password(data.password, email)
    if data.locale and data.locale not in uow.settings.locales:
        raise ValidationProblem.for_field("locale", f"{data.locale!r} is not a supported locale")
    hashed = hash_password(data.password)  # before the lookup: every branch costs the same
    account = _account_by_email(uow, email, lock=True)
    now = utcnow()
    if account is not None and account.status == "active":
        token = _issue(uow, account, "reset", RESET_TTL)
        uow.audit("sign_up_existing", "customer_account", account.id)
        uow.commit()
        return account_mail.send_already_registered(uow.settings, email, f"{link_base}/account/reset?token={token}")
    if account is None:
        account = CustomerAccount(email=email, status="pending", created_at=now)
        uow.session.add(account)
    account.password_hash = hashed  # a new sign-up for a pending email: the latest password counts
    account.first_name, account.last_name, account.locale = data.first_name, data.last_name, data.locale
    account.updated_at = now
    uow.session.flush()
    token = _issue(uow, account, "verify", VERIFY_TTL)
    uow.audit("sign_up", "customer_account", account.id)
    uow.commit()
    return account_mail.send_verification(uow.settings, email, f"{link_base}/account/verify?token={token}")


def resend_verification(uow: UnitOfWork, email: str, *, link_base: str) -> bool:
    """A fresh verification link for a pending account (nothing for any other email)."""
    try:
        email = normalize_email(email)
    except ValidationProblem:
        return False
    account = _account_by_email(uow, email, lock=True)
    if account is None or account.status != "pending":
        return False
    token = _issue(uow, account, "verify", VERIFY_TTL)
    uow.commit()
    return account_mail.send_verification(uow.settings, email, f"{link_base}/account/verify?token={token}")


def _attach_customer(uow: UnitOfWork, account: CustomerAccount) -> tuple[int, bool]:
    """The customer record this verified email belongs to (a guest's included; a merged one
    leads to its survivor), or a new one."""
    from merx.customers import service

    customer = uow.session.scalar(sa.select(Customer).where(Customer.email == account.email,
                                                            Customer.erased_at.is_(None)))
    seen = 0
    while customer is not None and customer.merged_into_id is not None and seen < 10:
        customer, seen = uow.session.get(Customer, customer.merged_into_id), seen + 1
    if customer is None:
        created = service.create_customer(uow, CustomerCreate(email=account.email, first_name=account.first_name,
                                                              last_name=account.last_name, locale=account.locale),
                                          commit=False)
        return created.id, True
    taken = uow.session.scalar(sa.select(CustomerAccount.id).where(CustomerAccount.customer_id == customer.id,
                                                                   CustomerAccount.id != account.id))
    if taken is not None:
        raise Conflict("This customer record already has a storefront account; sign in with it or reset its "
                       "password.", type_slug="account-exists")
    changed = []
    if customer.is_guest:
        customer.is_guest = False
        changed.append("is_guest")
    for key in ("first_name", "last_name", "locale"):
        if getattr(customer, key) is None and getattr(account, key):
            setattr(customer, key, getattr(account, key))
            changed.append(key)
    if changed:
        from merx.customers.events import CustomerUpdated

        customer.version += 1
        customer.updated_at = utcnow()
        uow.audit("update", "customer", customer.id, after={k: getattr(customer, k) for k in changed})
        uow.emit(CustomerUpdated(customer_id=customer.id, changes=sorted(changed)), version=customer.version)
    return customer.id, False


def _activate(uow: UnitOfWork, account: CustomerAccount) -> None:
    customer_id, created = _attach_customer(uow, account)
    now = utcnow()
    account.customer_id = customer_id
    account.status = "active"
    account.email_verified_at = now
    account.updated_at = now
    uow.audit("verify_email", "customer_account", account.id, after={"customer_id": customer_id})
    uow.emit(CustomerAccountVerified(customer_id=customer_id, account_id=account.id, created_record=created))


def verify_email(uow: UnitOfWork, token: str, password: str) -> SignedIn:
    """Activate the account the link is for, given the sign-up password; signs it in. A wrong
    password counts as a failed sign-in and leaves the link usable."""
    row = _peek(uow, token, "verify", VERIFY_TTL)
    account = uow.session.get(CustomerAccount, row.account_id, with_for_update=True)
    assert account is not None  # the token row cascades with its account
    _check_lockout(uow.db, uow.settings, account.email)
    if not verify_password(password, account.password_hash):
        email = account.email
        uow.rollback()  # the count is its own short write (SQLite has one writer at a time)
        _failed(uow.db, uow.settings, email)
        raise ValidationProblem.for_field("password", "is not the password chosen at sign-up", "wrong_password")
    _consume(uow, row)
    if account.status == "pending":
        _activate(uow, account)
    signed = _signed_in(uow, account)
    core_sessions.clear_failures(uow.db, _lock_key(signed.account.email))
    return signed


# --------------------------------------------------------------------------------------------
# Sign-in, sessions
# --------------------------------------------------------------------------------------------


def _check_lockout(db: Database, settings: Settings, email: str) -> None:
    lock = core_sessions.current_lockout(db, _lock_key(email))
    if lock is not None:
        raise LockedOut(lock.retry_after_seconds())


def _failed(db: Database, settings: Settings, email: str) -> None:
    lock = core_sessions.record_failure(db, _lock_key(email), **_lockout_args(settings))  # type: ignore[arg-type]
    if lock is not None:
        raise LockedOut(lock.retry_after_seconds())


def sign_in(uow: UnitOfWork, email: str, password: str) -> SignedIn:
    """401 for an unknown email and a wrong password alike (the same scrypt work for both);
    429 while the account is locked; 403 `email-not-verified` only to whoever knows the
    password of a pending account."""
    try:
        email = normalize_email(email)
    except ValidationProblem:
        raise WrongCredentials("The email or password is not right.") from None
    _check_lockout(uow.db, uow.settings, email)
    account = _account_by_email(uow, email)
    if not verify_password(password, account.password_hash if account is not None else _DUMMY_HASH) or account is None:
        uow.rollback()  # the count is its own short write (SQLite has one writer at a time)
        _failed(uow.db, uow.settings, email)
        raise WrongCredentials("The email or password is not right.")
    if account.status != "active":
        raise NotVerified("Confirm your email first: open the link we sent you (we can send a new one).")
    signed = _signed_in(uow, account)
    core_sessions.clear_failures(uow.db, _lock_key(email))
    return signed


def _signed_in(uow: UnitOfWork, account: CustomerAccount) -> SignedIn:
    now = utcnow()
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    # Ended sessions are dropped here: a row is only needed while it is live.
    uow.session.execute(sa.delete(CustomerAccountSession).where(
        CustomerAccountSession.account_id == account.id,
        sa.or_(CustomerAccountSession.revoked_at.is_not(None), CustomerAccountSession.expires_at <= now)))
    expires = now + SESSION_LIFETIME
    uow.session.add(CustomerAccountSession(account_id=account.id, token_hash=_digest(token), created_at=now,
                                           last_seen_at=now, expires_at=expires))
    account.last_sign_in_at = now
    uow.audit("sign_in", "customer_account", account.id)
    uow.commit()
    return SignedIn(token=token, expires_at=expires, account=_out(account))


def shopper_of(db: Database, token: str | None) -> Shopper | None:
    """The shopper a session token signs in, or None (unknown, ended, expired, idle, or the
    customer erased). Notes the visit for the idle timeout, at most every few minutes."""
    if not token or not token.startswith(SESSION_PREFIX):
        return None
    now = utcnow()
    with db.read_sessions() as s:
        row = s.execute(
            sa.select(CustomerAccountSession.id, CustomerAccountSession.last_seen_at,
                      CustomerAccountSession.expires_at, CustomerAccount.id.label("account_id"),
                      CustomerAccount.customer_id, CustomerAccount.email, CustomerAccount.first_name,
                      Customer.merged_into_id, Customer.erased_at)
            .join(CustomerAccount, CustomerAccount.id == CustomerAccountSession.account_id)
            .join(Customer, Customer.id == CustomerAccount.customer_id)
            .where(CustomerAccountSession.token_hash == _digest(token), CustomerAccountSession.revoked_at.is_(None),
                   CustomerAccount.status == "active")).first()
    if row is None or row.erased_at is not None or row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        with db.write_sessions() as s:
            s.execute(sa.update(CustomerAccountSession).where(CustomerAccountSession.id == row.id)
                      .values(last_seen_at=now))
            s.commit()
    # A profile merged into another by staff is the same person: act as the survivor.
    customer_id = row.merged_into_id or row.customer_id
    return Shopper(account_id=row.account_id, customer_id=customer_id, email=row.email, name=row.first_name)


def principal_for_bearer(db: Database, token: str) -> Principal | None:
    """The hook core's bearer resolution calls for `mxs_` tokens (customers/hooks.py)."""
    shopper = shopper_of(db, token)
    return shopper.principal if shopper is not None else None


def sign_out(db: Database, token: str | None) -> None:
    if not token:
        return
    with db.write_sessions() as s:
        s.execute(sa.update(CustomerAccountSession).where(CustomerAccountSession.token_hash == _digest(token),
                                                          CustomerAccountSession.revoked_at.is_(None))
                  .values(revoked_at=utcnow()))
        s.commit()


def _end_sessions(uow: UnitOfWork, account_id: int) -> int:
    return uow.session.execute(sa.update(CustomerAccountSession).where(
        CustomerAccountSession.account_id == account_id, CustomerAccountSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount or 0


# --------------------------------------------------------------------------------------------
# Password reset and change
# --------------------------------------------------------------------------------------------


def request_password_reset(uow: UnitOfWork, email: str, *, link_base: str) -> bool:
    """Mail a reset link when the email has an account; nothing otherwise (same answer)."""
    try:
        email = normalize_email(email)
    except ValidationProblem:
        return False
    account = _account_by_email(uow, email, lock=True)
    if account is None:
        return False
    token = _issue(uow, account, "reset", RESET_TTL)
    uow.audit("password_reset_requested", "customer_account", account.id)
    uow.commit()
    return account_mail.send_reset(uow.settings, email, f"{link_base}/account/reset?token={token}")


def reset_password(uow: UnitOfWork, token: str, new_password: str) -> SignedIn:
    """Set a new password from a reset link: every other session ends, the lockout clears,
    and a still-pending account is verified (the link proved the mailbox). Signs in."""
    row = _peek(uow, token, "reset", RESET_TTL)
    account = uow.session.get(CustomerAccount, row.account_id, with_for_update=True)
    assert account is not None
    check_password(new_password, account.email, field="password")
    _consume(uow, row)
    now = utcnow()
    account.password_hash = hash_password(new_password)
    account.password_changed_at = account.updated_at = now
    ended = _end_sessions(uow, account.id)
    uow.session.execute(sa.update(CustomerAccountToken).where(  # older links of any kind stop working
        CustomerAccountToken.account_id == account.id, CustomerAccountToken.used_at.is_(None)).values(used_at=now))
    if account.status == "pending":
        _activate(uow, account)
    uow.audit("password_reset", "customer_account", account.id, after={"sessions_ended": ended})
    signed = _signed_in(uow, account)
    core_sessions.clear_failures(uow.db, _lock_key(signed.account.email))
    return signed


def change_password(uow: UnitOfWork, account_id: int, current: str, new: str) -> SignedIn:
    """From "My account": the current password, then every session ends and this one is renewed."""
    account = uow.session.get(CustomerAccount, account_id, with_for_update=True)
    if account is None:
        raise NotFound("Account does not exist")
    if not verify_password(current, account.password_hash):
        email = account.email
        uow.rollback()
        _failed(uow.db, uow.settings, email)
        raise ValidationProblem.for_field("current_password", "is not right", "wrong_password")
    check_password(new, account.email, field="new_password")
    account.password_hash = hash_password(new)
    account.password_changed_at = account.updated_at = utcnow()
    _end_sessions(uow, account.id)
    uow.audit("password_change", "customer_account", account.id)
    return _signed_in(uow, account)


def confirm_password(uow: UnitOfWork, account_id: int, password: str) -> None:
    """A signed-in shopper re-enters the password before something that cannot be undone
    (erasure). A wrong one counts toward the lockout; 422 naming `password`."""
    account = uow.session.get(CustomerAccount, account_id)
    if account is None:
        raise NotFound("Account does not exist")
    email = account.email
    _check_lockout(uow.db, uow.settings, email)
    if not verify_password(password, account.password_hash):
        uow.rollback()
        _failed(uow.db, uow.settings, email)
        raise ValidationProblem.for_field("password", "is not right", "wrong_password")


def get_account(uow: UnitOfWork, account_id: int) -> AccountOut:
    account = uow.session.get(CustomerAccount, account_id)
    if account is None:
        raise NotFound("Account does not exist")
    return _out(account)


def account_for_customer(uow: UnitOfWork, customer_id: int) -> AccountOut | None:
    account = uow.session.scalar(sa.select(CustomerAccount).where(CustomerAccount.customer_id == customer_id))
    return _out(account) if account is not None else None


def create_verified_account(uow: UnitOfWork, customer_id: int, password: str) -> AccountOut:
    """An active account for an existing customer record whose email is known good (the demo's
    shoppers; staff importing accounts). Does not commit."""
    customer = uow.session.get(Customer, customer_id)
    if customer is None or customer.email is None or customer.erased_at is not None:
        raise NotFound("Customer does not exist or has no email")
    check_password(password, customer.email)
    now = utcnow()
    if customer.is_guest:  # a guest's record becomes an account holder's
        from merx.customers.events import CustomerUpdated

        customer.is_guest = False
        customer.version += 1
        customer.updated_at = now
        uow.emit(CustomerUpdated(customer_id=customer.id, changes=["is_guest"]), version=customer.version)
    account = CustomerAccount(email=customer.email, customer_id=customer.id, password_hash=hash_password(password),
                              status="active", first_name=customer.first_name, last_name=customer.last_name,
                              locale=customer.locale, email_verified_at=now, created_at=now, updated_at=now)
    uow.session.add(account)
    uow.session.flush()
    uow.audit("create", "customer_account", account.id, after={"customer_id": customer.id})
    uow.emit(CustomerAccountVerified(customer_id=customer.id, account_id=account.id, created_record=False))
    return _out(account)
