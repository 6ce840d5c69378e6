"""Incoming SMS and messaging-app messages (the gateway's signed webhook): support's auto-reply
rule set (support.public.match_auto_reply: keywords and intents, the same rules its live chat
answers with) answers them through the gateway; a message no rule answers becomes a support
ticket for a person. Each incoming message is recorded once (a `mkt_messages` row, kind
"inbound", idem_key = the gateway's message id), so a redelivered webhook does nothing twice."""

from __future__ import annotations

from typing import Any

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.marketing.messages import _insert
from merx.marketing.models import Message
from merx.support import public as support


def _customer_by_phone(uow: UnitOfWork, phone: str) -> int | None:
    try:
        found = customers.find_customer(uow, phone=customers.normalize_phone(phone, uow.settings.default_phone_region,
                                                                              "from"))
    except ValidationProblem:
        return None
    return found.id if found is not None else None


def receive(uow: UnitOfWork, *, channel: str, sender: str, text: str, gateway_id: str) -> dict[str, Any]:
    """Records the incoming message, then answers it (reply queued for the gateway) or opens a
    ticket. Commits."""
    now = utcnow()
    idem = f"inbound:{channel}:{gateway_id}"[:200]
    customer_id = _customer_by_phone(uow, sender)
    inserted = uow.session.execute(_insert(uow.dialect)(Message).values(
        idem_key=idem, kind="inbound", channel=channel, customer_id=customer_id, address=sender[:320],
        template_key="inbound", subject=None, body_text=text, status="received", due_at=now, attempts=0,
        created_at=now, sent_at=now).on_conflict_do_nothing(index_elements=["idem_key"])
        .returning(Message.id)).scalar()
    if inserted is None:
        uow.rollback()
        return {"duplicate": True, "answered": None, "ticket_id": None}
    match = support.match_auto_reply(uow, text)
    if match is not None:
        uow.session.add(Message(idem_key=f"{idem}:reply"[:200], kind="reply", channel=channel,
                                customer_id=customer_id, address=sender[:320], template_key="auto_reply",
                                subject=None, body_text=match.reply, status="queued", due_at=now, attempts=0,
                                reason=f"auto-reply rule {match.rule}", created_at=now))
        uow.commit()
        return {"duplicate": False, "answered": match.rule, "ticket_id": None}
    ticket = support.create_ticket(uow, support.TicketCreate(
        kind="question", subject=f"{channel.upper()} message from {sender}"[:300], body=text, channel="messaging",
        customer_id=customer_id, requester_name=sender[:200]))  # commits the inbound row with the ticket
    return {"duplicate": False, "answered": None, "ticket_id": ticket.id}
