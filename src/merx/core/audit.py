"""Reading the audit log (written by `UnitOfWork.audit`): the admin's `GET /audit-log`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

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


def audit_entries(uow: UnitOfWork, *, entity_type: str | None = None, entity_id: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page[AuditOut]:
    """One page of audit entries, oldest first, optionally of one entity type or entity."""
    stmt = sa.select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    items, nxt = paginate(uow.session, stmt, AuditEntry.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda r: AuditOut.model_validate(r, from_attributes=True))
    return Page[AuditOut](items=items, next_cursor=nxt)
