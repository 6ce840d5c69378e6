"""Console pages for what support used to set up only through the API: an agent opening a
ticket for a phone call or a store visit, and the set-up itself (teams with business hours,
SLA policies, also per customer tier, assignment rules, canned replies, chat auto-replies
and NPS surveys).

Agents open tickets, read the set-up and keep the canned replies they type in chats; the
rest of the set-up is for admins and staff (managers), as in the API. A refused form comes
back with each problem written next to its field (status 422), the input kept. Everything
goes through `merx.support.public`, so the rules are the API's."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from merx.core import accounts
from merx.core.auth import Principal, Role
from merx.core.errors import Problem
from merx.support import public as support
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none

router = APIRouter(route_class=PageRoute)
AGENTS = (Role.admin, Role.staff, Role.support_agent)
MANAGERS = (Role.admin, Role.staff)
KINDS = ("complaint", "return_request", "question", "wish", "objection", "praise")
CHANNELS = ("phone", "store_visit", "email", "chat", "messaging", "web_form")
PRIORITIES = ("low", "normal", "high", "urgent")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


class FormErrors(Exception):
    """Problems found while reading the form itself, before the service saw it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form errors")
        self.errors = errors


def _opts(values: tuple[str, ...], any_label: str | None = None) -> list[tuple[str, str]]:
    return ([("", any_label)] if any_label else []) + [(v, v.replace("_", " ")) for v in values]


def field_errors(e: Exception) -> dict[str, str]:
    """Each problem keyed by the form field it is about (the first path element)."""
    if isinstance(e, FormErrors):
        return e.errors
    out: dict[str, str] = {}
    if isinstance(e, ValidationError):
        for err in e.errors():
            name = str(err.get("loc", ("form",))[0] if err.get("loc") else "form")
            message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
            out.setdefault(name, "required" if err.get("type") == "missing" else message)
        return out
    if isinstance(e, Problem):
        for fe in e.errors or []:
            out.setdefault(fe.field.split(".")[0], fe.message)
        if not out:
            out["form"] = problem_sentence(e)
    return out


# --------------------------------------------------------------------------------------------
# What each set-up form holds
# --------------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"  # text, number, textarea, select, checkbox, hours, members
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""
    required: bool = False
    edit_only: bool = False


@dataclass
class Setup:
    title: str
    plural: str
    writers: tuple[Role, ...]
    fields: Callable[[Any], list[Field]]  # the unit of work gives the choices (teams, segments, agents)
    to_input: Callable[[dict[str, Any]], BaseModel]
    create: Callable[[Any, Any], Any]
    update: Callable[[Any, int, Any, bool], Any]
    get: Callable[[Any, int], Any]


def _team_options(uow: Any, any_label: str | None) -> list[tuple[str, str]]:
    return ([("", any_label)] if any_label else []) + [(str(t.id), t.name) for t in support.list_teams(uow)]


def _team_fields(uow: Any) -> list[Field]:
    agents = [(str(i), n) for i, n in accounts.active_users(uow, Role.support_agent, Role.staff, Role.admin)]
    return [Field("code", "Code", required=True, help="letters, digits, . _ -"), Field("name", "Name", required=True),
            Field("timezone", "Time zone", help="e.g. Europe/Warsaw"),
            Field("hours", "Business hours", "hours", help="09:00-17:00; leave a day empty when closed; "
                                                            "all empty: round the clock"),
            Field("holidays", "Holidays", "textarea", help="dates such as 2026-12-25, separated by commas"),
            Field("members", "Members", "members", agents, help="tickets go round-robin to the least loaded")]


def _team_input(form: dict[str, Any]) -> BaseModel:
    errors: dict[str, str] = {}
    hours: dict[str, list[str]] = {}
    for day in DAYS:
        text = str(form.get(f"hours_{day}", "")).strip()
        if not text:
            continue
        m = HOURS.match(text)
        if not m:
            errors["hours"] = f"{day}: write the hours as 09:00-17:00"
            continue
        hours[day] = [m.group(1).zfill(5), m.group(2).zfill(5)]
    holidays = [h for h in re.split(r"[\s,;]+", str(form.get("holidays", ""))) if h]
    for h in holidays:
        try:
            dt.date.fromisoformat(h)
        except ValueError:
            errors["holidays"] = f"{h!r} is not a date (YYYY-MM-DD)"
    if errors:
        raise FormErrors(errors)
    members = [int(m) for m in form["__multi__"].getlist("members") if str(m).isdigit()]
    return support.TeamIn(code=str(form.get("code", "")).strip(), name=str(form.get("name", "")).strip(),
                          timezone=text_or_none(form.get("timezone")) or "UTC", hours=hours, holidays=holidays,
                          members=members)


def _team_values(t: Any) -> dict[str, Any]:
    values = {"code": t.code, "name": t.name, "timezone": t.timezone, "holidays": ", ".join(t.holidays),
              "members": [str(m) for m in t.members]}
    values.update({f"hours_{d}": f"{h[0]}-{h[1]}" for d, h in (t.hours or {}).items()})
    return values


def _policy_fields(uow: Any) -> list[Field]:
    return [Field("name", "Name", required=True),
            Field("position", "Position", "number", help="the first matching policy, lowest first, applies"),
            Field("customer_tier", "Customer tier", help="e.g. gold; empty: any tier"),
            Field("priority", "Priority", "select", _opts(PRIORITIES, "any")),
            Field("kind", "Kind", "select", _opts(KINDS, "any")),
            Field("team_id", "Business hours of", "select", _team_options(uow, "the ticket's team")),
            Field("first_response_minutes", "First response (minutes)", "number", required=True,
                  help="counted in business hours"),
            Field("resolution_minutes", "Resolution (minutes)", "number", required=True),
            Field("warn_before_minutes", "Warn before (minutes)", "number"),
            Field("active", "Active", "checkbox")]


def _policy_input(form: dict[str, Any]) -> BaseModel:
    data = {k: text_or_none(form.get(k)) for k in ("name", "position", "customer_tier", "priority", "kind", "team_id",
                                                   "first_response_minutes", "resolution_minutes",
                                                   "warn_before_minutes")}
    data["active"] = bool(form.get("active"))
    return support.SlaPolicyIn.model_validate({k: v for k, v in data.items() if v is not None})


def _rule_fields(uow: Any) -> list[Field]:
    return [Field("position", "Position", "number", help="the first matching rule, lowest first, names the team"),
            Field("kind", "Kind", "select", _opts(KINDS, "any")),
            Field("channel", "Channel", "select", _opts(CHANNELS, "any")),
            Field("language", "Language", help="e.g. pl; empty: any"),
            Field("customer_tier", "Customer tier", help="empty: any"),
            Field("team_id", "Team", "select", _team_options(uow, None), required=True)]


def _rule_input(form: dict[str, Any]) -> BaseModel:
    data = {k: text_or_none(form.get(k)) for k in ("position", "kind", "channel", "language", "customer_tier",
                                                   "team_id")}
    if data["team_id"] is None:
        raise FormErrors({"team_id": "choose a team (create one first)"})
    return support.AssignmentRuleIn.model_validate({k: v for k, v in data.items() if v is not None})


def _canned_fields(uow: Any) -> list[Field]:
    return [Field("shortcut", "Shortcut", required=True, help="typed as /shortcut in a chat; a-z, 0-9, _ -"),
            Field("title", "Title", required=True), Field("body", "Reply", "textarea", required=True)]


def _canned_input(form: dict[str, Any]) -> BaseModel:
    return support.CannedReplyIn(shortcut=str(form.get("shortcut", "")).strip(),
                                 title=str(form.get("title", "")).strip(), body=str(form.get("body", "")).strip())


def _auto_fields(uow: Any) -> list[Field]:
    return [Field("keyword", "Keyword", required=True,
                  help="a word in the visitor's message, or intent:NAME (" + ", ".join(sorted(support.AUTO_REPLY_INTENTS)) + ")"),
            Field("reply", "Reply", "textarea", required=True), Field("active", "Active", "checkbox", edit_only=True)]


def _auto_input(form: dict[str, Any]) -> BaseModel:
    return support.AutoReplyIn(keyword=str(form.get("keyword", "")).strip(), reply=str(form.get("reply", "")).strip())


def _survey_fields(uow: Any) -> list[Field]:
    from merx.crm import public as crm

    segments = [("", "every customer")] + [(str(s.id), s.name) for s in crm.list_segments(uow)]
    return [Field("name", "Name", required=True), Field("segment_id", "Sent to", "select", segments),
            Field("question", "Question"), Field("every_days", "Every (days)", "number"),
            Field("active", "Active", "checkbox", edit_only=True)]


def _survey_input(form: dict[str, Any]) -> BaseModel:
    data = {k: text_or_none(form.get(k)) for k in ("name", "segment_id", "question", "every_days")}
    return support.SurveyIn.model_validate({k: v for k, v in data.items() if v is not None})


SETUPS: dict[str, Setup] = {
    "teams": Setup("team", "Teams and business hours", MANAGERS, _team_fields, _team_input, support.create_team,
                   lambda uow, i, data, active: support.update_team(uow, i, data), support.get_team),
    "sla-policies": Setup("SLA policy", "SLA policies", MANAGERS, _policy_fields, _policy_input,
                          support.create_policy, lambda uow, i, data, active: support.update_policy(uow, i, data),
                          support.get_policy),
    "assignment-rules": Setup("assignment rule", "Assignment rules", MANAGERS, _rule_fields, _rule_input,
                              support.create_assignment_rule,
                              lambda uow, i, data, active: support.update_assignment_rule(uow, i, data),
                              support.get_assignment_rule),
    "canned-replies": Setup("canned reply", "Canned replies", AGENTS, _canned_fields, _canned_input,
                            support.create_canned_reply,
                            lambda uow, i, data, active: support.update_canned_reply(uow, i, data),
                            support.get_canned_reply),
    "auto-replies": Setup("auto-reply", "Chat auto-replies", MANAGERS, _auto_fields, _auto_input,
                          support.create_auto_reply,
                          lambda uow, i, data, active: support.update_auto_reply(uow, i, data, active=active),
                          support.get_auto_reply),
    "surveys": Setup("NPS survey", "NPS surveys", MANAGERS, _survey_fields, _survey_input, support.create_survey,
                     lambda uow, i, data, active: support.update_survey(uow, i, data, active=active),
                     support.get_survey),
}


def _values_of(section: str, item: Any) -> dict[str, Any]:
    if section == "teams":
        return _team_values(item)
    data = item if isinstance(item, dict) else item.model_dump()
    return {k: ("" if v is None else v) for k, v in data.items()}


def _setup_of(section: str) -> Setup:
    setup = SETUPS.get(section)
    if setup is None:
        raise Problem("There is no such support set-up page.", status=404, title="Not found", type_slug="not-found")
    return setup


# --------------------------------------------------------------------------------------------
# The set-up overview and its forms
# --------------------------------------------------------------------------------------------


@router.get("/console/support/setup")
def setup_page(request: Request) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        teams = support.list_teams(uow)
        names = dict(accounts.active_users(uow, Role.support_agent, Role.staff, Role.admin))
        context = {"teams": teams, "team_names": {t.id: t.name for t in teams}, "agent_names": names,
                   "policies": support.list_policies(uow), "rules": support.list_assignment_rules(uow),
                   "canned": support.list_canned_replies(uow), "autos": support.list_auto_replies(uow),
                   "surveys": support.list_surveys(uow),
                   "can_set_up": me.role in MANAGERS, "days": DAYS}
    return render(request, "console/support_setup.html", context, principal=me)


def _form_page(request: Request, me: Principal, section: str, item_id: int | None, values: dict[str, Any],
               errors: dict[str, str], status: int = 200) -> Response:
    setup = _setup_of(section)
    with unit_of_work(request, me, readonly=True) as uow:
        fields = [f for f in setup.fields(uow) if item_id is not None or not f.edit_only]
    action = f"/console/support/setup/{section}" + (f"/{item_id}" if item_id is not None else "")
    return render(request, "console/support_setup_form.html", {
        "setup": setup, "section": section, "item_id": item_id, "fields": fields, "values": values,
        "errors": errors, "action": action, "days": DAYS}, status=status, principal=me)


@router.get("/console/support/setup/{setup_kind}/new")
def new_setup_form(request: Request, setup_kind: str) -> Response:
    section = setup_kind
    setup = _setup_of(section)
    me = console_user(request, *setup.writers)
    defaults = {"sla-policies": {"position": 100, "warn_before_minutes": 30, "active": True},
                "assignment-rules": {"position": 100}, "teams": {"timezone": "UTC"},
                "surveys": {"every_days": 90, "question": "How likely are you to recommend us to a friend?"}}
    return _form_page(request, me, section, None, defaults.get(section, {}), {})


@router.get("/console/support/setup/{setup_kind}/{setup_id}")
def edit_setup_form(request: Request, setup_kind: str, setup_id: int) -> Response:
    section, item_id = setup_kind, setup_id
    setup = _setup_of(section)
    me = console_user(request, *setup.writers)
    with unit_of_work(request, me, readonly=True) as uow:
        item = setup.get(uow, item_id)
    return _form_page(request, me, section, item_id, _values_of(section, item), {})


def _save(request: Request, section: str, item_id: int | None, form: dict[str, Any]) -> Response:
    setup = _setup_of(section)
    me = console_user(request, *setup.writers)
    try:
        data = setup.to_input(form)
        with unit_of_work(request, me) as uow:
            if item_id is None:
                setup.create(uow, data)
            else:
                setup.update(uow, item_id, data, bool(form.get("active")))
    except (FormErrors, ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status in (403, 404)):
            raise
        values = {k: v for k, v in form.items() if k != "__multi__"}
        values["members"] = list(form["__multi__"].getlist("members"))
        return _form_page(request, me, section, item_id, values, field_errors(e), status=422)
    verb = "created" if item_id is None else "saved"
    return redirect("/console/support/setup", flash=f"{setup.title[:1].upper()}{setup.title[1:]} {verb}.")


@router.post("/console/support/setup/{setup_kind}")
def create_setup(request: Request, setup_kind: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _save(request, setup_kind, None, form)


@router.post("/console/support/setup/{setup_kind}/{setup_id}")
def update_setup(request: Request, setup_kind: str, setup_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _save(request, setup_kind, setup_id, form)


# --------------------------------------------------------------------------------------------
# An agent opens a ticket: a phone call, a store visit, a letter
# --------------------------------------------------------------------------------------------


def _ticket_form(request: Request, me: Principal, values: dict[str, Any], errors: dict[str, str],
                 status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        teams = _team_options(uow, "by the assignment rules")
    return render(request, "console/support_new_ticket.html", {
        "values": values, "errors": errors, "kinds": KINDS, "channels": CHANNELS, "priorities": PRIORITIES,
        "teams": teams}, status=status, principal=me)


@router.get("/console/support/new-ticket")
def new_ticket_form(request: Request, customer_id: int | None = None, order_id: int | None = None,
                    requester_email: str | None = None) -> Response:
    """Prefilled from the customer 360 (`?customer_id=&requester_email=`) or an order."""
    me = console_user(request, *AGENTS)
    return _ticket_form(request, me, {"channel": "phone", "kind": "question", "priority": "normal",
                                      "customer_id": customer_id or "", "order_id": order_id or "",
                                      "requester_email": (requester_email or "")[:320]}, {})


TICKET_FIELDS = ("kind", "channel", "priority", "subject", "body", "requester_name", "requester_email", "customer_id",
                 "order_id", "product_id", "store_code", "customer_tier", "team_id", "reason")


@router.post("/console/support/new-ticket")
def create_ticket(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    data = {k: text_or_none(form.get(k)) for k in TICKET_FIELDS}
    data["body"] = data["body"] or ""
    try:
        body = support.TicketCreate.model_validate({k: v for k, v in data.items() if v is not None})
        with unit_of_work(request, me) as uow:
            ticket = support.create_ticket(uow, body)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 403):
            raise
        values = {k: v for k, v in form.items() if k != "__multi__"}
        return _ticket_form(request, me, values, field_errors(e), status=422)
    return redirect(f"/console/support/tickets/{ticket.id}", flash=f"Ticket {ticket.token} opened.")


__all__ = ["router", "field_errors", "SETUPS"]
