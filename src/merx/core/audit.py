"""Reading the audit log (written by `UnitOfWork.audit`): the admin's `GET /audit-log`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from merx.core.errors import ValidationProblem
from merx.core.models import AuditEntry
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor_user_id: int | None
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    request_id: str | None


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A time without an offset is read as UTC (the log stores UTC)."""
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def audit_entries(uow: UnitOfWork, *, entity_type: str | None = None, entity_id: str | None = None,
                  actor_user_id: int | None = None, action: str | None = None, since: dt.datetime | None = None,
                  until: dt.datetime | None = None, limit: int | None = None, cursor: str | None = None,
                  newest_first: bool = False) -> Page[AuditOut]:
    """One page of audit entries, oldest first (the console reads newest first), optionally of
    one entity type or entity, one user's doing, one action, and written at or after `since`
    and before `until`."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise ValidationProblem.for_field("until", "must be after since")
    stmt = sa.select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if actor_user_id is not None:
        stmt = stmt.where(AuditEntry.actor_user_id == actor_user_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    items, nxt = paginate(uow.session, stmt, AuditEntry.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda r: AuditOut.model_validate(r, from_attributes=True), descending=newest_first)
    return Page[AuditOut](items=items, next_cursor=nxt)
