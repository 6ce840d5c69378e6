"""Support set-up: teams (business hours, holidays, members), SLA policies, assignment
rules, canned replies and chat auto-replies."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Conflict, FieldError, Forbidden, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.models import AssignmentRule, AutoReply, CannedReply, SlaPolicy, Team
from merx.support.schemas import (AssignmentRuleIn, AutoReplyIn, CannedReplyIn, SlaPolicyIn, SlaPolicyOut, TeamIn,
                                  TeamOut)

SETUP = (Role.admin, Role.staff)


def _setup(uow: UnitOfWork) -> None:
    if uow.actor.role not in SETUP:
        raise Forbidden("Support set-up is for admins and staff")


def team_out(t: Team) -> TeamOut:
    return TeamOut(id=t.id, code=t.code, name=t.name, timezone=t.timezone, hours=t.hours or {},
                   holidays=list(t.holidays or []), members=list(t.members or []))


def create_team(uow: UnitOfWork, data: TeamIn) -> TeamOut:
    _setup(uow)
    try:
        rules.Calendar.of(data.timezone, data.hours, [d.isoformat() for d in data.holidays])
    except (ValueError, KeyError) as e:
        raise ValidationProblem.for_field("hours", str(e)) from None
    except Exception as e:  # zoneinfo's ZoneInfoNotFoundError
        raise ValidationProblem.for_field("timezone", f"unknown time zone: {e}") from None
    if uow.session.scalar(sa.select(Team.id).where(Team.code == data.code)) is not None:
        raise Conflict(f"Team {data.code} exists", type_slug="duplicate", errors=[FieldError("code", "already exists")])
    team = Team(code=data.code, name=data.name, timezone=data.timezone, hours={k: list(v) for k, v in data.hours.items()},
                holidays=sorted(d.isoformat() for d in data.holidays), members=list(data.members))
    uow.session.add(team)
    uow.session.flush()
    uow.audit("create", "support_team", team.id, after={"code": team.code})
    uow.commit()
    return team_out(team)


def list_teams(uow: UnitOfWork) -> list[TeamOut]:
    return [team_out(t) for t in uow.session.scalars(sa.select(Team).order_by(Team.id))]


def create_policy(uow: UnitOfWork, data: SlaPolicyIn) -> SlaPolicyOut:
    _setup(uow)
    if data.team_id is not None and uow.session.get(Team, data.team_id) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    if data.resolution_minutes < data.first_response_minutes:
        raise ValidationProblem.for_field("resolution_minutes", "must not be shorter than the first response target")
    p = SlaPolicy(**data.model_dump())
    uow.session.add(p)
    uow.session.flush()
    uow.audit("create", "sla_policy", p.id, after=data.model_dump(mode="json"))
    uow.created("sla_policy", p.id)
    uow.commit()
    return SlaPolicyOut.model_validate(p, from_attributes=True)


def list_policies(uow: UnitOfWork) -> list[SlaPolicyOut]:
    return [SlaPolicyOut.model_validate(p, from_attributes=True)
            for p in uow.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))]


def create_assignment_rule(uow: UnitOfWork, data: AssignmentRuleIn) -> dict[str, Any]:
    _setup(uow)
    if uow.session.get(Team, data.team_id) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    r = AssignmentRule(**data.model_dump())
    uow.session.add(r)
    uow.session.flush()
    uow.commit()
    return {"id": r.id, **data.model_dump()}


def list_assignment_rules(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"id": r.id, "position": r.position, "kind": r.kind, "language": r.language, "channel": r.channel,
             "customer_tier": r.customer_tier, "team_id": r.team_id}
            for r in uow.session.scalars(sa.select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id))]


def create_canned_reply(uow: UnitOfWork, data: CannedReplyIn) -> dict[str, Any]:
    if uow.actor.role not in (*SETUP, Role.support_agent):
        raise Forbidden("Canned replies are kept by support staff")
    if uow.session.scalar(sa.select(CannedReply.id).where(CannedReply.shortcut == data.shortcut)) is not None:
        raise Conflict(f"Shortcut /{data.shortcut} exists", type_slug="duplicate",
                       errors=[FieldError("shortcut", "already exists")])
    c = CannedReply(**data.model_dump())
    uow.session.add(c)
    uow.session.flush()
    uow.commit()
    return {"id": c.id, **data.model_dump()}


def create_auto_reply(uow: UnitOfWork, data: AutoReplyIn) -> dict[str, Any]:
    _setup(uow)
    if uow.session.scalar(sa.select(AutoReply.id).where(AutoReply.keyword == data.keyword.lower())) is not None:
        raise Conflict(f"Keyword {data.keyword!r} exists", type_slug="duplicate",
                       errors=[FieldError("keyword", "already exists")])
    if data.keyword.lower().startswith(rules.INTENT_PREFIX):
        intent = data.keyword.lower()[len(rules.INTENT_PREFIX):]
        if intent not in rules.INTENTS:
            raise ValidationProblem.for_field("keyword", f"unknown intent {intent!r}; known: "
                                              f"{', '.join(sorted(rules.INTENTS))}", "unknown_intent")
    a = AutoReply(keyword=data.keyword.lower(), reply=data.reply, active=True)
    uow.session.add(a)
    uow.session.flush()
    uow.commit()
    return {"id": a.id, "keyword": a.keyword, "reply": a.reply}


def list_auto_replies(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"id": a.id, "keyword": a.keyword, "reply": a.reply, "active": a.active}
            for a in uow.session.scalars(sa.select(AutoReply).order_by(AutoReply.id))]
