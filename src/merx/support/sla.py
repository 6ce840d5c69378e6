"""SLA timers: the `support.sla_check` job compares each open ticket's due times (set in
business hours when it opened, service.apply_sla) with the job's clock, and emits a warning
and then a breach event once per target. Reports of attainment per policy and team."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.db import Database
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.events import TicketSlaBreached, TicketSlaWarning
from merx.support.models import SlaPolicy, Team, Ticket

_TARGETS = (("first_response", "first_response_due_at", "first_response_warn_at", "first_responded_at"),
            ("resolution", "resolution_due_at", "resolution_warn_at", "solved_at"))


def check(db: Database, now: dt.datetime) -> dict[str, int]:
    """Warnings and breaches due at `now`; safe to run twice (flags on the ticket)."""
    counts = {"warnings": 0, "breaches": 0}
    with UnitOfWork(db) as uow:
        t = Ticket
        soon = sa.or_(t.first_response_warn_at <= now, t.resolution_warn_at <= now)
        tickets = list(uow.session.scalars(sa.select(t).where(t.status.in_(rules.OPEN_STATUSES), soon)
                                           .order_by(t.id).limit(2000)))
        for ticket in tickets:
            flags = set(ticket.sla_flags or [])
            before = set(flags)
            for target, due_attr, warn_attr, met_attr in _TARGETS:
                due, warn, met = getattr(ticket, due_attr), getattr(ticket, warn_attr), getattr(ticket, met_attr)
                if due is None or met is not None:
                    continue
                if target == "resolution" and ticket.sla_paused_at is not None:
                    continue  # waiting on the customer: the resolution clock is stopped
                fields = {"ticket_id": ticket.id, "customer_id": ticket.customer_id, "subject": ticket.subject,
                          "kind": ticket.kind, "status": ticket.status, "target": target, "due_at": due}
                if due <= now and f"{target}_breached" not in flags:
                    flags.add(f"{target}_breached")
                    uow.emit(TicketSlaBreached(**fields))
                    counts["breaches"] += 1
                elif warn is not None and warn <= now < due and f"{target}_warned" not in flags:
                    flags.add(f"{target}_warned")
                    uow.emit(TicketSlaWarning(**fields))
                    counts["warnings"] += 1
            if flags != before:
                ticket.sla_flags = sorted(flags)
        uow.commit()
    return counts


def report(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Per policy: tickets, first responses and resolutions met in time, breaches, attainment %."""
    policies = {p.id: p for p in uow.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))}
    teams = {t.id: t.name for t in uow.session.scalars(sa.select(Team))}
    rows: dict[int, dict[str, Any]] = {pid: {"policy_id": pid, "policy": p.name, "team": teams.get(p.team_id or 0),
                                             "tickets": 0, "first_response_met": 0, "first_response_breached": 0,
                                             "resolution_met": 0, "resolution_breached": 0, "open": 0}
                                       for pid, p in policies.items()}
    for t in uow.session.scalars(sa.select(Ticket).where(Ticket.sla_policy_id.is_not(None))):
        row = rows.get(t.sla_policy_id or 0)
        if row is None:
            continue
        row["tickets"] += 1
        flags = set(t.sla_flags or [])
        if t.status in rules.OPEN_STATUSES:
            row["open"] += 1
        if "first_response_breached" in flags:
            row["first_response_breached"] += 1
        elif t.first_responded_at is not None:
            row["first_response_met"] += 1
        if "resolution_breached" in flags:
            row["resolution_breached"] += 1
        elif t.solved_at is not None:
            row["resolution_met"] += 1
    for row in rows.values():
        decided = row["first_response_met"] + row["first_response_breached"]
        row["first_response_attainment"] = round(100 * row["first_response_met"] / decided, 1) if decided else None
        decided = row["resolution_met"] + row["resolution_breached"]
        row["resolution_attainment"] = round(100 * row["resolution_met"] / decided, 1) if decided else None
    return list(rows.values())
