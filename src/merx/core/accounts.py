"""Use cases for users and API keys (the CLI and the API both call these)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from merx.core import sessions
from merx.core.auth import Role, generate_api_key, hash_api_key, hash_password, verify_password
from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.models import ApiKey, User
from merx.core.uow import UnitOfWork

MIN_PASSWORD_LENGTH = 8


@dataclass
class IssuedKey:
    key: str  # shown once, never stored
    api_key_id: int
    user_id: int
    role: str
    name: str


def _check_scope(role: Role, seller_id: int | None, customer_id: int | None) -> None:
    if role == Role.seller and seller_id is None:
        raise ValidationProblem.for_field("seller_id", "a seller user must name the seller it acts for")
    if role != Role.seller and seller_id is not None:
        raise ValidationProblem.for_field("seller_id", "only seller users act for a seller")
    if role == Role.customer and customer_id is None:
        raise ValidationProblem.for_field("customer_id", "a customer user must name its customer record")
    if role == Role.dealer and customer_id is None:
        raise ValidationProblem.for_field("customer_id", "a dealer user must name its dealer account's customer record")


def create_user(uow: UnitOfWork, *, name: str, role: Role, email: str | None = None, password: str | None = None,
                seller_id: int | None = None, customer_id: int | None = None) -> User:
    _check_scope(role, seller_id, customer_id)
    if email:
        email = email.strip().lower()
        if uow.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"A user with email {email} exists", type_slug="duplicate")
    user = User(name=name, role=role.value, email=email, seller_id=seller_id, customer_id=customer_id,
                password_hash=hash_password(password) if password else None)
    uow.session.add(user)
    uow.session.flush()
    uow.audit("create", "user", user.id, after={"name": name, "role": role.value, "email": email,
                                                 "seller_id": seller_id, "customer_id": customer_id})
    return user


def issue_api_key(uow: UnitOfWork, user: User, name: str) -> IssuedKey:
    key = generate_api_key()
    row = ApiKey(user_id=user.id, name=name, prefix=key[:10], key_hash=hash_api_key(key))
    uow.session.add(row)
    uow.session.flush()
    uow.audit("create", "api_key", row.id, after={"user_id": user.id, "name": name, "prefix": row.prefix})
    return IssuedKey(key=key, api_key_id=row.id, user_id=user.id, role=user.role, name=name)


def create_user_with_key(uow: UnitOfWork, *, name: str, role: Role, seller_id: int | None = None,
                         customer_id: int | None = None, email: str | None = None) -> IssuedKey:
    user = create_user(uow, name=name, role=role, seller_id=seller_id, customer_id=customer_id, email=email)
    issued = issue_api_key(uow, user, name)
    uow.commit()
    return issued


def user_id_by_email(uow: UnitOfWork, email: str) -> int:
    user_id = uow.session.scalar(sa.select(User.id).where(User.email == email.strip().lower()))
    if user_id is None:
        raise NotFound(f"No user has the email {email.strip().lower()}")
    return user_id


def user_role(uow: UnitOfWork, user_id: int) -> Role | None:
    """The role of an active user, None when there is no such active user (for contexts that
    assign records to users, e.g. a customer's sales rep)."""
    role = uow.session.scalar(sa.select(User.role).where(User.id == user_id, User.active.is_(True)))
    return Role(role) if role is not None else None


def list_users(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every user with their keys (never the key itself: only its prefix), for the console's
    users page."""
    keys: dict[int, list[dict[str, Any]]] = {}
    for k in uow.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)):
        keys.setdefault(k.user_id, []).append({
            "id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at,
            "last_used_at": k.last_used_at, "revoked_at": k.revoked_at})
    return [{"id": u.id, "name": u.name, "email": u.email, "role": u.role, "active": u.active,
             "seller_id": u.seller_id, "customer_id": u.customer_id, "created_at": u.created_at,
             "signs_in": u.password_hash is not None, "keys": keys.get(u.id, [])}
            for u in uow.session.scalars(sa.select(User).order_by(User.id))]


def set_user_active(uow: UnitOfWork, user_id: int, active: bool) -> None:
    """Deactivating signs the user out everywhere: sessions and keys stop being accepted
    (authentication checks `active`), nothing is deleted."""
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    if uow.actor.user_id == user_id and not active:
        raise Conflict("You cannot deactivate yourself", type_slug="self-deactivation")
    if not active and user.active and user.role == Role.admin.value:
        _keep_an_admin(uow, user.id)
    if user.active != active:
        uow.audit("update", "user", user.id, before={"active": user.active}, after={"active": active})
        user.active = active
    uow.commit()


# A user of these roles acts for one record (a seller, a customer, a dealer account): their role
# is fixed at creation, since it changes what the user may see, not just what they may do.
SCOPED_ROLES = frozenset({Role.seller, Role.customer, Role.dealer})


def _keep_an_admin(uow: UnitOfWork, leaving_admin_id: int) -> None:
    """409 `last-admin` unless another active admin remains once this one is demoted or
    deactivated, so the shop always has someone who can manage users."""
    stmt = sa.select(User.id).where(User.role == Role.admin.value, User.active.is_(True)).order_by(User.id)
    if uow.dialect == "postgresql":
        # two admins removing each other at once: every admin row is locked in id order (the
        # leaving one too), so one waits for the other and then sees it gone, no deadlock
        stmt = stmt.with_for_update()
    if not [i for i in uow.session.scalars(stmt) if i != leaving_admin_id]:
        raise Conflict("This is the last active admin: make another user admin first", type_slug="last-admin")


def update_user(uow: UnitOfWork, user_id: int, *, name: str | None = None, role: Role | None = None) -> dict[str, Any]:
    """Rename a user or change their role (effective on their next request: the role is read on
    every one). A scoped role is neither given nor taken here (422 `role`); the last active
    admin is not demoted (409 `last-admin`), so the shop always has someone who can manage users."""
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    before = {"name": user.name, "role": user.role}
    if role is not None and role.value != user.role:
        if role in SCOPED_ROLES or Role(user.role) in SCOPED_ROLES:
            raise ValidationProblem.for_field(
                "role", f"a {Role(user.role).value if Role(user.role) in SCOPED_ROLES else role.value} user acts for "
                        "one record and keeps that role: create a new user instead")
        if user.role == Role.admin.value and user.active:
            _keep_an_admin(uow, user.id)
        user.role = role.value
    if name is not None:
        user.name = name
    after = {"name": user.name, "role": user.role}
    if after != before:
        uow.audit("update", "user", user.id, before=before, after=after)
    uow.commit()
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role, "active": user.active,
            "seller_id": user.seller_id, "customer_id": user.customer_id}


def issue_api_key_for(uow: UnitOfWork, user_id: int, name: str) -> IssuedKey:
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"User {user_id} does not exist or is inactive")
    issued = issue_api_key(uow, user, name)
    uow.commit()
    return issued


def active_users(uow: UnitOfWork, *roles: Role) -> list[tuple[int, str]]:
    """(id, name) of the active users holding one of `roles`, by id (e.g. the reps a lead can be
    assigned to, round-robin)."""
    rows = uow.session.execute(sa.select(User.id, User.name).where(User.role.in_([r.value for r in roles]),
                                                                   User.active.is_(True)).order_by(User.id))
    return [(r.id, r.name) for r in rows]


def user_names(uow: UnitOfWork, user_ids: list[int]) -> dict[int, str]:
    """id -> name of these users (for labels on records assigned to them)."""
    if not user_ids:
        return {}
    return dict(uow.session.execute(sa.select(User.id, User.name).where(User.id.in_(set(user_ids)))).all())


def revoke_api_key(uow: UnitOfWork, api_key_id: int) -> None:
    row = uow.session.get(ApiKey, api_key_id)
    if row is None:
        raise NotFound(f"API key {api_key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        uow.audit("revoke", "api_key", row.id, before={"revoked_at": None}, after={"revoked_at": row.revoked_at.isoformat()})
    uow.commit()


# --------------------------------------------------------------------------------------------
# Console sign-in and passwords
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dummy_password_hash() -> str:
    # Verified when the email is unknown (or has no password), so that path costs one scrypt
    # like a wrong password does and its timing does not tell which emails have accounts.
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignIn:
    user_id: int | None  # None: refused
    lockout: sessions.Lockout | None = None  # set when the account is locked (now or by this failure)


def authenticate(db: Database, settings: Any, email: str, password: str) -> SignIn:
    """Check a console sign-in, counting failures per account for the lockout (see core/sessions)."""
    email = email.strip().lower()
    locked = sessions.current_lockout(db, email)
    if locked is not None:
        return SignIn(None, locked)
    with db.read_sessions() as s:
        user = s.scalar(sa.select(User).where(User.email == email)) if email else None
    stored = user.password_hash if user is not None and user.password_hash else None
    matches = verify_password(password, stored or _dummy_password_hash())
    if matches and stored is not None and user is not None and user.active:
        sessions.clear_failures(db, email)
        return SignIn(user.id)
    lockout = sessions.record_failure(db, email, after=settings.login_lockout_after,
                                      longest=dt.timedelta(minutes=settings.login_lockout_max_minutes))
    return SignIn(None, lockout)


def change_password(uow: UnitOfWork, user_id: int, new_password: str) -> int:
    """Set a user's password and end all their console sessions (a stolen cookie stops
    working with the old password). Returns how many sessions were ended."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationProblem.for_field("password", f"needs at least {MIN_PASSWORD_LENGTH} characters")
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    user.password_hash = hash_password(new_password)
    ended = sessions.end_user_sessions(uow.session, user_id)
    uow.audit("change_password", "user", user_id, after={"sessions_ended": ended})
    uow.commit()
    return ended


def reset_password(uow: UnitOfWork, user_id: int) -> str:
    """An admin resets another user's password: a random one replaces it (returned once, to be
    handed over; only its hash is stored) and the user's sessions end. Not for oneself (the
    own-password form asks for the current one) nor for a user without an email, who has no
    console sign-in to reset."""
    if uow.actor.user_id == user_id:
        raise ValidationProblem.for_field("user_id", "is you: change your own password with your current one")
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    if not user.email:
        raise ValidationProblem.for_field("email", "is missing: this user signs in with API keys only")
    new_password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
    change_password(uow, user_id, new_password)
    return new_password


def change_own_password(uow: UnitOfWork, user_id: int, current_password: str, new_password: str) -> int:
    """A signed-in user changes their password: the current one must be right."""
    user = uow.session.get(User, user_id)
    if user is None or not verify_password(current_password, user.password_hash):
        raise ValidationProblem.for_field("current_password", "is not right")
    return change_password(uow, user_id, new_password)
