"""The support API's lists, paged like every other list ({"items", "next_cursor"}, `limit`
and `cursor`; core/pagination.py): chats newest first, follow-up tasks and the set-up
(teams, SLA policies, assignment rules, canned and auto replies, surveys) by id. The set-up
is small reference data read whole, so it is sliced (`page_list`); an SLA policy's or a
rule's `position`, not the listing order, says which applies first."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa

from merx.core.errors import Forbidden
from merx.core.pagination import check_limit, page_list, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.support import admin, chat, feedback
from merx.support.models import Chat, FollowUpTask

T = TypeVar("T")
DEFAULT, MAXIMUM = 50, 200


def _sliced(items: Sequence[T], key: Callable[[T], int], limit: int | None, cursor: str | None) -> Page[T]:
    ordered = sorted(items, key=key)
    page, nxt = page_list(ordered, key, limit=check_limit(limit, DEFAULT, MAXIMUM), cursor=cursor)
    return Page(items=page, next_cursor=nxt)


def _id(item: Any) -> int:
    return int(item["id"] if isinstance(item, dict) else item.id)


def chats_page(uow: UnitOfWork, *, status: str | None = "open", limit: int | None = None,
               cursor: str | None = None) -> Page[Any]:
    if uow.actor.role not in chat.AGENTS:
        raise Forbidden("The chat inbox is for support staff")
    stmt = sa.select(Chat)
    if status:
        stmt = stmt.where(Chat.status == status)
    items, nxt = paginate(uow.session, stmt, Chat.id, limit=check_limit(limit, DEFAULT, MAXIMUM), cursor=cursor,
                          convert=chat.chat_out, descending=True)
    return Page(items=items, next_cursor=nxt)


def tasks_page(uow: UnitOfWork, *, due_by: dt.datetime | None = None, status: str | None = "open",
               limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    stmt = sa.select(FollowUpTask)
    if status:
        stmt = stmt.where(FollowUpTask.status == status)
    if due_by is not None:
        stmt = stmt.where(FollowUpTask.due_at <= due_by)
    items, nxt = paginate(uow.session, stmt, FollowUpTask.id, limit=check_limit(limit, DEFAULT, MAXIMUM),
                          cursor=cursor, convert=feedback.task_out)
    return Page(items=items, next_cursor=nxt)


def teams_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(admin.list_teams(uow), _id, limit, cursor)


def policies_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(admin.list_policies(uow), _id, limit, cursor)


def rules_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(admin.list_assignment_rules(uow), _id, limit, cursor)


def canned_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(admin.list_canned_replies(uow), _id, limit, cursor)


def auto_replies_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(admin.list_auto_replies(uow), _id, limit, cursor)


def surveys_page(uow: UnitOfWork, limit: int | None = None, cursor: str | None = None) -> Page[Any]:
    return _sliced(feedback.list_surveys(uow), _id, limit, cursor)
