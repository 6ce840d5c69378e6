"""Routes for the caller's identity, users and API keys, the audit log and the durable subscribers
(admin only)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from merx.core import accounts, audit, subscribers
from merx.core.auth import Principal, Role
from merx.core.schemas import Page, StrictModel
from merx.core.uow import UnitOfWork
from merx.core.validation import INT64_MAX, DbId
from merx.core.web import get_principal, get_read_uow, get_uow, require

router = APIRouter(tags=["accounts"])


class MeOut(BaseModel):
    user_id: int | None
    role: str | None
    name: str
    seller_id: int | None
    customer_id: int | None


@router.get("/me", response_model=MeOut)
def me(principal: Principal = Depends(get_principal)) -> MeOut:
    return MeOut(user_id=principal.user_id, role=principal.role.value if principal.role else None, name=principal.name,
                 seller_id=principal.seller_id, customer_id=principal.customer_id)


class UserCreate(StrictModel):
    name: str
    role: Role
    email: str | None = None
    seller_id: int | None = None
    customer_id: int | None = None


class IssuedKeyOut(BaseModel):
    key: str
    api_key_id: int
    user_id: int
    role: str
    name: str


@router.post("/api-keys", response_model=IssuedKeyOut, status_code=201)
def create_api_key(body: UserCreate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(Role.admin))) -> IssuedKeyOut:
    """Create a user with the role and return its API key (shown only here)."""
    issued = accounts.create_user_with_key(uow, name=body.name, role=body.role, seller_id=body.seller_id,
                                           customer_id=body.customer_id, email=body.email)
    return IssuedKeyOut(**issued.__dict__)


@router.delete("/api-keys/{api_key_id}", status_code=204)
def revoke_api_key(api_key_id: int, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(Role.admin))) -> None:
    accounts.revoke_api_key(uow, api_key_id)


class UserPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None


class UserOut(BaseModel):
    id: int
    name: str
    email: str | None
    role: str
    active: bool
    seller_id: int | None
    customer_id: int | None


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: DbId, body: UserPatch, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(require(Role.admin))) -> UserOut:
    """Rename a user or change their role (seller, customer and dealer users keep theirs: 422).
    409 `last-admin` when the change would leave no active admin."""
    return UserOut(**accounts.update_user(uow, user_id, name=body.name, role=body.role))


class PasswordResetOut(BaseModel):
    user_id: int
    password: str = Field(description="The new password, shown this once; only its hash is stored.")


@router.post("/users/{user_id}/password-reset", response_model=PasswordResetOut)
def reset_password(user_id: DbId, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(Role.admin))) -> PasswordResetOut:
    """Replace another user's password with a random one and end their sessions; 422 `user_id`
    for oneself, 422 `email` for a user without a console sign-in."""
    return PasswordResetOut(user_id=user_id, password=accounts.reset_password(uow, user_id))


@router.get("/audit-log", response_model=Page[audit.AuditOut])
def audit_log(entity_type: str | None = None, entity_id: str | None = None,
              actor_user_id: int | None = Query(None, ge=1, le=INT64_MAX, description="Only what this user did."),
              action: str | None = Query(None, min_length=1, max_length=64,
                                         description="Only this action, e.g. `create`, `update`, `delete`."),
              since: dt.datetime | None = Query(None, description="Written at or after (ISO 8601; no offset: UTC)."),
              until: dt.datetime | None = Query(None, description="Written before (ISO 8601; no offset: UTC)."),
              limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(require(Role.admin))) -> Page[audit.AuditOut]:
    """Who changed what, oldest first; the filters combine (all must hold)."""
    return audit.audit_entries(uow, entity_type=entity_type, entity_id=entity_id, actor_user_id=actor_user_id,
                               action=action, since=since, until=until, limit=limit, cursor=cursor)


# -- durable subscribers (core/subscribers.py) -------------------------------------------------------
class DeadLetterOut(BaseModel):
    id: int
    subscriber: str
    event_id: str
    event_seq: int
    event_type: str
    error: str
    attempts: int
    status: str
    created_at: dt.datetime
    last_tried_at: dt.datetime
    resolved_at: dt.datetime | None


class SubscriberOut(BaseModel):
    name: str
    event_types: list[str]
    registered: bool
    last_seq: int | None
    lag: int | None
    attempts: int
    retry_at: dt.datetime | None
    last_error: str | None
    dead_letters: int
    updated_at: dt.datetime | None


class SubscribersOut(BaseModel):
    subscribers: list[SubscriberOut]
    dead_letters: list[DeadLetterOut]


@router.get("/subscribers", response_model=SubscribersOut, tags=["ops"])
def list_subscribers(uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(Role.admin))) -> SubscribersOut:
    """Durable subscribers (the reactions fed from the outbox): cursor, lag, failing event, and
    the dead letters waiting for a retry."""
    return SubscribersOut(
        subscribers=[SubscriberOut(**row) for row in subscribers.subscriber_status(uow)],
        dead_letters=[DeadLetterOut.model_validate(d, from_attributes=True) for d in subscribers.dead_letters(uow)])


@router.post("/subscribers/dead-letters/{letter_id}/retry", response_model=DeadLetterOut, tags=["ops"])
def retry_dead_letter(letter_id: int, request: Request,
                      principal: Principal = Depends(require(Role.admin))) -> DeadLetterOut:
    """Run a parked event through its subscriber again: `status` is `retried` when it went
    through, still `dead` (with the new error and attempt) when it failed again."""
    letter = subscribers.retry_dead_letter(request.app.state.db, letter_id, actor=principal)
    return DeadLetterOut.model_validate(letter, from_attributes=True)


class DiscardIn(StrictModel):
    reason: str | None = Field(None, max_length=500)


@router.post("/subscribers/dead-letters/{letter_id}/discard", response_model=DeadLetterOut, tags=["ops"])
def discard_dead_letter(letter_id: DbId, body: DiscardIn | None = None, uow: UnitOfWork = Depends(get_uow),
                        _: Principal = Depends(require(Role.admin))) -> DeadLetterOut:
    """Give up on a parked event (it will not be retried): `status` becomes `discarded`; the
    audit log keeps who did it and the `reason`. 409 when the letter was already retried or
    discarded."""
    letter = subscribers.discard_dead_letter(uow, letter_id, body.reason if body else None)
    return DeadLetterOut.model_validate(letter, from_attributes=True)
