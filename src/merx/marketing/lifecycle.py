"""Marketing's part in the customer lifecycle (see merx.core.lifecycle): messages, journey
positions, touches and giveaway entries name a customer. A merge moves messages, touches and
journey positions to the survivor (un-merge moves exactly those back); erasure blanks the
messages' address and content (the status rows stay for the campaign counts), unlinks
touches and journey positions; the export lists the messages sent and the journeys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.marketing.models import GiveawayEntry, JourneyEnrolment, Message, RecipientSetting, Touch

BATCH = 500
_MOVABLE = {"messages": Message, "touches": Touch}


def _move(uow: UnitOfWork, model: Any, ids: list[int], from_id: int, to_id: int) -> None:
    for i in range(0, len(ids), BATCH):
        uow.session.execute(sa.update(model).where(model.id.in_(ids[i:i + BATCH]), model.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))


class MarketingParticipant:
    name = "marketing"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        moved: MovedRefs = {}
        for key, model in _MOVABLE.items():
            ids = list(uow.session.scalars(sa.select(model.id).where(model.customer_id == from_id).order_by(model.id)))
            _move(uow, model, ids, from_id, into_id)
            moved[key] = ids
        # journey positions: the survivor's own enrolment in a journey wins; the merged one's exits
        ids = list(uow.session.scalars(sa.select(JourneyEnrolment.id).where(JourneyEnrolment.customer_id == from_id)))
        if ids:
            uow.session.execute(sa.update(JourneyEnrolment).where(
                JourneyEnrolment.id.in_(ids), JourneyEnrolment.state == "waiting").values(
                state="exited", exit_reason="profile merged").execution_options(synchronize_session=False))
        # the merged profile's own time zone goes to the survivor when it has none
        mine = uow.session.get(RecipientSetting, from_id)
        if mine is not None and uow.session.get(RecipientSetting, into_id) is None:
            uow.session.add(RecipientSetting(customer_id=into_id, timezone=mine.timezone, source=mine.source,
                                             updated_at=mine.updated_at))
        return moved

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        for key, model in _MOVABLE.items():
            _move(uow, model, list(moved.get(key) or []), survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        messages = uow.session.execute(sa.update(Message).where(Message.customer_id == customer_id).values(
            address=None, subject=None, body_text=None, body_html=None, customer_id=None,
            status=sa.case((Message.status == "queued", "cancelled"), else_=Message.status))).rowcount or 0
        touches = uow.session.execute(sa.update(Touch).where(Touch.customer_id == customer_id)
                                      .values(customer_id=None, visitor=None)).rowcount or 0
        journeys = uow.session.execute(sa.delete(JourneyEnrolment).where(
            JourneyEnrolment.customer_id == customer_id)).rowcount or 0
        entries = uow.session.execute(sa.update(GiveawayEntry).where(GiveawayEntry.customer_id == customer_id)
                                      .values(evidence=None)).rowcount or 0
        settings = uow.session.execute(sa.delete(RecipientSetting).where(
            RecipientSetting.customer_id == customer_id)).rowcount or 0
        return {"messages": messages, "touches": touches, "journey positions": journeys, "giveaway entries": entries,
                "recipient settings": settings}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        messages = [{"template": m.template_key, "subject": m.subject, "status": m.status, "sent_at": m.sent_at,
                     "channel": m.channel} for m in uow.session.scalars(
            sa.select(Message).where(Message.customer_id == customer_id).order_by(Message.id))]
        journeys = [{"journey_id": e.journey_id, "state": e.state, "step": e.step, "entered_at": e.entered_at}
                    for e in uow.session.scalars(sa.select(JourneyEnrolment).where(
                        JourneyEnrolment.customer_id == customer_id))]
        own = uow.session.get(RecipientSetting, customer_id)
        return {"messages": messages, "journeys": journeys,
                "time_zone": {"timezone": own.timezone, "source": own.source} if own is not None else None}


PARTICIPANT = MarketingParticipant()
