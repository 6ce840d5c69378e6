"""Ticket use cases: open, thread messages onto, reply (mail queued with its Message-ID),
note, update, attach, list and read tickets; SLA targets and assignment when a ticket opens.

Who sees what: admin, staff and support agents see every ticket; a customer sees only their
own (another's is as absent as none) and never the internal notes."""

from __future__ import annotations

import datetime as dt
import hashlib
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.events import (TicketClosed, TicketMessageAdded, TicketOpened, TicketResolved, TicketUpdated)
from merx.support.models import (Attachment, AssignmentRule, OutgoingMail, SlaPolicy, Team, Ticket,
                                 TicketMessage)
from merx.support.schemas import (AttachmentOut, MessageOut, TicketCreate, TicketDetail, TicketOut, TicketUpdate)

AGENTS = (Role.admin, Role.staff, Role.support_agent)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def ticket_out(t: Ticket) -> TicketOut:
    return TicketOut.model_validate(t, from_attributes=True)


def _visible(uow: UnitOfWork, ticket: Ticket | None, ticket_id: int) -> Ticket:
    actor = uow.actor
    if ticket is None or (actor.role == Role.customer and ticket.customer_id != actor.customer_id) \
            or (actor.role not in AGENTS and actor.role != Role.customer):
        raise NotFound(f"Ticket {ticket_id} does not exist")
    return ticket


def load_ticket(uow: UnitOfWork, ticket_id: int, *, for_update: bool = False) -> Ticket:
    stmt = sa.select(Ticket).where(Ticket.id == ticket_id)
    if for_update and uow.dialect == "postgresql":
        stmt = stmt.with_for_update()
    return _visible(uow, uow.session.scalar(stmt), ticket_id)


def list_tickets_stmt(uow: UnitOfWork, *, status: str | None = None, kind: str | None = None,
                      assignee_id: int | None = None, team_id: int | None = None, customer_id: int | None = None,
                      open_only: bool = False, q: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(Ticket)
    if uow.actor.role == Role.customer:
        stmt = stmt.where(Ticket.customer_id == uow.actor.customer_id)
    elif uow.actor.role not in AGENTS:
        raise Forbidden("Tickets are for support staff and the customer who raised them")
    if status:
        stmt = stmt.where(Ticket.status == status)
    if open_only:
        stmt = stmt.where(Ticket.status.in_(rules.OPEN_STATUSES))
    if kind:
        stmt = stmt.where(Ticket.kind == kind)
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if team_id is not None:
        stmt = stmt.where(Ticket.team_id == team_id)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if q:
        stmt = stmt.where(sa.or_(Ticket.subject.ilike(f"%{q}%"), Ticket.requester_email.ilike(f"%{q}%"),
                                 Ticket.token == q.upper()))
    return stmt


def list_tickets(uow: UnitOfWork, *, limit: int | None = None, cursor: str | None = None,
                 **filters: Any) -> Page[TicketOut]:
    """Newest first, one page."""
    items, nxt = paginate(uow.session, list_tickets_stmt(uow, **filters), Ticket.id,
                          limit=check_limit(limit, 50, 200), cursor=cursor, convert=ticket_out, descending=True)
    return Page[TicketOut](items=items, next_cursor=nxt)


def get_ticket(uow: UnitOfWork, ticket_id: int) -> TicketDetail:
    t = load_ticket(uow, ticket_id)
    msgs = uow.session.scalars(sa.select(TicketMessage).where(TicketMessage.ticket_id == t.id)
                               .order_by(TicketMessage.id))
    status_of = dict(uow.session.execute(sa.select(OutgoingMail.message_id, OutgoingMail.status)
                                         .where(OutgoingMail.ticket_id == t.id)).all())
    customer = uow.actor.role == Role.customer
    messages = [MessageOut(id=m.id, kind=m.kind, author_user_id=m.author_user_id, author_email=m.author_email,
                           body_text=m.body_text, body_html=m.body_html, message_id=m.message_id, channel=m.channel,
                           created_at=m.created_at, mail_status=status_of.get(m.message_id))
                for m in msgs if not (customer and m.kind == "note")]
    attachments = [AttachmentOut.model_validate(a, from_attributes=True) for a in uow.session.scalars(
        sa.select(Attachment).where(Attachment.ticket_id == t.id).order_by(Attachment.id))]
    return TicketDetail(**ticket_out(t).model_dump(), messages=messages, attachments=attachments)


def open_tickets_of(uow: UnitOfWork, customer_id: int) -> list[TicketOut]:
    """The customer's open tickets, newest first (for the customer 360 and the dashboard)."""
    rows = uow.session.scalars(sa.select(Ticket).where(Ticket.customer_id == customer_id,
                                                       Ticket.status.in_(rules.OPEN_STATUSES))
                               .order_by(Ticket.id.desc()).limit(50))
    return [ticket_out(t) for t in rows]


def open_ticket_count(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(sa.select(sa.func.count()).select_from(Ticket)
                                  .where(Ticket.status.in_(rules.OPEN_STATUSES))) or 0)


# ----------------------------------------------------------------------------------------------
# Opening a ticket: SLA and assignment
# ----------------------------------------------------------------------------------------------


def calendar_of(team: Team | None) -> rules.Calendar:
    if team is None or not team.hours:
        return rules.Calendar.always()
    return rules.Calendar.of(team.timezone, team.hours, team.holidays or [])


def _facts(t: Ticket) -> rules.TicketFacts:
    return rules.TicketFacts(kind=t.kind, priority=t.priority, channel=t.channel, language=t.language,
                             customer_tier=t.customer_tier)


def _assign(uow: UnitOfWork, t: Ticket) -> None:
    """The first matching rule names the team (unless one was given); the team's member with
    the fewest open tickets takes it, in turn among equals."""
    facts = _facts(t)
    if t.team_id is None:
        for rule in uow.session.scalars(sa.select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)):
            if rules.matches({"kind": rule.kind, "language": rule.language, "channel": rule.channel,
                              "customer_tier": rule.customer_tier}, facts):
                t.team_id = rule.team_id
                break
    if t.team_id is None or t.assignee_id is not None:
        return
    team = uow.session.get(Team, t.team_id)
    if team is None or not team.members:
        return
    if uow.dialect == "postgresql":  # two tickets opened at once must not both take the same turn
        uow.session.execute(sa.select(Team.id).where(Team.id == team.id).with_for_update())
    loads = dict(uow.session.execute(sa.select(Ticket.assignee_id, sa.func.count()).where(
        Ticket.assignee_id.in_(team.members), Ticket.status.in_(rules.OPEN_STATUSES))
        .group_by(Ticket.assignee_id)).all())
    pick = rules.round_robin(list(team.members), loads, team.round_robin_last)
    t.assignee_id = pick
    team.round_robin_last = pick


def apply_sla(uow: UnitOfWork, t: Ticket, now: dt.datetime) -> None:
    """The first matching active policy sets the due times, in its team's business hours."""
    facts = _facts(t)
    for policy in uow.session.scalars(sa.select(SlaPolicy).where(SlaPolicy.active.is_(True))
                                      .order_by(SlaPolicy.position, SlaPolicy.id)):
        if not rules.matches({"kind": policy.kind, "priority": policy.priority,
                              "customer_tier": policy.customer_tier}, facts):
            continue
        team_id = policy.team_id or t.team_id
        cal = calendar_of(uow.session.get(Team, team_id) if team_id else None)
        t.sla_policy_id = policy.id
        t.first_response_due_at = cal.add(now, policy.first_response_minutes)
        t.resolution_due_at = cal.add(now, policy.resolution_minutes)
        t.first_response_warn_at = cal.add(now, max(policy.first_response_minutes - policy.warn_before_minutes, 0))
        t.resolution_warn_at = cal.add(now, max(policy.resolution_minutes - policy.warn_before_minutes, 0))
        t.sla_flags = []
        return


def sync_sla_clock(uow: UnitOfWork, t: Ticket, now: dt.datetime) -> None:
    """The resolution clock stops while the ticket waits on the customer: entering that status
    notes the moment; leaving it moves the resolution due (and warning) times on by the
    business minutes that passed. Call after every status change."""
    waiting = t.status == "waiting_on_customer"
    if waiting and t.sla_paused_at is None:
        t.sla_paused_at = now
    elif not waiting and t.sla_paused_at is not None:
        if t.resolution_due_at is not None and t.sla_policy_id is not None:
            policy = uow.session.get(SlaPolicy, t.sla_policy_id)
            team_id = (policy.team_id if policy is not None else None) or t.team_id
            cal = calendar_of(uow.session.get(Team, team_id) if team_id else None)
            paused = cal.open_minutes(t.sla_paused_at, now)
            t.resolution_due_at = cal.add(t.resolution_due_at, paused)
            if t.resolution_warn_at is not None:
                t.resolution_warn_at = cal.add(t.resolution_warn_at, paused)
        t.sla_paused_at = None


def _event_fields(t: Ticket) -> dict[str, Any]:
    return {"ticket_id": t.id, "customer_id": t.customer_id, "subject": t.subject, "kind": t.kind,
            "status": t.status}


def _new_token(uow: UnitOfWork) -> str:
    for _ in range(10):
        token = rules.new_ticket_token()
        if uow.session.scalar(sa.select(Ticket.id).where(Ticket.token == token)) is None:
            return token
    raise Conflict("Could not allocate a ticket token; try again")


def _customer_of(uow: UnitOfWork, email: str | None) -> int | None:
    if not email:
        return None
    from merx.customers.public import customer_id_by_email

    try:
        return customer_id_by_email(uow, email)
    except ValidationProblem:
        return None


def open_ticket(uow: UnitOfWork, data: TicketCreate, *, body_html: str | None = None, message_id: str | None = None,
                now: dt.datetime | None = None, commit: bool = True) -> tuple[Ticket, TicketMessage | None]:
    """A new ticket (its first message when there is a body); SLA and assignment applied."""
    now = now or utcnow()
    actor = uow.actor
    fields = data.model_dump()
    body = fields.pop("body")
    if actor.role == Role.customer:
        fields["customer_id"] = actor.customer_id
        fields["team_id"] = None
    elif actor.role not in AGENTS:
        raise Forbidden("Only support staff or a customer may open a ticket")
    if fields["customer_id"] is None:
        fields["customer_id"] = _customer_of(uow, fields.get("requester_email"))
    fields["tags"] = sorted({t.strip().lower() for t in fields["tags"] if t.strip()})
    t = Ticket(token=_new_token(uow), status="new", created_at=now, updated_at=now, sla_flags=[], **fields)
    uow.session.add(t)
    _assign(uow, t)
    apply_sla(uow, t, now)
    uow.session.flush()
    msg = None
    if body or body_html or message_id:
        # the first message is the customer's words, also when an agent writes down a call
        msg = TicketMessage(ticket_id=t.id, kind="in", author_email=t.requester_email, body_text=body,
                            body_html=body_html, message_id=message_id, channel=t.channel, created_at=now,
                            author_user_id=actor.user_id if actor.role in AGENTS else None)
        uow.session.add(msg)
        uow.session.flush()
    uow.audit("create", "ticket", t.id, after={"kind": t.kind, "subject": t.subject, "channel": t.channel})
    uow.emit(TicketOpened(**_event_fields(t), channel=t.channel, priority=t.priority, order_id=t.order_id,
                          product_id=t.product_id), version=t.version)
    uow.created("ticket", t.id)
    if commit:
        uow.commit()
    return t, msg


def create_ticket(uow: UnitOfWork, data: TicketCreate) -> TicketDetail:
    t, _ = open_ticket(uow, data, commit=False)
    detail = get_ticket(uow, t.id)  # read before the commit: a read after it would open a new write transaction
    uow.commit()
    return detail


# ----------------------------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------------------------


def add_inbound(uow: UnitOfWork, t: Ticket, *, body_text: str, body_html: str | None, message_id: str | None,
                author_email: str | None, channel: str = "email", now: dt.datetime | None = None) -> TicketMessage:
    """A customer's message on an existing ticket: a solved ticket or one waiting on the
    customer goes back to the agents. Does not commit."""
    now = now or utcnow()
    msg = TicketMessage(ticket_id=t.id, kind="in", body_text=body_text, body_html=body_html, message_id=message_id,
                        author_email=author_email, channel=channel, created_at=now)
    uow.session.add(msg)
    changes = []
    if t.status in ("solved", "waiting_on_customer", "closed"):
        t.status = "open" if t.status != "waiting_on_customer" else "waiting_on_us"
        t.solved_at = None
        changes.append("status")
        sync_sla_clock(uow, t, now)
    t.updated_at = now
    t.version += 1
    uow.session.flush()
    uow.emit(TicketMessageAdded(**_event_fields(t), message_kind="in", ticket_message_id=msg.id), version=t.version)
    if changes:
        uow.emit(TicketUpdated(**_event_fields(t), changes=changes), version=t.version)
    return msg


def thread_ids(uow: UnitOfWork, ticket_id: int) -> list[str]:
    return [m for m in uow.session.scalars(sa.select(TicketMessage.message_id).where(
        TicketMessage.ticket_id == ticket_id, TicketMessage.message_id.is_not(None)).order_by(TicketMessage.id)) if m]


def queue_mail(uow: UnitOfWork, *, to: str, subject: str, text: str, purpose: str, ticket_id: int | None = None,
               message_id: str | None = None, in_reply_to: str | None = None,
               references: list[str] | None = None) -> OutgoingMail:
    """Mail to send after this transaction commits (mailout.send_pending); its Message-ID is
    fixed now, so a retry sends the same message, never a second one with another id."""
    mail = OutgoingMail(ticket_id=ticket_id, purpose=purpose, to_address=to, subject=subject[:300], body_text=text,
                        message_id=message_id or make_msgid(domain=uow.settings.mail_domain),
                        in_reply_to=in_reply_to, references=references or [], status="queued", attempts=0)
    uow.session.add(mail)
    return mail


def reply(uow: UnitOfWork, ticket_id: int, body: str, *, status: str | None = None,
          now: dt.datetime | None = None, commit: bool = True) -> MessageOut:
    """An agent's public reply: stored on the ticket and, for a ticket with a requester
    address, queued as mail with threading headers (In-Reply-To the customer's last message,
    References the whole thread) and the ticket token in the subject."""
    if uow.actor.role not in AGENTS:
        raise Forbidden("Only support staff reply to tickets")
    now = now or utcnow()
    t = load_ticket(uow, ticket_id, for_update=True)
    if t.status == "closed":
        raise Conflict(f"Ticket {t.token} is closed; open a new one", type_slug="ticket-closed")
    refs = thread_ids(uow, t.id)
    last_in = uow.session.scalar(sa.select(TicketMessage.message_id).where(
        TicketMessage.ticket_id == t.id, TicketMessage.kind == "in", TicketMessage.message_id.is_not(None))
        .order_by(TicketMessage.id.desc()).limit(1))
    msg = TicketMessage(ticket_id=t.id, kind="out", author_user_id=uow.actor.user_id, body_text=body,
                        channel=t.channel if t.channel == "chat" else "email", created_at=now,
                        message_id=make_msgid(domain=uow.settings.mail_domain) if t.requester_email else None)
    uow.session.add(msg)
    changes = ["status"]
    if t.first_responded_at is None:
        t.first_responded_at = now
        changes.append("first_responded_at")
    t.status = status or ("waiting_on_customer" if t.status in ("new", "open", "waiting_on_us") else t.status)
    if t.status == "solved":
        t.solved_at = now
    sync_sla_clock(uow, t, now)
    if t.assignee_id is None and uow.actor.user_id is not None:
        t.assignee_id = uow.actor.user_id
        changes.append("assignee_id")
    t.updated_at = now
    t.version += 1
    uow.session.flush()
    if t.requester_email:
        subject = t.subject if t.subject.lower().startswith("re:") else f"Re: {t.subject}"
        queue_mail(uow, to=t.requester_email, subject=rules.subject_with_token(subject, t.token), text=body,
                   purpose="reply", ticket_id=t.id, message_id=msg.message_id, in_reply_to=last_in or (refs[-1] if refs else None),
                   references=refs)
    uow.audit("reply", "ticket", t.id, after={"ticket_message_id": msg.id})
    uow.emit(TicketMessageAdded(**_event_fields(t), message_kind="out", ticket_message_id=msg.id), version=t.version)
    uow.emit(TicketUpdated(**_event_fields(t), changes=changes), version=t.version)
    if t.status == "solved":
        _on_solved(uow, t)
    if commit:
        uow.commit()
    return MessageOut(id=msg.id, kind=msg.kind, author_user_id=msg.author_user_id, author_email=None,
                      body_text=msg.body_text, body_html=None, message_id=msg.message_id, channel=msg.channel,
                      created_at=msg.created_at, mail_status="queued" if t.requester_email else None)


def add_note(uow: UnitOfWork, ticket_id: int, body: str) -> MessageOut:
    """An internal note: never mailed, never shown to the customer."""
    if uow.actor.role not in AGENTS:
        raise Forbidden("Only support staff write internal notes")
    t = load_ticket(uow, ticket_id, for_update=True)
    msg = TicketMessage(ticket_id=t.id, kind="note", author_user_id=uow.actor.user_id, body_text=body,
                        channel="note", created_at=utcnow())
    uow.session.add(msg)
    t.version += 1
    uow.session.flush()
    uow.emit(TicketMessageAdded(**_event_fields(t), message_kind="note", ticket_message_id=msg.id), version=t.version)
    uow.commit()
    return MessageOut.model_validate(msg, from_attributes=True)


def customer_message(uow: UnitOfWork, ticket_id: int, body: str) -> MessageOut:
    """A customer writing on their own ticket through the API."""
    t = load_ticket(uow, ticket_id, for_update=True)
    if uow.actor.role != Role.customer:
        raise Forbidden("Staff reply with POST /tickets/{id}/replies")
    msg = add_inbound(uow, t, body_text=body, body_html=None, message_id=None, author_email=t.requester_email,
                      channel="web_form")
    uow.commit()
    return MessageOut.model_validate(msg, from_attributes=True)


# ----------------------------------------------------------------------------------------------
# Changes
# ----------------------------------------------------------------------------------------------


def _on_solved(uow: UnitOfWork, t: Ticket) -> None:
    from merx.support import feedback

    uow.emit(TicketResolved(**_event_fields(t)), version=t.version)
    feedback.request_csat(uow, t)


def update_ticket(uow: UnitOfWork, ticket_id: int, data: TicketUpdate, *, now: dt.datetime | None = None) -> TicketOut:
    if uow.actor.role not in AGENTS:
        raise Forbidden("Only support staff change tickets")
    now = now or utcnow()
    t = load_ticket(uow, ticket_id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    if "tags" in changes:
        changes["tags"] = sorted({x.strip().lower() for x in changes["tags"] if x.strip()})
    if "team_id" in changes and changes["team_id"] is not None and uow.session.get(Team, changes["team_id"]) is None:
        raise ValidationProblem.for_field("team_id", "no such team")
    changed = [k for k, v in changes.items() if getattr(t, k) != v]
    if not changed:
        return ticket_out(t)
    before = {k: getattr(t, k) for k in changed}
    for k in changed:
        setattr(t, k, changes[k])
    if "priority" in changed or "kind" in changed:
        apply_sla(uow, t, t.created_at)
    if "status" in changed:
        if t.status == "solved":
            t.solved_at = now
        elif t.status == "closed":
            t.closed_at = now
        else:
            t.solved_at = t.closed_at = None
        sync_sla_clock(uow, t, now)
    t.updated_at = now
    t.version += 1
    uow.session.flush()
    uow.audit("update", "ticket", t.id, before=before, after={k: getattr(t, k) for k in changed})
    uow.emit(TicketUpdated(**_event_fields(t), changes=changed), version=t.version)
    if "status" in changed and t.status == "solved":
        _on_solved(uow, t)
    if "status" in changed and t.status == "closed":
        uow.emit(TicketClosed(**_event_fields(t)), version=t.version)
    uow.commit()
    return ticket_out(t)


def return_from_ticket(uow: UnitOfWork, ticket_id: int, lines: list[dict[str, Any]],
                       location: str | None = None) -> TicketOut:
    """A return request ticket starts the return in orders (one transaction)."""
    from merx.orders.public import ReturnCreate, create_return

    if uow.actor.role not in AGENTS:
        raise Forbidden("Only support staff start returns from tickets")
    t = load_ticket(uow, ticket_id, for_update=True)
    if t.kind != "return_request":
        raise ValidationProblem.for_field("kind", "only a return request ticket starts a return")
    if t.order_id is None:
        raise ValidationProblem.for_field("order_id", "the ticket names no order")
    if t.return_id is not None:
        raise Conflict(f"Ticket {t.token} already started return {t.return_id}", type_slug="duplicate")
    # Orders lets staff and the customer start returns; a support agent starts one through the
    # return request ticket, which is the authorisation: the return is written under the
    # agent's own user id (audit) acting with staff rights for this one call.
    actor = uow.actor
    uow.actor = Principal(user_id=actor.user_id, role=Role.staff, name=f"{actor.name} (ticket {t.token})",
                          api_key_id=actor.api_key_id)
    try:
        created = create_return(uow, t.order_id, ReturnCreate(location=location, reason=(t.reason or t.subject)[:500],
                                                              lines=lines))
    finally:
        uow.actor = actor
    t.return_id = int(created["id"])
    t.version += 1
    t.updated_at = utcnow()
    uow.emit(TicketUpdated(**_event_fields(t), changes=["return_id"]), version=t.version)
    uow.commit()
    return ticket_out(t)


# ----------------------------------------------------------------------------------------------
# Attachments: content-addressed files under data_dir/support/attachments (the stored name is
# the content's SHA-256, never the sender's file name)
# ----------------------------------------------------------------------------------------------

_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def check_attachment(filename: str, content_type: str, data: bytes) -> str:
    """The content type to store, or a 4xx naming what is wrong (declared type outside the
    allow-list, content that is not what it claims, too large)."""
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if ctype not in rules.ALLOWED_ATTACHMENT_TYPES:
        raise ValidationProblem.for_field("attachment", f"{filename!r}: type {ctype} is not accepted "
                                          f"(accepted: {', '.join(sorted(rules.ALLOWED_ATTACHMENT_TYPES))})",
                                          "forbidden_type")
    if len(data) > rules.MAX_ATTACHMENT_BYTES:
        raise ValidationProblem.for_field("attachment", f"{filename!r} is larger than "
                                          f"{rules.MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB", "too_large")
    magic = _MAGIC.get(ctype)
    if magic and not data.startswith(magic):
        raise ValidationProblem.for_field("attachment", f"{filename!r} is not a {ctype} file", "type_mismatch")
    if ctype == "image/webp" and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise ValidationProblem.for_field("attachment", f"{filename!r} is not a WebP image", "type_mismatch")
    if ctype.startswith("text/"):
        if b"\x00" in data:
            raise ValidationProblem.for_field("attachment", f"{filename!r} is not text", "type_mismatch")
    return ctype


def _safe_name(filename: str) -> str:
    name = Path((filename or "attachment").replace("\\", "/")).name
    cleaned = "".join(c for c in name if c.isprintable() and c not in '<>:"/|?*')[:200]
    return cleaned or "attachment"


def attachments_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "support" / "attachments"


def store_attachment(uow: UnitOfWork, t: Ticket, *, filename: str, content_type: str, data: bytes,
                     ticket_message_id: int | None = None) -> Attachment:
    """Checks and stores one file (does not commit). Written before the row commits: a crash
    leaves at most an unreferenced file, never a row without its file."""
    ctype = check_attachment(filename, content_type, data)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{digest[:2]}/{digest}"
    path = attachments_dir(uow.settings.data_dir) / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    row = Attachment(ticket_id=t.id, ticket_message_id=ticket_message_id, filename=_safe_name(filename),
                     content_type=ctype, size=len(data), sha256=digest, storage_key=key)
    uow.session.add(row)
    return row


def add_attachment(uow: UnitOfWork, ticket_id: int, *, filename: str, content_type: str, data: bytes) -> AttachmentOut:
    t = load_ticket(uow, ticket_id, for_update=True)
    row = store_attachment(uow, t, filename=filename, content_type=content_type, data=data)
    uow.session.flush()
    uow.audit("attach", "ticket", t.id, after={"attachment_id": row.id, "filename": row.filename})
    uow.commit()
    return AttachmentOut.model_validate(row, from_attributes=True)


def read_attachment(uow: UnitOfWork, ticket_id: int, attachment_id: int) -> tuple[AttachmentOut, bytes]:
    t = load_ticket(uow, ticket_id)
    row = uow.session.get(Attachment, attachment_id)
    if row is None or row.ticket_id != t.id:
        raise NotFound(f"Attachment {attachment_id} does not exist")
    data = (attachments_dir(uow.settings.data_dir) / row.storage_key).read_bytes()
    return AttachmentOut.model_validate(row, from_attributes=True), data


def find_ticket_by_message_ids(uow: UnitOfWork, ids: Iterable[str]) -> Ticket | None:
    ids = [i for i in ids if i]
    if not ids:
        return None
    # no ORDER BY: a Message-ID belongs to one ticket, and sorting made SQLite scan the table
    # instead of using the message_id index
    ticket_id = uow.session.scalar(sa.select(TicketMessage.ticket_id).where(TicketMessage.message_id.in_(ids))
                                   .limit(1))
    return uow.session.get(Ticket, ticket_id) if ticket_id is not None else None


def find_ticket_by_token(uow: UnitOfWork, token: str | None) -> Ticket | None:
    if not token:
        return None
    return uow.session.scalar(sa.select(Ticket).where(Ticket.token == token))
