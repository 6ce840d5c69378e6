"""Reads for the API and the console: pages of campaigns, journeys and their enrolments,
the message log, QR codes. Returns schemas."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.errors import NotFound
from merx.core.pagination import check_limit, paginate, text_search
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.marketing.models import Campaign, Journey, JourneyEnrolment, Message, QrCode, Touch
from merx.marketing.schemas import CampaignOut, EnrolmentOut, JourneyOut, MessageOut, QrOut
from merx.marketing.tracking import short_url

MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "skipped", "suppressed", "cancelled", "uncertain", "not_sent",
                    "received")


def campaign_out(c: Campaign) -> CampaignOut:
    return CampaignOut(id=c.id, name=c.name, segment_id=c.segment_id, channel=c.channel, template=c.template_key,
                       template_b=c.template_b_key, ab_test_fraction=c.ab_test_fraction, status=c.status,
                       scheduled_at=c.scheduled_at, started_at=c.started_at, finished_at=c.finished_at,
                       recipients_total=c.recipients_total, prepared=c.next_position, winner=c.winner,
                       ab_result=c.ab_result, seed=c.seed)


def list_campaigns(uow: UnitOfWork, *, status: str | None, limit: int | None, cursor: str | None,
                   q: str | None = None) -> Page[CampaignOut]:
    """Newest first; `q`: the name contains it (the console's search box)."""
    stmt = text_search(sa.select(Campaign), q, Campaign.name)
    if status:
        stmt = stmt.where(Campaign.status == status)
    items, nxt = paginate(uow.session, stmt, Campaign.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=campaign_out, descending=True)
    return Page[CampaignOut](items=items, next_cursor=nxt)


def get_campaign(uow: UnitOfWork, campaign_id: int) -> CampaignOut:
    c = uow.session.get(Campaign, campaign_id)
    if c is None:
        raise NotFound(f"No campaign {campaign_id}")
    return campaign_out(c)


def _journey_out(j: Journey, states: dict[str, int]) -> JourneyOut:
    return JourneyOut(id=j.id, key=j.key, name=j.name, trigger=j.trigger, channel=j.channel, steps=j.steps,
                      active=j.active, states=states)


def list_journeys(uow: UnitOfWork) -> list[JourneyOut]:
    states: dict[int, dict[str, int]] = {}
    for jid, state, n in uow.session.execute(sa.select(JourneyEnrolment.journey_id, JourneyEnrolment.state,
                                                       sa.func.count()).group_by(JourneyEnrolment.journey_id,
                                                                                 JourneyEnrolment.state)):
        states.setdefault(jid, {})[state] = int(n)
    return [_journey_out(j, states.get(j.id, {})) for j in uow.session.scalars(sa.select(Journey).order_by(Journey.id))]


def get_journey(uow: UnitOfWork, journey_id: int) -> JourneyOut:
    for j in list_journeys(uow):
        if j.id == journey_id:
            return j
    raise NotFound(f"No journey {journey_id}")


def enrolments(uow: UnitOfWork, journey_id: int, *, state: str | None, customer_id: int | None, limit: int | None,
               cursor: str | None) -> Page[EnrolmentOut]:
    get_journey(uow, journey_id)
    stmt = sa.select(JourneyEnrolment).where(JourneyEnrolment.journey_id == journey_id)
    if state:
        stmt = stmt.where(JourneyEnrolment.state == state)
    if customer_id:
        stmt = stmt.where(JourneyEnrolment.customer_id == customer_id)
    items, nxt = paginate(uow.session, stmt, JourneyEnrolment.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda e: EnrolmentOut(id=e.id, journey_id=e.journey_id, customer_id=e.customer_id,
                                                         reference=e.reference, step=e.step, state=e.state,
                                                         next_at=e.next_at, exit_reason=e.exit_reason,
                                                         entered_at=e.entered_at), descending=True)
    return Page[EnrolmentOut](items=items, next_cursor=nxt)


def message_out(m: Message) -> MessageOut:
    return MessageOut(id=m.id, kind=m.kind, channel=m.channel, customer_id=m.customer_id, address=m.address,
                      locale=m.locale, template=m.template_key, campaign_id=m.campaign_id, enrolment_id=m.enrolment_id,
                      variant=m.variant, subject=m.subject, status=m.status, reason=m.reason, due_at=m.due_at,
                      created_at=m.created_at, sent_at=m.sent_at, opened_at=m.opened_at, clicked_at=m.clicked_at,
                      attempts=m.attempts)


def messages_stmt(*, status: str | None = None, customer_id: int | None = None, campaign_id: int | None = None,
                  kind: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(Message)
    if status:
        stmt = stmt.where(Message.status == status)
    if customer_id:
        stmt = stmt.where(Message.customer_id == customer_id)
    if campaign_id:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    if kind:
        stmt = stmt.where(Message.kind == kind)
    return stmt


def list_messages(uow: UnitOfWork, *, status: str | None, customer_id: int | None, campaign_id: int | None,
                  kind: str | None, limit: int | None, cursor: str | None) -> Page[MessageOut]:
    stmt = messages_stmt(status=status, customer_id=customer_id, campaign_id=campaign_id, kind=kind)
    items, nxt = paginate(uow.session, stmt, Message.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=message_out, descending=True)
    return Page[MessageOut](items=items, next_cursor=nxt)


def get_message(uow: UnitOfWork, message_id: int) -> dict[str, Any]:
    m = uow.session.get(Message, message_id)
    if m is None:
        raise NotFound(f"No message {message_id}")
    return message_out(m).model_dump() | {"body_text": m.body_text, "body_html": m.body_html}


def qr_out(q: QrCode, scans: int) -> QrOut:
    return QrOut(id=q.id, code=q.code, label=q.label, source=q.source, campaign_id=q.campaign_id,
                 target_url=q.target_url, short_url=short_url(q.code), scans=scans, created_at=q.created_at)


def list_qr(uow: UnitOfWork, *, limit: int | None, cursor: str | None) -> Page[QrOut]:
    items, nxt = paginate(uow.session, sa.select(QrCode), QrCode.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          descending=True)
    scans = _scans(uow, [q.id for q in items])
    return Page[QrOut](items=[qr_out(q, scans.get(q.id, 0)) for q in items], next_cursor=nxt)


def _scans(uow: UnitOfWork, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(uow.session.execute(sa.select(Touch.qr_code_id, sa.func.count()).where(
        Touch.kind == "qr_scan", Touch.qr_code_id.in_(ids)).group_by(Touch.qr_code_id)).all())


def qr_detail(uow: UnitOfWork, q: QrCode) -> QrOut:
    return qr_out(q, _scans(uow, [q.id]).get(q.id, 0))
