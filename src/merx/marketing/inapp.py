"""The in-app/web channel: a message "sent" on channel `inapp` is stored (its `mkt_messages`
row is the inbox entry) and shown on the storefront to the browser it belongs to, with read
and unread (`opened_at` is the moment it was read, so campaign reports count reads as opens).

Whose inbox a browser sees: the storefront has no shopper sign-in, so a browser is known by its
marketing cookie (`merx_mkt`, VISITOR_COOKIE). An in-app message goes to a customer (address
`customer:<id>`), shown to every browser linked to that customer (the checkout links the
browser that ordered: a `link` touch), or to one browser (`visitor:<cookie>`). Campaigns and
journeys on `inapp` go through the same consent (CRM channel `inapp`), send windows and caps
as any marketing message."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.uow import UnitOfWork
from merx.marketing.models import Message, Touch

CHANNEL = "inapp"
INBOX_SIZE = 30


def address_for(channel: str, person: dict[str, Any] | None) -> str | None:
    """The address of a customer on a channel: email, phone (SMS, messaging apps), or their
    in-app inbox."""
    if not person:
        return None
    if channel == "email":
        return person.get("email")
    if channel == CHANNEL:
        return f"customer:{person['id']}" if person.get("id") is not None else None
    return person.get("phone")


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def valid_visitor(value: str | None) -> str | None:
    if value and len(value) <= 40 and value.replace("-", "").replace("_", "").isalnum():
        return value
    return None


def link_browser(uow: UnitOfWork, visitor: str, customer_id: int) -> None:
    """Remembers that this browser belongs to the customer (their in-app inbox). No commit."""
    exists = uow.session.scalar(sa.select(Touch.id).where(Touch.kind == "link", Touch.visitor == visitor[:40],
                                                          Touch.customer_id == customer_id).limit(1))
    if exists is None:
        uow.session.add(Touch(kind="link", visitor=visitor[:40], customer_id=customer_id, occurred_at=utcnow()))


def _owner_filter(uow: UnitOfWork, visitor: str) -> Any:
    linked = sa.select(Touch.customer_id).where(Touch.kind == "link", Touch.visitor == visitor[:40],
                                                Touch.customer_id.is_not(None))
    return sa.or_(Message.address == f"visitor:{visitor[:40]}", Message.customer_id.in_(linked))


def _inbox_stmt(uow: UnitOfWork, visitor: str | None, customer_id: int | None = None) -> Any:
    """A signed-in shopper's inbox is their own messages, whichever browser they use (and
    nobody else's who used it before); otherwise the browser's, as linked at checkout."""
    owner = Message.customer_id == customer_id if customer_id is not None else _owner_filter(uow, visitor or "")
    return sa.select(Message).where(Message.channel == CHANNEL, Message.status == "sent", owner)


def inbox(uow: UnitOfWork, visitor: str | None, customer_id: int | None = None) -> list[dict[str, Any]]:
    """The browser's (or the signed-in shopper's) in-app messages, newest first."""
    visitor = valid_visitor(visitor)
    if visitor is None and customer_id is None:
        return []
    rows = uow.session.scalars(_inbox_stmt(uow, visitor, customer_id).order_by(Message.sent_at.desc(), Message.id.desc())
                               .limit(INBOX_SIZE))
    return [{"id": m.id, "subject": m.subject, "text": m.body_text, "sent_at": m.sent_at,
             "read": m.opened_at is not None} for m in rows]


def unread_count(uow: UnitOfWork, visitor: str | None, customer_id: int | None = None) -> int:
    visitor = valid_visitor(visitor)
    if visitor is None and customer_id is None:
        return 0
    stmt = _inbox_stmt(uow, visitor, customer_id).where(Message.opened_at.is_(None)).with_only_columns(sa.func.count())
    return int(uow.session.scalar(stmt) or 0)


def mark_read(uow: UnitOfWork, visitor: str | None, message_id: int, *, read: bool = True,
              at: dt.datetime | None = None, customer_id: int | None = None) -> bool:
    """Marks one of this browser's messages read (or unread again). False when it is not
    theirs (nothing changes). Commits."""
    visitor = valid_visitor(visitor)
    if visitor is None and customer_id is None:
        return False
    m = uow.session.scalar(_inbox_stmt(uow, visitor, customer_id).where(Message.id == message_id))
    if m is None:
        return False
    if read and m.opened_at is None:
        m.opened_at = at or utcnow()
    elif not read:
        m.opened_at = None
    uow.commit()
    return True
