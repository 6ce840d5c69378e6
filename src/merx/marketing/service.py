"""Marketing use cases, re-exported for the routes, the console and other callers: one
module per seam (campaigns, journeys, templates, sending, tracking, reporting, giveaways)."""

from __future__ import annotations

from merx.core.db import utcnow
from merx.core.errors import NotFound
from merx.core.uow import UnitOfWork
from merx.marketing import messages
from merx.marketing.models import Message, Suppression
from merx.marketing.schemas import InboundEvent

import sqlalchemy as sa


def add_suppression(uow: UnitOfWork, channel: str, address: str, reason: str, detail: str | None = None) -> bool:
    added = messages.suppress(uow, channel, address, reason, detail)
    uow.audit("suppress", "address", f"{channel}:{address.strip().lower()}", after={"reason": reason})
    uow.commit()
    return added


def remove_suppression(uow: UnitOfWork, channel: str, address: str) -> None:
    n = uow.session.execute(sa.delete(Suppression).where(Suppression.channel == channel,
                                                         Suppression.address == address.strip().lower())).rowcount
    if not n:
        raise NotFound(f"{address} is not suppressed on {channel}")
    uow.audit("unsuppress", "address", f"{channel}:{address.strip().lower()}")
    uow.commit()


def list_suppressions(uow: UnitOfWork, limit: int = 500) -> list[dict[str, object]]:
    return [{"channel": s.channel, "address": s.address, "reason": s.reason, "detail": s.detail,
             "created_at": s.created_at} for s in uow.session.scalars(
        sa.select(Suppression).order_by(Suppression.id.desc()).limit(limit))]


def inbound(uow: UnitOfWork, event: InboundEvent) -> dict[str, object]:
    """A provider's bounce/complaint report: a permanent bounce or any complaint suppresses the
    address on that channel at once; the message (when named) is marked bounced. Commits."""
    address = event.address.strip().lower()
    if event.message:
        m = uow.session.scalar(sa.select(Message).where(Message.idem_key == event.message))
        if m is not None and event.type == "bounce":
            m.bounced_at = m.bounced_at or utcnow()
            m.reason = (event.detail or "bounced")[:500]
    suppressed = False
    if event.type == "complaint" or (event.type == "bounce" and event.permanent):
        suppressed = messages.suppress(uow, event.channel, address, event.type, event.detail)
    uow.audit("inbound", "address", f"{event.channel}:{address}", after={"type": event.type,
                                                                          "permanent": event.permanent})
    uow.commit()
    return {"type": event.type, "address": address, "suppressed": suppressed}
