"""SLA clocks in business hours: a breach fires at the right moment with a controlled clock
(`run_due_jobs(now=)`), across a weekend and a team holiday; warnings come first; a met
target never breaches."""

from __future__ import annotations

import pytest

import datetime as dt

import sqlalchemy as sa

from merx.core.auth import SYSTEM
from merx.core.jobs import Scheduler, run_due_jobs
from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from merx.support import jobs as support_jobs
from merx.support import rules
from merx.support.admin import create_policy, create_team
from merx.support.schemas import SlaPolicyIn, TeamIn, TicketCreate
from merx.support.service import open_ticket, reply

UTC = dt.timezone.utc
WEEKDAYS = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def _events(db, event_type: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with db.read_sessions() as s:
        return [r.payload for r in s.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == event_type)
                                             .order_by(OutboxEvent.seq))]


def _setup(db) -> int:  # type: ignore[no-untyped-def]
    with UnitOfWork(db, SYSTEM) as uow:
        # Warsaw is UTC+1 in December. Monday 7 December 2026 is this team's holiday.
        team = create_team(uow, TeamIn(code="care", name="Customer care", timezone="Europe/Warsaw", hours=WEEKDAYS,
                                       holidays=[dt.date(2026, 12, 7)]))
    with UnitOfWork(db, SYSTEM) as uow:
        create_policy(uow, SlaPolicyIn(name="Complaints", kind="complaint", team_id=team.id,
                                       first_response_minutes=120, resolution_minutes=16 * 60, warn_before_minutes=30))
    return team.id


@pytest.mark.backends("sqlite", "postgresql")
def test_a_breach_fires_at_the_business_hours_deadline_across_a_weekend_and_a_holiday(db) -> None:
    team_id = _setup(db)
    opened_at = dt.datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday 16:00 in Warsaw: one open hour left
    with UnitOfWork(db, SYSTEM) as uow:
        ticket, _ = open_ticket(uow, TicketCreate(kind="complaint", subject="Broken pot", team_id=team_id,
                                                  requester_email="anna@example.pl"), now=opened_at)
        ticket_id = ticket.id
    # Worked by hand: Friday 16:00-17:00 is 60 minutes; Saturday, Sunday and the Monday holiday
    # are closed; the other 60 minutes run Tuesday 09:00-10:00 Warsaw = 08:00-09:00 UTC.
    due = dt.datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    warn = due - dt.timedelta(minutes=30)
    scheduler = Scheduler()
    support_jobs.register(scheduler)

    def tick(at: dt.datetime) -> None:
        runs = [r for r in run_due_jobs(db, scheduler, now=at) if r.name == "support.sla_check"]
        assert runs and runs[0].succeeded, runs

    tick(dt.datetime(2026, 12, 5, 12, 0, tzinfo=UTC))  # Saturday: the clock is stopped
    tick(dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC))  # the Monday holiday, 11:00 in Warsaw
    assert _events(db, "ticket.sla_warning") == [] and _events(db, "ticket.sla_breached") == []
    tick(warn - dt.timedelta(seconds=61))
    assert _events(db, "ticket.sla_warning") == []
    tick(warn)
    warnings = _events(db, "ticket.sla_warning")
    assert [(w["ticket_id"], w["target"]) for w in warnings] == [(ticket_id, "first_response")]
    assert _events(db, "ticket.sla_breached") == []
    tick(due - dt.timedelta(seconds=61))
    assert _events(db, "ticket.sla_breached") == []
    tick(due)
    breaches = _events(db, "ticket.sla_breached")
    assert [(b["ticket_id"], b["target"]) for b in breaches] == [(ticket_id, "first_response")]
    assert dt.datetime.fromisoformat(breaches[0]["due_at"]) == due
    tick(due + dt.timedelta(hours=1))
    assert len(_events(db, "ticket.sla_breached")) == 1  # once, however often the job runs
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        from merx.support.sla import report

        row = next(r for r in report(uow) if r["policy"] == "Complaints")
    assert row["first_response_breached"] == 1 and row["first_response_attainment"] == 0.0


def test_a_target_met_in_time_never_breaches(db) -> None:
    team_id = _setup(db)
    opened_at = dt.datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tuesday 09:00 Warsaw
    with UnitOfWork(db, SYSTEM) as uow:
        ticket, _ = open_ticket(uow, TicketCreate(kind="complaint", subject="Late parcel", team_id=team_id,
                                                  requester_email="olek@example.pl"), now=opened_at)
    with UnitOfWork(db, SYSTEM) as uow:
        reply(uow, ticket.id, "We are on it.", now=opened_at + dt.timedelta(minutes=45))
    scheduler = Scheduler()
    support_jobs.register(scheduler)
    run_due_jobs(db, scheduler, now=opened_at + dt.timedelta(hours=5))
    assert [b["target"] for b in _events(db, "ticket.sla_breached")] == []


def test_calendar_arithmetic_by_hand() -> None:
    cal = rules.Calendar.of("Europe/Warsaw", WEEKDAYS, ["2026-12-24", "2026-12-25"])
    wed = dt.datetime(2026, 12, 23, 15, 30, tzinfo=UTC)  # Wednesday 16:30 Warsaw
    # 30 min Wednesday, Thursday 24th and Friday 25th holidays, weekend closed, Monday 28th
    # 09:00 + 90 min = 10:30 Warsaw = 09:30 UTC
    assert cal.add(wed, 120) == dt.datetime(2026, 12, 28, 9, 30, tzinfo=UTC)
    assert cal.open_minutes(wed, dt.datetime(2026, 12, 28, 9, 30, tzinfo=UTC)) == 120
    # summer time: 09:00 Warsaw is 07:00 UTC in July
    assert cal.add(dt.datetime(2026, 7, 6, 6, 0, tzinfo=UTC), 1) == dt.datetime(2026, 7, 6, 7, 1, tzinfo=UTC)


def test_round_robin_takes_the_least_loaded_then_turns() -> None:
    assert rules.round_robin([1, 2, 3], {1: 2, 2: 0, 3: 0}, last=None) == 2
    assert rules.round_robin([1, 2, 3], {1: 2, 2: 0, 3: 0}, last=2) == 3
    assert rules.round_robin([1, 2, 3], {}, last=3) == 1
    assert rules.round_robin([], {}, last=None) is None


@pytest.mark.backends("sqlite", "postgresql")
def test_assignment_rule_and_round_robin_spread_new_tickets(db) -> None:
    from merx.support.admin import create_assignment_rule
    from merx.support.schemas import AssignmentRuleIn

    with UnitOfWork(db, SYSTEM) as uow:
        team = create_team(uow, TeamIn(code="returns", name="Returns", members=[11, 12]))
    with UnitOfWork(db, SYSTEM) as uow:
        create_assignment_rule(uow, AssignmentRuleIn(kind="return_request", team_id=team.id))
    picked = []
    for n in range(4):
        with UnitOfWork(db, SYSTEM) as uow:
            t, _ = open_ticket(uow, TicketCreate(kind="return_request", subject=f"Return {n}"))
            picked.append((t.team_id, t.assignee_id))
    assert picked == [(team.id, 11), (team.id, 12), (team.id, 11), (team.id, 12)]
    with UnitOfWork(db, SYSTEM) as uow:
        t, _ = open_ticket(uow, TicketCreate(kind="question", subject="Other"))
        assert t.team_id is None and t.assignee_id is None


def test_the_resolution_clock_stops_while_waiting_on_the_customer(db) -> None:
    from merx.support.service import add_inbound, load_ticket

    team_id = _setup(db)
    opened = dt.datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tuesday 09:00 Warsaw
    with UnitOfWork(db, SYSTEM) as uow:
        ticket, _ = open_ticket(uow, TicketCreate(kind="complaint", subject="Which pot size?", team_id=team_id,
                                                  requester_email="ola@example.pl"), now=opened)
    # 960 business minutes: Tuesday 09-17 and Wednesday 09-17 Warsaw -> Wednesday 16:00 UTC
    assert ticket.resolution_due_at == dt.datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    with UnitOfWork(db, SYSTEM) as uow:  # the agent asks back at 10:00: waiting on the customer
        reply(uow, ticket.id, "Which diameter do you need?", now=opened + dt.timedelta(hours=1))
    scheduler = Scheduler()
    support_jobs.register(scheduler)
    run_due_jobs(db, scheduler, now=dt.datetime(2026, 12, 9, 16, 0, tzinfo=UTC))  # the old deadline passes
    assert _events(db, "ticket.sla_breached") == []
    with UnitOfWork(db, SYSTEM) as uow:  # the customer answers on Thursday 09:00 Warsaw
        t = load_ticket(uow, ticket.id)
        add_inbound(uow, t, body_text="30 cm", body_html=None, message_id=None, author_email="ola@example.pl",
                    now=dt.datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
        uow.commit()
        # paused Tuesday 10-17 (420) + Wednesday (480) = 900 business minutes, added to Wednesday
        # 17:00: Thursday 09-17 (480), then 420 more on Friday -> 16:00 Warsaw = 15:00 UTC
        assert (t.status, t.sla_paused_at) == ("waiting_on_us", None)
        assert t.resolution_due_at == dt.datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    run_due_jobs(db, scheduler, now=dt.datetime(2026, 12, 11, 14, 58, tzinfo=UTC))
    assert _events(db, "ticket.sla_breached") == []
    run_due_jobs(db, scheduler, now=dt.datetime(2026, 12, 11, 15, 0, tzinfo=UTC))
    assert [b["target"] for b in _events(db, "ticket.sla_breached")] == ["resolution"]


def test_a_customer_tier_picks_its_own_policy_and_a_changed_policy_applies_to_new_tickets(db) -> None:
    from merx.support.admin import update_policy

    with UnitOfWork(db, SYSTEM) as uow:
        team = create_team(uow, TeamIn(code="vip", name="VIP desk", timezone="Europe/Warsaw", hours=WEEKDAYS))
    with UnitOfWork(db, SYSTEM) as uow:
        gold = create_policy(uow, SlaPolicyIn(name="Gold", position=10, customer_tier="gold", team_id=team.id,
                                              first_response_minutes=30, resolution_minutes=240))
    with UnitOfWork(db, SYSTEM) as uow:
        create_policy(uow, SlaPolicyIn(name="Standard", position=100, team_id=team.id, first_response_minutes=240,
                                       resolution_minutes=16 * 60))
    tuesday_10 = dt.datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw

    def opened(tier: str | None) -> object:
        with UnitOfWork(db, SYSTEM) as uow:
            t, _ = open_ticket(uow, TicketCreate(kind="question", subject=f"tier {tier}", customer_tier=tier),
                               now=tuesday_10)
            return t

    g, s = opened("gold"), opened(None)
    silver = opened("silver")  # a tier without its own policy gets the standard one
    assert (g.sla_policy_id, g.first_response_due_at) == (gold.id, dt.datetime(2026, 12, 8, 9, 30, tzinfo=UTC))
    assert s.first_response_due_at == dt.datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    assert silver.sla_policy_id == s.sla_policy_id != gold.id
    with UnitOfWork(db, SYSTEM) as uow:
        update_policy(uow, gold.id, SlaPolicyIn(name="Gold", position=10, customer_tier="gold", team_id=team.id,
                                                first_response_minutes=15, resolution_minutes=240))
    later = opened("gold")
    assert later.first_response_due_at == dt.datetime(2026, 12, 8, 9, 15, tzinfo=UTC)
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:  # the earlier gold ticket keeps its due time
        from merx.support.service import get_ticket

        assert get_ticket(uow, g.id).first_response_due_at == dt.datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
