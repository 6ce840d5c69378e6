"""Live chat: a visitor (anonymous or a signed-in customer) chats from the storefront; staff
answer from the console (canned replies by shortcut); keyword auto-replies and an away
message outside the chat team's office hours; a chat becomes a ticket when it needs
follow-up.

The visitor holds a random chat token (stored hashed) that authorises their side of the
chat. New messages reach waiting clients (WebSocket or long poll) through `ChatHub`: a
commit in this process wakes them at once; a commit in another process is seen by their
next database poll (every `POLL_SECONDS`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import defaultdict

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.events import ChatEscalated
from merx.support.autoreplies import match_auto_reply
from merx.support.models import CannedReply, Chat, ChatMessage, Team
from merx.support.schemas import (ChatEscalateIn, ChatMessageOut, ChatOut, ChatStart, ChatStarted, TicketCreate)

AGENTS = (Role.admin, Role.staff, Role.support_agent)
CHAT_TEAM_CODE = "chat"  # the team whose hours are the chat's office hours (none: always open)
POLL_SECONDS = 1.0


class ChatHub:
    """Wakes the coroutines waiting on a chat (in this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)

    def register(self, chat_id: int) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters[chat_id].add(entry)
        return entry

    def unregister(self, chat_id: int, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiters[chat_id].discard(entry)
            if not self._waiters[chat_id]:
                self._waiters.pop(chat_id, None)

    def notify(self, chat_id: int) -> None:
        with self._lock:
            entries = list(self._waiters.get(chat_id, ()))
        for loop, event in entries:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop has closed
                continue


hub = ChatHub()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _msg_out(m: ChatMessage) -> ChatMessageOut:
    return ChatMessageOut(id=m.id, chat_id=m.chat_id, sender=m.sender, body=m.body, created_at=m.created_at)


def chat_out(c: Chat) -> ChatOut:
    return ChatOut.model_validate(c, from_attributes=True)


def _load(uow: UnitOfWork, chat_id: int) -> Chat:
    chat = uow.session.get(Chat, chat_id)
    if chat is None:
        raise NotFound(f"Chat {chat_id} does not exist")
    return chat


def authorise(uow: UnitOfWork, chat_id: int, token: str | None) -> tuple[Chat, str]:
    """The chat and who is writing: "agent" for staff, "visitor" for the token's holder (or
    the signed-in customer whose chat it is). Anyone else: 404."""
    chat = uow.session.get(Chat, chat_id)
    actor = uow.actor
    if chat is not None:
        if actor.role in AGENTS:
            return chat, "agent"
        if token and hmac.compare_digest(_hash(token), chat.token_hash):
            return chat, "visitor"
        if actor.role == Role.customer and chat.customer_id is not None and chat.customer_id == actor.customer_id:
            return chat, "visitor"
    raise NotFound(f"Chat {chat_id} does not exist")


def office_hours(uow: UnitOfWork) -> rules.Calendar | None:
    team = uow.session.scalar(sa.select(Team).where(Team.code == CHAT_TEAM_CODE))
    if team is None or not team.hours:
        return None
    return rules.Calendar.of(team.timezone, team.hours, team.holidays or [])


def _bot_replies(uow: UnitOfWork, chat: Chat, body: str, now: dt.datetime) -> list[ChatMessage]:
    out = []
    cal = office_hours(uow)
    if cal is not None and cal.open_minutes(now, now + dt.timedelta(seconds=1)) == 0:
        opens = cal.add(now, 0)
        already = uow.session.scalar(sa.select(ChatMessage.id).where(ChatMessage.chat_id == chat.id,
                                                                     ChatMessage.sender == "bot",
                                                                     ChatMessage.body.like("We are away%")))
        if already is None:
            out.append(ChatMessage(chat_id=chat.id, sender="bot", created_at=now,
                                   body=f"We are away right now; an agent will answer from "
                                        f"{opens:%Y-%m-%d %H:%M} UTC. Leave your email and we will write back."))
    match = match_auto_reply(uow, body)  # the rule set marketing's messaging webhooks answer with too
    if match is not None:
        out.append(ChatMessage(chat_id=chat.id, sender="bot", body=match.reply, created_at=now))
    return out


def start(uow: UnitOfWork, data: ChatStart, *, now: dt.datetime | None = None) -> ChatStarted:
    now = now or utcnow()
    actor = uow.actor
    customer_id = actor.customer_id if actor.role == Role.customer else None
    if customer_id is None and data.email:
        from merx.customers.public import customer_id_by_email

        try:
            customer_id = customer_id_by_email(uow, data.email)
        except ValidationProblem:
            raise ValidationProblem.for_field("email", "not an email address") from None
    token = secrets.token_urlsafe(24)
    chat = Chat(token_hash=_hash(token), visitor_id=data.visitor_id, customer_id=customer_id, name=data.name,
                email=data.email, status="open", created_at=now, last_message_at=now)
    uow.session.add(chat)
    uow.session.flush()
    messages: list[ChatMessage] = []
    if data.message:
        messages.append(ChatMessage(chat_id=chat.id, sender="visitor", body=data.message, created_at=now))
        messages.extend(_bot_replies(uow, chat, data.message, now))
    uow.session.add_all(messages)
    uow.session.flush()
    uow.created("chat", chat.id)
    uow.commit()
    return ChatStarted(id=chat.id, token=token, messages=[_msg_out(m) for m in messages])


def post(uow: UnitOfWork, chat_id: int, body: str, *, token: str | None = None,
         now: dt.datetime | None = None) -> list[ChatMessageOut]:
    """A message from the visitor or an agent (an agent's "/shortcut" expands to the canned
    reply). Returns what was added (with the bot's answers to a visitor)."""
    now = now or utcnow()
    chat, sender = authorise(uow, chat_id, token)
    if chat.status == "closed":
        raise Conflict("This chat is closed; start a new one", type_slug="chat-closed")
    if sender == "agent" and body.startswith("/"):
        canned = uow.session.scalar(sa.select(CannedReply).where(CannedReply.shortcut == body[1:].strip()))
        if canned is None:
            raise ValidationProblem.for_field("body", f"no canned reply {body.strip()!r}")
        body = canned.body
    msg = ChatMessage(chat_id=chat.id, sender=sender, body=body, created_at=now,
                      author_user_id=uow.actor.user_id if sender == "agent" else None)
    added = [msg]
    if sender == "visitor":
        added.extend(_bot_replies(uow, chat, body, now))
    elif chat.assignee_id is None:
        chat.assignee_id = uow.actor.user_id
    uow.session.add_all(added)
    chat.last_message_at = now
    uow.session.flush()
    uow.commit()
    hub.notify(chat.id)
    return [_msg_out(m) for m in added]


def messages_after(uow: UnitOfWork, chat_id: int, after: int = 0, *, token: str | None = None) -> list[ChatMessageOut]:
    chat, _ = authorise(uow, chat_id, token)
    rows = uow.session.scalars(sa.select(ChatMessage).where(ChatMessage.chat_id == chat.id, ChatMessage.id > after)
                               .order_by(ChatMessage.id).limit(500))
    return [_msg_out(m) for m in rows]


def list_chats(uow: UnitOfWork, *, status: str | None = "open") -> list[ChatOut]:
    if uow.actor.role not in AGENTS:
        raise Forbidden("The chat inbox is for support staff")
    stmt = sa.select(Chat).order_by(Chat.last_message_at.desc(), Chat.id.desc()).limit(200)
    if status:
        stmt = stmt.where(Chat.status == status)
    return [chat_out(c) for c in uow.session.scalars(stmt)]


def get_chat(uow: UnitOfWork, chat_id: int, *, token: str | None = None) -> ChatOut:
    chat, _ = authorise(uow, chat_id, token)
    return chat_out(chat)


def escalate(uow: UnitOfWork, chat_id: int, data: ChatEscalateIn) -> ChatOut:
    """The chat becomes a ticket (its transcript as the first message), linked both ways."""
    from merx.support.service import open_ticket

    chat, sender = authorise(uow, chat_id, None)
    if sender != "agent":
        raise Forbidden("Staff turn chats into tickets")
    if chat.ticket_id is not None:
        raise Conflict(f"Chat {chat_id} is already ticket {chat.ticket_id}", type_slug="duplicate")
    lines = [f"[{m.created_at:%H:%M}] {m.sender}: {m.body}" for m in uow.session.scalars(
        sa.select(ChatMessage).where(ChatMessage.chat_id == chat.id).order_by(ChatMessage.id))]
    first = next((ln.split(": ", 1)[1] for ln in lines if "] visitor: " in ln), "Chat")
    subject = data.subject or (first[:80] + ("…" if len(first) > 80 else ""))
    t, _ = open_ticket(uow, TicketCreate(kind=data.kind, subject=subject, body="\n".join(lines)[:100_000],
                                         channel="chat", requester_email=chat.email, requester_name=chat.name,
                                         customer_id=chat.customer_id), commit=False)
    t.chat_id = chat.id
    t.assignee_id = t.assignee_id or chat.assignee_id or uow.actor.user_id
    first_answer = uow.session.scalar(sa.select(sa.func.min(ChatMessage.created_at)).where(
        ChatMessage.chat_id == chat.id, ChatMessage.sender == "agent"))
    if first_answer is not None:  # the chat already answered the customer: the ticket is under way
        t.first_responded_at, t.status = first_answer, "open"
    chat.ticket_id = t.id
    note = ChatMessage(chat_id=chat.id, sender="bot", created_at=utcnow(),
                       body=f"We opened ticket {t.token} for this conversation; we will follow up.")
    uow.session.add(note)
    uow.session.flush()
    uow.emit(ChatEscalated(chat_id=chat.id, ticket_id=t.id, customer_id=chat.customer_id))
    uow.commit()
    hub.notify(chat.id)
    return chat_out(chat)


def close(uow: UnitOfWork, chat_id: int, *, token: str | None = None) -> ChatOut:
    chat, _ = authorise(uow, chat_id, token)
    chat.status = "closed"
    uow.commit()
    hub.notify(chat.id)
    return chat_out(chat)


def canned_replies(uow: UnitOfWork) -> list[dict[str, str]]:
    return [{"shortcut": c.shortcut, "title": c.title, "body": c.body}
            for c in uow.session.scalars(sa.select(CannedReply).order_by(CannedReply.shortcut))]
