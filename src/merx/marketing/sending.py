"""The sender: takes due messages from `mkt_messages` and hands them to their provider.

Exactly-once as far as a sender can promise it. A batch is claimed (status `sending`, a
claim token, one transaction), then sent one message at a time in id order, each message's
outcome committed before the next is tried. So after a crash (SIGKILL included) only the
lowest-id `sending` row of a dead claim may have reached the server: recovery marks that one
`uncertain` (shown in the message log, never resent) and puts the rest back in the queue.
A sender that runs past 80 % of its lease stops and releases what it has not sent, so a
recovery never races a live sender.

Marketing messages are checked again at claim time, because things change between queueing
and sending: consent (CRM, latest record per channel), the suppression list, the send
windows and quiet hours in the recipient's local time, and the frequency cap (strictest of
the global and the channel cap, per local day). A message outside its window or over the cap
waits (its `due_at` moves to the next allowed moment); it never goes out at night.
Transactional messages skip those marketing rules but not the suppression list."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.ids import new_ulid
from merx.core.settings import settings_of
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.customers import public as customers
from merx.marketing import providers, recipients, rules
from merx.marketing.messages import sign, suppress, unsubscribe_url
from merx.marketing.models import JourneyEnrolment, Message
from merx.marketing.settings import MarketingSettings, get_marketing_settings

log = logging.getLogger("merx.marketing.sending")
COUNTED = ("sending", "sent", "uncertain")
MAX_ATTEMPTS = 5
_T = Message.__table__


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    not_sent: int = 0
    retried: int = 0
    recovered: int = 0
    claimed: int = 0
    seen: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, other: "DispatchResult") -> None:
        for name in ("sent", "failed", "skipped", "deferred", "not_sent", "retried", "recovered", "claimed", "seen"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (f"sent {self.sent}, failed {self.failed}, skipped {self.skipped}, deferred {self.deferred}, "
                f"not sent (no mail server) {self.not_sent}, retried {self.retried}, recovered {self.recovered}")


def policy(ms: MarketingSettings | None = None) -> rules.SendPolicy:
    ms = ms or get_marketing_settings()
    return rules.policy_from(ms.send_windows, ms.quiet_hours, ms.daily_cap, ms.channel_caps)


def recover_stale(db: Database, now: dt.datetime, ms: MarketingSettings) -> int:
    """Claims older than the lease belong to a dead sender: its lowest unsent message may have
    been delivered (uncertain, not resent), the rest go back to the queue."""
    cutoff = now - dt.timedelta(seconds=ms.claim_lease_seconds)
    stale_filter = (_T.c.status == "sending", _T.c.claimed_at < cutoff)
    with db.read_sessions() as s:  # a read first: an idle pass takes no write lock (SQLite has one)
        if s.scalar(sa.select(_T.c.id).where(*stale_filter).limit(1)) is None:
            return 0
    with db.write_sessions() as s:
        stale = s.execute(sa.select(_T.c.claimed_by, sa.func.min(_T.c.id)).where(*stale_filter)
                          .group_by(_T.c.claimed_by)).all()
        n = 0
        for token, first_id in stale:
            s.execute(sa.update(_T).where(_T.c.id == first_id, _T.c.status == "sending").values(
                status="uncertain", reason="the sender stopped while sending this message; not resent, to never "
                                           "send it twice"))
            n += s.execute(sa.update(_T).where(_T.c.claimed_by == token, _T.c.status == "sending").values(
                status="queued", claimed_by=None, claimed_at=None)).rowcount or 0
        s.commit()
    return n


def _claim(db: Database, now: dt.datetime, limit: int, token: str, pol: rules.SendPolicy,
           ms: MarketingSettings, result: DispatchResult) -> list[dict[str, Any]]:
    """One transaction: decide for each due message (send now, wait, skip) and claim the ones
    to send. Returns the claimed rows in id order."""
    with UnitOfWork(db) as uow:
        s = uow.session
        stmt = sa.select(Message).where(Message.status == "queued", Message.due_at <= now).order_by(
            Message.due_at, Message.id).limit(limit)
        if uow.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(s.scalars(stmt))
        result.seen += len(rows)
        if not rows:
            return []
        marketing = [m for m in rows if m.kind == "marketing" and m.customer_id is not None]
        ids = sorted({m.customer_id for m in marketing})
        people = {c["id"]: c for c in customers.customer_attributes(uow, ids)} if ids else {}
        consent: dict[str, set[int]] = {}
        for channel in sorted({m.channel for m in marketing}):
            consent[channel] = crm.consented_ids(uow, [m.customer_id for m in marketing if m.channel == channel],
                                                 "email" if channel == "email" else channel)
        blocked: dict[str, set[str]] = defaultdict(set)
        for channel in sorted({m.channel for m in rows}):
            addresses = sorted({m.address for m in rows if m.channel == channel and m.address})
            blocked[channel] = _suppressed(uow, channel, addresses)
        exited = _exited_enrolments(uow, [m.enrolment_id for m in rows if m.enrolment_id])
        history = _recent_marketing(uow, ids, now)
        own_zones = recipients.zones_of(uow, ids)
        claimed: list[Message] = []
        for m in rows:
            if m.address and m.address.lower() in blocked[m.channel]:
                m.status, m.reason = "suppressed", "the address is on the suppression list"
                result.skipped += 1
                continue
            if m.enrolment_id in exited:
                m.status, m.reason = "cancelled", f"left the journey: {exited[m.enrolment_id]}"
                result.skipped += 1
                continue
            if m.kind == "marketing":
                if m.customer_id is None or m.customer_id not in consent.get(m.channel, set()):
                    m.status, m.reason = "skipped", f"no {m.channel} marketing consent at send time"
                    result.skipped += 1
                    continue
                person = people.get(m.customer_id)
                if person is None:  # erased or merged since it was queued
                    m.status, m.reason = "skipped", "the customer record is gone (erased or merged)"
                    result.skipped += 1
                    continue
                zone = rules.zone_for(person.get("country"), ms.timezone, own_zones.get(m.customer_id))
                local = now.astimezone(zone)
                if not pol.allowed_at(local):
                    m.due_at = pol.next_send_time(now, zone)
                    result.deferred += 1
                    continue
                today = local.date()
                sent_today = [c for at, c in history.get(m.customer_id, []) if at.astimezone(zone).date() == today]
                if len(sent_today) >= pol.daily_cap or sent_today.count(m.channel) >= pol.cap_for(m.channel):
                    m.due_at = pol.next_send_time(now, zone, not_before_day=today + dt.timedelta(days=1))
                    result.deferred += 1
                    continue
                history.setdefault(m.customer_id, []).append((now, m.channel))
            m.status, m.claimed_by, m.claimed_at = "sending", token, now
            claimed.append(m)
        out = [{"id": m.id, "idem_key": m.idem_key, "kind": m.kind, "channel": m.channel, "customer_id": m.customer_id,
                "address": m.address, "subject": m.subject, "text": m.body_text, "html": m.body_html,
                "attempts": m.attempts, "campaign_id": m.campaign_id} for m in sorted(claimed, key=lambda x: x.id)]
        uow.commit()
    result.claimed += len(out)
    return out


def _suppressed(uow: UnitOfWork, channel: str, addresses: list[str]) -> set[str]:
    from merx.marketing.messages import suppressed

    return {a.lower() for a in suppressed(uow, channel, [a.lower() for a in addresses])}


def _exited_enrolments(uow: UnitOfWork, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: reason or state for i, state, reason in uow.session.execute(
        sa.select(JourneyEnrolment.id, JourneyEnrolment.state, JourneyEnrolment.exit_reason).where(
            JourneyEnrolment.id.in_(sorted(set(ids))), JourneyEnrolment.state == "exited"))}


def _recent_marketing(uow: UnitOfWork, customer_ids: list[int], now: dt.datetime) -> dict[int, list[tuple[dt.datetime, str]]]:
    """Marketing messages each person got (or may have got) in the last two days: enough to
    count any local day that contains `now`."""
    out: dict[int, list[tuple[dt.datetime, str]]] = {}
    since = now - dt.timedelta(days=2)
    for start in range(0, len(customer_ids), 500):
        for cid, at, channel in uow.session.execute(sa.select(Message.customer_id, Message.claimed_at, Message.channel).where(
                Message.kind == "marketing", Message.status.in_(COUNTED), Message.claimed_at >= since,
                Message.customer_id.in_(customer_ids[start:start + 500]))):
            out.setdefault(cid, []).append((at, channel))
    return out


def _outgoing(settings: Any, row: dict[str, Any]) -> providers.Outgoing:
    headers: dict[str, str] = {}
    text, html = row["text"] or "", row["html"]
    if row["kind"] == "marketing" and row["customer_id"] is not None:
        url = unsubscribe_url(settings, row["customer_id"], row["channel"], row["idem_key"])
        # RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to the URL
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        text = f"{text}\n\n--\nUnsubscribe: {url}\n"
        if html:
            pixel = f"{get_marketing_settings().shop_url.rstrip('/')}/m/o/{sign(settings, 'open', {'k': row['idem_key']})}"
            footer = (f'<p style="font-size:12px;color:#777"><a href="{url}">Unsubscribe</a></p>'
                      f'<img src="{pixel}" width="1" height="1" alt="">')
            html = html.replace("</body>", footer + "</body>") if "</body>" in html else html + footer
    return providers.Outgoing(row["idem_key"], row["address"], row["subject"], text, html, headers)


def _finish(db: Database, row_id: int, token: str, **values: Any) -> None:
    with db.write_sessions() as s:
        s.execute(sa.update(_T).where(_T.c.id == row_id, _T.c.claimed_by == token, _T.c.status == "sending")
                  .values(**values))
        s.commit()


def _release(db: Database, ids: list[int], token: str) -> None:
    if not ids:
        return
    with db.write_sessions() as s:
        s.execute(sa.update(_T).where(_T.c.id.in_(ids), _T.c.claimed_by == token, _T.c.status == "sending")
                  .values(status="queued", claimed_by=None, claimed_at=None))
        s.commit()


def dispatch(db: Database, *, now: dt.datetime | None = None, limit: int | None = None,
             settings: Any = None) -> DispatchResult:
    """One batch: recover dead claims, claim due messages, send them. Blocking (SMTP/HTTP);
    run it from a job or worker, never inside a request."""
    now = now or utcnow()
    settings = settings or settings_of(db)
    ms = get_marketing_settings()
    result = DispatchResult()
    result.recovered = recover_stale(db, now, ms)
    token = new_ulid()[:40]
    rows = _claim(db, now, limit or ms.batch_size, token, policy(ms), ms, result)
    if not rows:
        return result
    started = time.monotonic()
    budget = ms.claim_lease_seconds * 0.8
    provider_cache: dict[str, providers.Provider | None] = {}
    try:
        _send_batch(db, rows, token, now, settings, ms, result, provider_cache, started, budget)
    finally:
        for provider in provider_cache.values():
            close = getattr(provider, "close", None)
            if close is not None:
                close()  # ends the batch's SMTP session
    return result


def _send_batch(db: Database, rows: list[dict[str, Any]], token: str, now: dt.datetime, settings: Any,
                ms: Any, result: DispatchResult, provider_cache: dict[str, Any], started: float,
                budget: float) -> None:
    for i, row in enumerate(rows):
        if time.monotonic() - started > budget:
            _release(db, [r["id"] for r in rows[i:]], token)
            break
        channel = row["channel"]
        if channel not in provider_cache:
            provider_cache[channel] = providers.provider_for(channel, settings, ms)
        provider = provider_cache[channel]
        if provider is None:
            _finish(db, row["id"], token, status="failed", reason=f"no provider configured for {channel}")
            result.failed += 1
            continue
        providers.wait_for_turn(channel, ms.provider_rates.get(channel))
        try:
            provider_id = provider.send(_outgoing(settings, row))
        except providers.SendError as e:
            if e.permanent or row["attempts"] + 1 >= MAX_ATTEMPTS:
                _finish(db, row["id"], token, status="failed", reason=str(e)[:500], attempts=row["attempts"] + 1,
                        bounced_at=now if e.permanent else None)
                if e.permanent and row["address"]:
                    with UnitOfWork(db) as uow:
                        suppress(uow, channel, row["address"], "bounce", str(e))
                        uow.commit()
                result.failed += 1
                continue
            # the server is down or busy: this one later, the rest of the batch back to the queue
            _finish(db, row["id"], token, status="queued", claimed_by=None, claimed_at=None, reason=str(e)[:500],
                    attempts=row["attempts"] + 1, due_at=now + dt.timedelta(seconds=60 * 2 ** row["attempts"]))
            _release(db, [r["id"] for r in rows[i + 1:]], token)
            result.retried += 1
            break
        if provider.delivers:
            _finish(db, row["id"], token, status="sent", sent_at=now + dt.timedelta(seconds=time.monotonic() - started), provider=provider.name,
                    provider_id=provider_id[:255], reason=None)
            result.sent += 1
        else:
            _finish(db, row["id"], token, status="not_sent", provider=provider.name,
                    reason="no mail server configured (MERX_SMTP_URL); written to the log only")
            result.not_sent += 1


def dispatch_until_idle(db: Database, *, now: dt.datetime | None = None, max_batches: int = 10_000,
                        settings: Any = None) -> DispatchResult:
    total = DispatchResult()
    for _ in range(max_batches):
        one = dispatch(db, now=now, settings=settings)
        total.add(one)
        if one.seen == 0 or one.retried:
            break
    return total
