"""Campaigns to CRM segments, now or on a schedule, with an optional A/B test.

Starting a campaign snapshots its segment into `mkt_campaign_recipients` in a shuffled order
(the seed is recorded, so the A/B split is reproducible). The `marketing.campaigns` job then
prepares it in batches: each batch reads the next positions, checks consent for the channel
and the suppression list, renders each recipient's message (a template error skips that
recipient with the reason) and inserts the messages with `next_position` advanced, in one
transaction. A crash loses at most an uncommitted batch, which the next run prepares again;
the messages' unique `idem_key` (campaign + customer) stops any double insert. The sender
(sending.py) delivers them, checking consent, windows and caps again at send time.

A/B: the first `ab_test_fraction` of the shuffled recipients get variant A or B alternately;
the campaign then waits (`testing`) until `pick_winner` finds a significant difference in
click rate (two-proportion z-test, p < 0.05) and sends the winner to the rest."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from typing import Any

import sqlalchemy as sa

from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.customers import public as customers
from merx.marketing import defaults, rules
from merx.marketing.messages import customer_context, insert_rows, message_row, shop_context, suppressed
from merx.marketing import inapp
from merx.marketing.models import Campaign, CampaignRecipient, Message
from merx.marketing.settings import get_marketing_settings
from merx.marketing.templating import TemplateBook

CHANNELS = ("email", "sms", "messaging", "inapp")


def _campaign(uow: UnitOfWork, campaign_id: int, *, for_update: bool = False) -> Campaign:
    stmt = sa.select(Campaign).where(Campaign.id == campaign_id)
    if for_update and uow.dialect == "postgresql":
        stmt = stmt.with_for_update()
    c = uow.session.scalar(stmt)
    if c is None:
        raise NotFound(f"No campaign {campaign_id}")
    return c


def _check_template(uow: UnitOfWork, key: str, field: str) -> None:
    book = TemplateBook(uow)
    try:
        book.source(key, None)
    except NotFound:
        raise ValidationProblem.for_field(field, f"no template {key!r}", "unknown_template") from None


def _check_campaign(uow: UnitOfWork, *, segment_id: int, template: str, channel: str, template_b: str | None,
                    ab_test_fraction: float) -> None:
    if channel not in CHANNELS:
        raise ValidationProblem.for_field("channel", f"one of {', '.join(CHANNELS)}")
    try:
        crm.get_segment(uow, segment_id)
    except NotFound:
        raise ValidationProblem.for_field("segment_id", "no such segment", "unknown_segment") from None
    _check_template(uow, template, "template")
    if template_b is not None:
        _check_template(uow, template_b, "template_b")
    if (template_b is None) != (ab_test_fraction == 0):
        raise ValidationProblem.for_field("ab_test_fraction", "an A/B test needs template_b and a fraction above 0")
    if not 0 <= ab_test_fraction <= 0.5:
        raise ValidationProblem.for_field("ab_test_fraction", "between 0 and 0.5")


def create_campaign(uow: UnitOfWork, *, name: str, segment_id: int, template: str, channel: str = "email",
                    template_b: str | None = None, ab_test_fraction: float = 0.0) -> Campaign:
    _check_campaign(uow, segment_id=segment_id, template=template, channel=channel, template_b=template_b,
                    ab_test_fraction=ab_test_fraction)
    c = Campaign(name=name, segment_id=segment_id, template_key=template, template_b_key=template_b, channel=channel,
                 ab_test_fraction=ab_test_fraction, status="draft")
    uow.session.add(c)
    uow.session.flush()
    uow.audit("create", "campaign", c.id, after={"name": name, "segment_id": segment_id, "template": template})
    uow.created("campaign", c.id)
    uow.commit()
    return c


def update_campaign(uow: UnitOfWork, campaign_id: int, changes: dict[str, Any]) -> Campaign:
    """Change a draft's name, segment, channel, templates or A/B split (the fields given); once
    started or scheduled its audience and messages are fixed (409)."""
    c = _campaign(uow, campaign_id, for_update=True)
    if c.status != "draft":
        raise Conflict(f"Campaign {campaign_id} is {c.status}; only a draft can be edited", type_slug="campaign-state")
    current = {"name": c.name, "segment_id": c.segment_id, "template": c.template_key, "channel": c.channel,
               "template_b": c.template_b_key, "ab_test_fraction": c.ab_test_fraction}
    wanted = {**current, **changes}
    _check_campaign(uow, segment_id=wanted["segment_id"], template=wanted["template"], channel=wanted["channel"],
                    template_b=wanted["template_b"], ab_test_fraction=wanted["ab_test_fraction"])
    c.name, c.segment_id, c.channel = wanted["name"], wanted["segment_id"], wanted["channel"]
    c.template_key, c.template_b_key = wanted["template"], wanted["template_b"]
    c.ab_test_fraction = wanted["ab_test_fraction"]
    if wanted != current:
        c.version += 1
        uow.audit("update", "campaign", c.id, before=current, after=wanted)
    uow.commit()
    return c


def schedule(uow: UnitOfWork, campaign_id: int, at: dt.datetime | None, now: dt.datetime) -> Campaign:
    c = _campaign(uow, campaign_id, for_update=True)
    if c.status != "draft":
        raise Conflict(f"Campaign {campaign_id} is {c.status}; only a draft can be started", type_slug="campaign-state")
    if at is not None and at.tzinfo is None:
        raise ValidationProblem.for_field("at", "needs a time zone")
    c.status, c.scheduled_at = "scheduled", at or now
    c.version += 1
    uow.audit("schedule", "campaign", c.id, after={"at": c.scheduled_at.isoformat()})
    uow.commit()
    return c


def cancel(uow: UnitOfWork, campaign_id: int) -> Campaign:
    c = _campaign(uow, campaign_id, for_update=True)
    if c.status in ("sent", "cancelled"):
        raise Conflict(f"Campaign {campaign_id} is already {c.status}", type_slug="campaign-state")
    c.status = "cancelled"
    uow.session.execute(sa.update(Message).where(Message.campaign_id == c.id, Message.status == "queued")
                        .values(status="cancelled", reason="campaign cancelled"))
    uow.audit("cancel", "campaign", c.id)
    uow.commit()
    return c


def _snapshot(uow: UnitOfWork, c: Campaign, now: dt.datetime) -> None:
    members = crm.member_ids(uow, c.segment_id)
    c.seed = secrets.randbits(48)
    random.Random(c.seed).shuffle(members)
    rows = [{"campaign_id": c.id, "position": i, "customer_id": cid} for i, cid in enumerate(members)]
    for start in range(0, len(rows), 1000):
        uow.session.execute(sa.insert(CampaignRecipient), rows[start:start + 1000])
    c.recipients_total = len(rows)
    c.test_until = int(len(rows) * c.ab_test_fraction) if c.template_b_key else 0
    c.next_position, c.started_at = 0, now
    c.status = "testing" if c.test_until else "sending"


def prepare_batch(uow: UnitOfWork, campaign_id: int, now: dt.datetime, batch: int | None = None) -> int:
    """Prepares the next batch of a started campaign (snapshotting it first when scheduled and
    due). Returns how many recipients it covered (0: nothing to do now). Commits."""
    c = _campaign(uow, campaign_id, for_update=True)
    if c.status == "scheduled":
        if c.scheduled_at is None or c.scheduled_at > now:
            uow.commit()
            return 0
        _snapshot(uow, c, now)
    if c.status not in ("testing", "sending"):
        uow.commit()
        return 0
    limit = c.test_until if c.status == "testing" else c.recipients_total
    size = batch or get_marketing_settings().batch_size
    end = min(c.next_position + size, limit)
    if c.next_position >= end:
        if c.status == "sending":
            c.status, c.finished_at = "sent", now
        uow.commit()
        return 0
    recipients = list(uow.session.execute(sa.select(CampaignRecipient.position, CampaignRecipient.customer_id).where(
        CampaignRecipient.campaign_id == c.id, CampaignRecipient.position >= c.next_position,
        CampaignRecipient.position < end).order_by(CampaignRecipient.position)))
    ids = [cid for _, cid in recipients]
    people = {p["id"]: p for p in customers.customer_attributes(uow, ids)}
    consent = crm.consented_ids(uow, ids, c.channel)
    addresses = {cid: inapp.address_for(c.channel, dict(people[cid], id=cid)) for cid in ids if cid in people}
    blocked = suppressed(uow, c.channel, [a.lower() for a in addresses.values() if a])
    book = TemplateBook(uow, c.channel)
    shop = shop_context()
    rows = []
    for position, cid in recipients:
        variant, template = _variant(c, position)
        person = people.get(cid)
        address = addresses.get(cid)
        common = {"idem_key": f"campaign:{c.id}:{cid}", "kind": "marketing", "channel": c.channel,
                  "customer": dict(person or {}, id=cid), "address": address, "template_key": template,
                  "campaign_id": c.id, "variant": variant, "due_at": now,
                  "context": {"customer": customer_context(person or {}), "shop": shop,
                              "campaign": {"id": c.id, "name": c.name}}}
        if person is None:
            rows.append(message_row(uow, book, **common, status="skipped", reason="customer erased or merged"))
        elif cid not in consent:
            rows.append(message_row(uow, book, **common, status="skipped", reason=f"no {c.channel} marketing consent"))
        elif address and address.lower() in blocked:
            rows.append(message_row(uow, book, **common, status="suppressed", reason="address on the suppression list"))
        else:
            rows.append(message_row(uow, book, **common))
    insert_rows(uow, rows)
    c.next_position = end
    if c.status == "sending" and end >= c.recipients_total:
        c.status, c.finished_at = "sent", now
    uow.commit()
    return len(recipients)


def _variant(c: Campaign, position: int) -> tuple[str | None, str]:
    if not c.template_b_key:
        return None, c.template_key
    if position < c.test_until:
        return ("A", c.template_key) if position % 2 == 0 else ("B", c.template_b_key)
    return c.winner, c.template_b_key if c.winner == "B" else c.template_key


def due_campaigns(uow: UnitOfWork, now: dt.datetime) -> list[int]:
    return list(uow.session.scalars(sa.select(Campaign.id).where(sa.or_(
        sa.and_(Campaign.status == "scheduled", Campaign.scheduled_at <= now),
        Campaign.status == "sending",
        sa.and_(Campaign.status == "testing", Campaign.next_position < Campaign.test_until))).order_by(Campaign.id)))


def variant_stats(uow: UnitOfWork, campaign_id: int) -> dict[str, dict[str, int]]:
    out = {}
    for variant, sent, clicked in uow.session.execute(sa.select(
            Message.variant, sa.func.count(), sa.func.count(Message.clicked_at)).where(
            Message.campaign_id == campaign_id, Message.status == "sent", Message.variant.is_not(None))
            .group_by(Message.variant)):
        out[variant] = {"sent": int(sent), "clicked": int(clicked)}
    return out


def pick_winner(uow: UnitOfWork, campaign_id: int, *, alpha: float = 0.05) -> Campaign:
    """Runs the significance test on the test group's click rates; a significant winner is sent
    to the rest of the segment (the campaign goes on `sending`). 409 while not significant."""
    c = _campaign(uow, campaign_id, for_update=True)
    if c.status != "testing":
        raise Conflict(f"Campaign {campaign_id} is not in an A/B test (status {c.status})", type_slug="campaign-state")
    stats = variant_stats(uow, c.id)
    a, b = stats.get("A", {"sent": 0, "clicked": 0}), stats.get("B", {"sent": 0, "clicked": 0})
    result = rules.two_proportion_test(a["clicked"], a["sent"], b["clicked"], b["sent"], alpha)
    c.ab_result = {"a": a, "b": b, "rate_a": result.rate_a, "rate_b": result.rate_b, "z": result.z,
                   "p_value": result.p_value, "alpha": alpha, "significant": result.significant}
    if not result.significant:
        uow.commit()
        raise Conflict(f"No significant difference yet (p = {result.p_value:.3f}, needs < {alpha}); "
                       f"A {a['clicked']}/{a['sent']} clicks, B {b['clicked']}/{b['sent']}", type_slug="not-significant",
                       extra={"ab_result": c.ab_result})
    c.winner, c.status = result.winner, "sending"
    c.version += 1
    uow.audit("ab_winner", "campaign", c.id, after=c.ab_result | {"winner": c.winner})
    uow.commit()
    return c


def templates_available() -> list[str]:
    return sorted(defaults.BUILT_IN)
