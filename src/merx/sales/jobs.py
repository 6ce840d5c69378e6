"""Sales' timed work: task reminders, and the daily contract pass (risk recomputed as overdue
days grow, renewal reminders, expiry)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from merx.core.jobs import JobContext, Scheduler, daily, every
from merx.core.uow import UnitOfWork
from merx.sales import activities, contests, quotes, risk, rules
from merx.sales.events import ContractStatusChanged
from merx.sales.models import Contract


def task_reminders(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        return f"{activities.send_due_reminders(uow, ctx.now)} reminders due"


def renewals_and_expiry(uow: UnitOfWork, now: dt.datetime) -> tuple[int, int]:
    """Renewal reminder tasks `notice_days` before a live contract ends (once per end date); an
    active contract past its end date expires, or renews for the same length when it auto-renews."""
    today = now.date()
    reminded = expired = 0
    live = uow.session.scalars(sa.select(Contract).where(Contract.status.in_(("signed", "active")),
                                                         Contract.ends_on.is_not(None))).all()
    for c in live:
        renewal = rules.clause(c.clauses or [], "renewal") or {}
        notice = int(renewal.get("notice_days") or 30)
        if c.ends_on - dt.timedelta(days=notice) <= today and c.renewal_reminded_for != c.ends_on:
            activities.create_rule_task(
                uow, owner_user_id=c.owner_user_id, account_id=c.account_id, contract_id=c.id,
                subject=f"Contract {c.number} ends on {c.ends_on}: renew or close it",
                due_at=now + dt.timedelta(days=min(7, max(0, (c.ends_on - today).days))), rule="renewal_reminder",
                source_ref=f"renewal:{c.id}:{c.ends_on.isoformat()}")
            c.renewal_reminded_for = c.ends_on
            reminded += 1
        if c.status == "active" and c.ends_on < today:
            if renewal.get("auto_renew") and c.starts_on:
                length = c.ends_on - c.starts_on
                c.starts_on, c.ends_on = c.ends_on + dt.timedelta(days=1), c.ends_on + dt.timedelta(days=1) + length
                c.version += 1
            else:
                c.status = "expired"
                c.version += 1
                uow.emit(ContractStatusChanged(contract_id=c.id, number=c.number, account_id=c.account_id,
                                               owner_user_id=c.owner_user_id, from_status="active",
                                               to_status="expired"), version=c.version)
                expired += 1
    uow.commit()
    return reminded, expired


def contracts_daily(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        quotes_expired = quotes.expire_quotes(uow, ctx.now.date())
        reminded, expired = renewals_and_expiry(uow, ctx.now)  # commits the quotes' expiry too
        scored = risk.recompute_all(uow, ctx.now)
    return (f"{scored} contracts scored, {reminded} renewal reminders, {expired} contracts and {quotes_expired} "
            "quotes expired")


def contests_daily(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        return f"{contests.finalise_ended(uow, ctx.now)} contests finalised"


def register(scheduler: Scheduler) -> None:
    scheduler.add("sales.task_reminders", every(300), task_reminders,
                  description="Announce sales tasks whose reminder time came (task.reminder_due).")
    scheduler.add("sales.contracts_daily", daily("05:30"), contracts_daily,
                  description="Recompute contract risk, create renewal reminders, expire ended contracts and "
                              "quotes past their validity.")
    scheduler.add("sales.contests_daily", daily("00:15"), contests_daily,
                  description="Freeze the standings and winners of sales contests whose period is over.")
