"""Use cases for users and API keys (the CLI and the API both call these)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from merx.core.auth import Role, generate_api_key, hash_api_key, hash_password
from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.models import ApiKey, User
from merx.core.uow import UnitOfWork


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


def revoke_api_key(uow: UnitOfWork, api_key_id: int) -> None:
    row = uow.session.get(ApiKey, api_key_id)
    if row is None:
        raise NotFound(f"API key {api_key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        uow.audit("revoke", "api_key", row.id, before={"revoked_at": None}, after={"revoked_at": row.revoked_at.isoformat()})
    uow.commit()
