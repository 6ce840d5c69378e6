"""Support set-up: teams (business hours, holidays, members), SLA policies, assignment
rules, canned replies and chat auto-replies. Each is created and changed (a full
replacement, checked like a new one) by admins and staff; canned replies also by agents."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.models import AssignmentRule, AutoReply, CannedReply, SlaPolicy, Team
from merx.support.schemas import (AssignmentRuleIn, AutoReplyIn, CannedReplyIn, SlaPolicyIn, SlaPolicyOut, TeamIn,
                                  TeamOut)

SETUP = (Role.admin, Role.staff)


def _setup(uow: UnitOfWork) -> None:
    if uow.actor.role not in SETUP:
        raise Forbidden("Support set-up is for admins and staff")


def _found(uow: UnitOfWork, model: Any, item_id: int, what: str) -> Any:
    row = uow.session.get(model, item_id)
    if row is None:
        raise NotFound(f"No {what} {item_id}")
    return row


def team_out(t: Team) -> TeamOut:
    return TeamOut(id=t.id, code=t.code, name=t.name, timezone=t.timezone, hours=t.hours or {},
                   holidays=list(t.holidays or []), members=list(t.members or []))


def _check_team(uow: UnitOfWork, data: TeamIn, team_id: int | None) -> None:
    try:
        rules.Calendar.of(data.timezone, data.hours, [d.isoformat() for d in data.holidays])
    except ZoneInfoNotFoundError:  # a KeyError too: caught first, so it is not blamed on the hours
        raise ValidationProblem.for_field("timezone", f"unknown time zone {data.timezone!r}") from None
    except (ValueError, KeyError) as e:
        raise ValidationProblem.for_field("hours", str(e)) from None
    other = uow.session.scalar(sa.select(Team.id).where(Team.code == data.code))
    if other is not None and other != team_id:
        raise Conflict(f"Team {data.code} exists", type_slug="duplicate", errors=[FieldError("code", "already exists")])


def _fill_team(team: Team, data: TeamIn) -> None:
    team.code, team.name, team.timezone = data.code, data.name, data.timezone
    team.hours = {k: list(v) for k, v in data.hours.items()}
    team.holidays = sorted(d.isoformat() for d in data.holidays)
    team.members = list(data.members)


def create_team(uow: UnitOfWork, data: TeamIn) -> TeamOut:
    _setup(uow)
    _check_team(uow, data, None)
    team = Team()
    _fill_team(team, data)
    uow.session.add(team)
    uow.session.flush()
    uow.audit("create", "support_team", team.id, after={"code": team.code})
    uow.commit()
    return team_out(team)


def update_team(uow: UnitOfWork, team_id: int, data: TeamIn) -> TeamOut:
    _setup(uow)
    team = _found(uow, Team, team_id, "team")
    _check_team(uow, data, team_id)
    before = team_out(team).model_dump(mode="json")
    _fill_team(team, data)
    if team.round_robin_last not in team.members:
        team.round_robin_last = None
    uow.session.flush()
    uow.audit("update", "support_team", team.id, before=before, after=data.model_dump(mode="json"))
    uow.commit()
    return team_out(team)


def get_team(uow: UnitOfWork, team_id: int) -> TeamOut:
    return team_out(_found(uow, Team, team_id, "team"))


def list_teams(uow: UnitOfWork) -> list[TeamOut]:
    return [team_out(t) for t in uow.session.scalars(sa.select(Team).order_by(Team.id))]


def _check_policy(uow: UnitOfWork, data: SlaPolicyIn) -> None:
    if data.team_id is not None and uow.session.get(Team, data.team_id) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    if data.resolution_minutes < data.first_response_minutes:
        raise ValidationProblem.for_field("resolution_minutes", "must not be shorter than the first response target")


def create_policy(uow: UnitOfWork, data: SlaPolicyIn) -> SlaPolicyOut:
    _setup(uow)
    _check_policy(uow, data)
    p = SlaPolicy(**data.model_dump())
    uow.session.add(p)
    uow.session.flush()
    uow.audit("create", "sla_policy", p.id, after=data.model_dump(mode="json"))
    uow.created("sla_policy", p.id)
    uow.commit()
    return SlaPolicyOut.model_validate(p, from_attributes=True)


def update_policy(uow: UnitOfWork, policy_id: int, data: SlaPolicyIn) -> SlaPolicyOut:
    """Changes the policy for tickets opened from now on; open tickets keep the due times
    they were given."""
    _setup(uow)
    p = _found(uow, SlaPolicy, policy_id, "SLA policy")
    _check_policy(uow, data)
    before = SlaPolicyOut.model_validate(p, from_attributes=True).model_dump(mode="json")
    for name, value in data.model_dump().items():
        setattr(p, name, value)
    uow.session.flush()
    uow.audit("update", "sla_policy", p.id, before=before, after=data.model_dump(mode="json"))
    uow.commit()
    return SlaPolicyOut.model_validate(p, from_attributes=True)


def get_policy(uow: UnitOfWork, policy_id: int) -> SlaPolicyOut:
    return SlaPolicyOut.model_validate(_found(uow, SlaPolicy, policy_id, "SLA policy"), from_attributes=True)


def list_policies(uow: UnitOfWork) -> list[SlaPolicyOut]:
    return [SlaPolicyOut.model_validate(p, from_attributes=True)
            for p in uow.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))]


def _rule_out(r: AssignmentRule) -> dict[str, Any]:
    return {"id": r.id, "position": r.position, "kind": r.kind, "language": r.language, "channel": r.channel,
            "customer_tier": r.customer_tier, "team_id": r.team_id}


def create_assignment_rule(uow: UnitOfWork, data: AssignmentRuleIn) -> dict[str, Any]:
    _setup(uow)
    if uow.session.get(Team, data.team_id) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    r = AssignmentRule(**data.model_dump())
    uow.session.add(r)
    uow.session.flush()
    uow.audit("create", "support_assignment_rule", r.id, after=data.model_dump(mode="json"))
    uow.commit()
    return _rule_out(r)


def update_assignment_rule(uow: UnitOfWork, rule_id: int, data: AssignmentRuleIn) -> dict[str, Any]:
    _setup(uow)
    r = _found(uow, AssignmentRule, rule_id, "assignment rule")
    if uow.session.get(Team, data.team_id) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    before = _rule_out(r)
    for name, value in data.model_dump().items():
        setattr(r, name, value)
    uow.session.flush()
    uow.audit("update", "support_assignment_rule", r.id, before=before, after=data.model_dump(mode="json"))
    uow.commit()
    return _rule_out(r)


def get_assignment_rule(uow: UnitOfWork, rule_id: int) -> dict[str, Any]:
    return _rule_out(_found(uow, AssignmentRule, rule_id, "assignment rule"))


def list_assignment_rules(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [_rule_out(r) for r in
            uow.session.scalars(sa.select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id))]


def _canned_writer(uow: UnitOfWork) -> None:
    if uow.actor.role not in (*SETUP, Role.support_agent):
        raise Forbidden("Canned replies are kept by support staff")


def _check_shortcut(uow: UnitOfWork, shortcut: str, reply_id: int | None) -> None:
    other = uow.session.scalar(sa.select(CannedReply.id).where(CannedReply.shortcut == shortcut))
    if other is not None and other != reply_id:
        raise Conflict(f"Shortcut /{shortcut} exists", type_slug="duplicate",
                       errors=[FieldError("shortcut", "already exists")])


def create_canned_reply(uow: UnitOfWork, data: CannedReplyIn) -> dict[str, Any]:
    _canned_writer(uow)
    _check_shortcut(uow, data.shortcut, None)
    c = CannedReply(**data.model_dump())
    uow.session.add(c)
    uow.session.flush()
    uow.commit()
    return {"id": c.id, **data.model_dump()}


def update_canned_reply(uow: UnitOfWork, reply_id: int, data: CannedReplyIn) -> dict[str, Any]:
    _canned_writer(uow)
    c = _found(uow, CannedReply, reply_id, "canned reply")
    _check_shortcut(uow, data.shortcut, reply_id)
    c.shortcut, c.title, c.body = data.shortcut, data.title, data.body
    uow.session.flush()
    uow.audit("update", "support_canned_reply", c.id, after=data.model_dump(mode="json"))
    uow.commit()
    return {"id": c.id, **data.model_dump()}


def list_canned_replies(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"id": c.id, "shortcut": c.shortcut, "title": c.title, "body": c.body}
            for c in uow.session.scalars(sa.select(CannedReply).order_by(CannedReply.shortcut))]


def get_canned_reply(uow: UnitOfWork, reply_id: int) -> dict[str, Any]:
    c = _found(uow, CannedReply, reply_id, "canned reply")
    return {"id": c.id, "shortcut": c.shortcut, "title": c.title, "body": c.body}


def _check_keyword(uow: UnitOfWork, keyword: str, auto_id: int | None) -> None:
    other = uow.session.scalar(sa.select(AutoReply.id).where(AutoReply.keyword == keyword))
    if other is not None and other != auto_id:
        raise Conflict(f"Keyword {keyword!r} exists", type_slug="duplicate",
                       errors=[FieldError("keyword", "already exists")])
    if keyword.startswith(rules.INTENT_PREFIX):
        intent = keyword[len(rules.INTENT_PREFIX):]
        if intent not in rules.INTENTS:
            raise ValidationProblem.for_field("keyword", f"unknown intent {intent!r}; known: "
                                              f"{', '.join(sorted(rules.INTENTS))}", "unknown_intent")


def _auto_out(a: AutoReply) -> dict[str, Any]:
    return {"id": a.id, "keyword": a.keyword, "reply": a.reply, "active": a.active}


def create_auto_reply(uow: UnitOfWork, data: AutoReplyIn) -> dict[str, Any]:
    _setup(uow)
    _check_keyword(uow, data.keyword.lower(), None)
    a = AutoReply(keyword=data.keyword.lower(), reply=data.reply, active=True)
    uow.session.add(a)
    uow.session.flush()
    uow.commit()
    return {"id": a.id, "keyword": a.keyword, "reply": a.reply}


def update_auto_reply(uow: UnitOfWork, auto_id: int, data: AutoReplyIn, *, active: bool = True) -> dict[str, Any]:
    _setup(uow)
    a = _found(uow, AutoReply, auto_id, "auto-reply")
    _check_keyword(uow, data.keyword.lower(), auto_id)
    before = _auto_out(a)
    a.keyword, a.reply, a.active = data.keyword.lower(), data.reply, active
    uow.session.flush()
    uow.audit("update", "support_auto_reply", a.id, before=before, after=_auto_out(a))
    uow.commit()
    return _auto_out(a)


def get_auto_reply(uow: UnitOfWork, auto_id: int) -> dict[str, Any]:
    return _auto_out(_found(uow, AutoReply, auto_id, "auto-reply"))


def list_auto_replies(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [_auto_out(a) for a in uow.session.scalars(sa.select(AutoReply).order_by(AutoReply.id))]
