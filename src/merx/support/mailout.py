"""Sending the mail support queued (agent replies, CSAT and NPS invitations).

A use case writes an `OutgoingMail` row with its Message-ID in its own transaction; this
module sends it afterwards, outside any transaction:

1. claim: a conditional UPDATE queued -> sending with a lease (one sender per message across
   processes; a claim whose lease ran out is taken again);
2. send through `core.mail` (SMTP, or the log when MERX_SMTP_URL is unset: `not_sent`);
3. record: sending -> sent (or failed after a permanent refusal / queued again with backoff).

A crash before step 2 finishes leaves the claim to expire and the message is sent later; a
crash between the server's acceptance and step 3 sends it once more with the same
Message-ID, which receiving clients show as one message. Nothing is lost and nothing is sent
under two ids. It runs from the `support.send_mail` job and, for promptness, from a handler
right after the commit that queued the mail."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from merx.core import mail as core_mail
from merx.core.db import Database, utcnow
from merx.support import rules
from merx.support.models import OutgoingMail

log = logging.getLogger("merx.support.mail")
LEASE_SECONDS = 120
MAX_ATTEMPTS = 8


def _claim(db: Database, now: dt.datetime, limit: int) -> list[int]:
    t = OutgoingMail.__table__
    due = sa.or_(sa.and_(t.c.status == "queued",
                         sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now)),
                 sa.and_(t.c.status == "sending", t.c.lease_until <= now))
    with db.read_sessions() as s:
        candidates = list(s.scalars(sa.select(t.c.id).where(due).order_by(t.c.id).limit(limit)))
    claimed = []
    for mail_id in candidates:
        with db.write_sessions() as s:
            result = s.execute(sa.update(t).where(t.c.id == mail_id, due).values(
                status="sending", lease_until=now + dt.timedelta(seconds=LEASE_SECONDS), attempts=t.c.attempts + 1))
            s.commit()
        if result.rowcount == 1:
            claimed.append(mail_id)
    return claimed


def send_pending(db: Database, settings: Any = None, *, now: dt.datetime | None = None, limit: int = 50) -> dict[str, int]:
    settings = settings or db.settings
    now = now or utcnow()
    transport = core_mail.transport_for(settings)
    counts = {"sent": 0, "not_sent": 0, "failed": 0, "retry": 0}
    for mail_id in _claim(db, now, limit):
        with db.read_sessions() as s:
            row = s.get(OutgoingMail, mail_id)
            assert row is not None
            message = core_mail.build_message(settings, to=row.to_address, subject=row.subject, text=row.body_text,
                                              message_id=row.message_id, in_reply_to=row.in_reply_to,
                                              references=list(row.references or []) or None,
                                              reply_to=settings.mail_from, headers={"Auto-Submitted": "auto-replied"}
                                              if row.purpose != "reply" else None)
            attempts = row.attempts
        values: dict[str, Any]
        try:
            transport.send(message)  # no transaction is open here
            status = "sent" if core_mail.delivers(transport) else "not_sent"
            values = {"status": status, "sent_at": utcnow(), "last_error": None, "lease_until": None}
            counts[status] += 1
        except core_mail.MailError as e:
            if e.permanent or attempts >= MAX_ATTEMPTS:
                values = {"status": "failed", "last_error": str(e)[:500], "lease_until": None}
                counts["failed"] += 1
            else:
                delay = dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
                values = {"status": "queued", "last_error": str(e)[:500], "lease_until": None,
                          "next_attempt_at": now + delay}
                counts["retry"] += 1
            log.warning("support mail %s: %s", mail_id, e)
        with db.write_sessions() as s:
            s.execute(sa.update(OutgoingMail.__table__).where(OutgoingMail.__table__.c.id == mail_id,
                                                              OutgoingMail.__table__.c.status == "sending")
                      .values(**values))
            s.commit()
    return counts


def pending_count(db: Database) -> int:
    with db.read_sessions() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(OutgoingMail).where(
            OutgoingMail.status.in_(("queued", "sending")))) or 0)


__all__ = ["send_pending", "pending_count", "rules"]
