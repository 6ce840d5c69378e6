"""Who sees which sales records. A sales rep sees and changes only the records they own; staff and
admins (the sales managers) see the whole team's. A record the caller may not see is as absent
as one that does not exist (404), so ids of other reps' records leak nothing."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork

MANAGERS = (Role.admin, Role.staff)
SALES_ROLES = (Role.admin, Role.staff, Role.sales_rep)

M = TypeVar("M")


def is_manager(uow: UnitOfWork) -> bool:
    return uow.actor.role in MANAGERS


def scoped(uow: UnitOfWork, stmt: sa.Select[Any], model: Any) -> sa.Select[Any]:
    """`stmt` limited to what the caller may see."""
    role = uow.actor.role
    if role in MANAGERS:
        return stmt
    if role == Role.sales_rep:
        return stmt.where(model.owner_user_id == uow.actor.user_id)
    raise Forbidden("Only sales reps and staff work with sales records")


def load(uow: UnitOfWork, model: type[M], record_id: int, label: str, *, for_update: bool = False) -> M:
    stmt = scoped(uow, sa.select(model).where(model.id == record_id), model)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = uow.session.scalar(stmt.execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"{label} {record_id} does not exist")
    return row


def owner_for_new(uow: UnitOfWork, requested: int | None, field: str = "owner_user_id") -> int:
    """The owner of a record the caller creates: a rep owns what they create (and may not give
    it to someone else); staff name any active rep or staff member, or own it themselves."""
    from merx.core import accounts

    actor = uow.actor
    if actor.role == Role.sales_rep:
        if requested is not None and requested != actor.user_id:
            raise Forbidden(f"{field}: a sales rep creates records for themselves",
                            errors=[FieldError(field, "may only be yourself", "forbidden")])
        return actor.user_id  # type: ignore[return-value]
    if requested is None:
        if actor.user_id is None:
            raise ValidationProblem.for_field(field, "is required", "required")
        return actor.user_id
    if accounts.user_role(uow, requested) not in SALES_ROLES:
        raise ValidationProblem.for_field(field, f"user {requested} is not an active sales rep or staff member")
    return requested
