"""Activities: calls, visits (with location), emails, notes, and tasks with due dates and
reminders. Reminders come from the scheduler (jobs.py: sales.task_reminders); rules create tasks
(a follow-up a month after an account's order, a renewal reminder, a contract risk warning)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import utcnow
from merx.core.errors import Conflict, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.sales.events import ActivityLogged, TaskCompleted, TaskReminderDue
from merx.sales.models import Account, Activity, Deal
from merx.sales.schemas import ActivityIn, ActivityOut
from merx.sales.scope import load, owner_for_new, scoped

FOLLOW_UP_DAYS = 30


def activity_out(a: Activity, now: dt.datetime | None = None) -> ActivityOut:
    now = now or utcnow()
    return ActivityOut(id=a.id, kind=a.kind, subject=a.subject, body=a.body, account_id=a.account_id,
                       deal_id=a.deal_id, contract_id=a.contract_id, location=a.location,
                       owner_user_id=a.owner_user_id, due_at=a.due_at, remind_at=a.remind_at, done_at=a.done_at,
                       rule=a.rule, overdue=bool(a.kind == "task" and a.done_at is None and a.due_at
                                                 and a.due_at < now), created_at=a.created_at)


def log_activity(uow: UnitOfWork, data: ActivityIn) -> ActivityOut:
    if data.kind == "task" and data.due_at is None:
        raise ValidationProblem.for_field("due_at", "a task needs a due date", "required")
    if data.kind == "visit" and not data.location:
        raise ValidationProblem.for_field("location", "a visit records where it took place", "required")
    if data.account_id is not None:
        load(uow, Account, data.account_id, "Account")
    account_id = data.account_id
    if data.deal_id is not None:
        deal = load(uow, Deal, data.deal_id, "Deal")
        account_id = account_id or deal.account_id
    owner = owner_for_new(uow, data.owner_user_id)
    a = Activity(kind=data.kind, subject=data.subject, body=data.body, account_id=account_id, deal_id=data.deal_id,
                 location=data.location, owner_user_id=owner, due_at=data.due_at,
                 remind_at=data.remind_at or (data.due_at if data.kind == "task" else None),
                 done_at=utcnow() if data.kind != "task" else None)
    uow.session.add(a)
    uow.session.flush()
    _logged(uow, a)
    uow.created("sales_activity", a.id)
    uow.commit()
    return activity_out(a)


def _logged(uow: UnitOfWork, a: Activity) -> None:
    uow.emit(ActivityLogged(activity_id=a.id, kind=a.kind, owner_user_id=a.owner_user_id, account_id=a.account_id,
                            deal_id=a.deal_id, due_at=a.due_at, rule=a.rule))
    uow.audit("log", "sales_activity", a.id, after={"kind": a.kind, "subject": a.subject})


def create_rule_task(uow: UnitOfWork, *, owner_user_id: int, subject: str, due_at: dt.datetime, rule: str,
                     source_ref: str, account_id: int | None = None, contract_id: int | None = None,
                     body: str | None = None) -> Activity | None:
    """A task a rule creates (no commit: the caller's transaction). `source_ref` makes it once per
    trigger: a second call for the same trigger creates nothing."""
    exists = uow.session.scalar(sa.select(Activity.id).where(Activity.source_ref == source_ref))
    if exists is not None:
        return None
    a = Activity(kind="task", subject=subject, body=body, account_id=account_id, contract_id=contract_id,
                 owner_user_id=owner_user_id, due_at=due_at, remind_at=due_at, rule=rule, source_ref=source_ref)
    try:
        with uow.savepoint():
            uow.session.add(a)
            uow.session.flush()
    except IntegrityError:  # created concurrently for the same trigger
        return None
    _logged(uow, a)
    return a


def complete_task(uow: UnitOfWork, activity_id: int) -> ActivityOut:
    a = load(uow, Activity, activity_id, "Activity", for_update=True)
    if a.kind != "task":
        raise Conflict(f"Activity {activity_id} is a {a.kind}, not a task", type_slug="not-a-task")
    if a.done_at is not None:
        raise Conflict(f"Task {activity_id} is already done", type_slug="task-done")
    a.done_at = utcnow()
    uow.emit(TaskCompleted(activity_id=a.id, owner_user_id=a.owner_user_id))
    uow.audit("complete", "sales_activity", a.id)
    uow.commit()
    return activity_out(a)


def activities_stmt(uow: UnitOfWork, *, account_id: int | None = None, deal_id: int | None = None,
                    kind: str | None = None, open_tasks: bool = False) -> sa.Select[Any]:
    stmt = scoped(uow, sa.select(Activity), Activity)
    if account_id is not None:
        stmt = stmt.where(Activity.account_id == account_id)
    if deal_id is not None:
        stmt = stmt.where(Activity.deal_id == deal_id)
    if kind:
        stmt = stmt.where(Activity.kind == kind)
    if open_tasks:
        stmt = stmt.where(Activity.kind == "task", Activity.done_at.is_(None))
    return stmt


def list_activities(uow: UnitOfWork, *, account_id: int | None = None, deal_id: int | None = None,
                    kind: str | None = None, open_tasks: bool = False, limit: int | None = None,
                    cursor: str | None = None) -> Page[ActivityOut]:
    now = utcnow()
    items, nxt = paginate(uow.session, activities_stmt(uow, account_id=account_id, deal_id=deal_id, kind=kind,
                                                       open_tasks=open_tasks),
                          Activity.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda a: activity_out(a, now), descending=True)
    return Page(items=items, next_cursor=nxt)


def overdue_by_owner(uow: UnitOfWork, now: dt.datetime | None = None) -> dict[int, int]:
    """Open tasks past their due date per owner (the caller's own, or the team's for managers)."""
    now = now or utcnow()
    stmt = scoped(uow, sa.select(Activity.owner_user_id, sa.func.count()), Activity).where(
        Activity.kind == "task", Activity.done_at.is_(None), Activity.due_at < now).group_by(Activity.owner_user_id)
    return {owner: n for owner, n in uow.session.execute(stmt)}


def next_follow_up(uow: UnitOfWork, account_id: int) -> ActivityOut | None:
    a = uow.session.scalars(sa.select(Activity).where(Activity.account_id == account_id, Activity.kind == "task",
                                                      Activity.done_at.is_(None))
                            .order_by(Activity.due_at).limit(1)).first()
    return activity_out(a) if a is not None else None


def send_due_reminders(uow: UnitOfWork, now: dt.datetime) -> int:
    """Tasks whose reminder time has come: `task.reminder_due` once each (the scheduler's job)."""
    due = uow.session.scalars(sa.select(Activity).where(Activity.kind == "task", Activity.done_at.is_(None),
                                                        Activity.remind_at <= now, Activity.reminded_at.is_(None))
                              .order_by(Activity.id).limit(1000).with_for_update()).all()
    for a in due:
        a.reminded_at = now
        uow.emit(TaskReminderDue(activity_id=a.id, owner_user_id=a.owner_user_id, due_at=a.due_at))
    uow.commit()
    return len(due)
