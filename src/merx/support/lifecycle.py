"""Support's part in the customer lifecycle (merx.core.lifecycle): tickets, chats, reviews,
survey answers and follow-up tasks hold customer ids. A merge moves them to the survivor and
un-merge moves exactly those back; erasure unlinks the customer and blanks the personal
text they wrote (messages, chat lines, review text, survey comments) and the addresses kept
on tickets and chats; the export lists them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.support.models import Chat, ChatMessage, FollowUpTask, Review, SurveyResponse, Ticket, TicketMessage

_HOLDERS = {"tickets": Ticket, "chats": Chat, "reviews": Review, "survey_responses": SurveyResponse,
            "follow_up_tasks": FollowUpTask}
ERASED = "[erased]"


def _move(uow: UnitOfWork, model: Any, ids: list[int], from_id: int, to_id: int) -> None:
    for i in range(0, len(ids), 500):
        uow.session.execute(sa.update(model).where(model.id.in_(ids[i:i + 500]), model.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))


class SupportParticipant:
    name = "support"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        moved: MovedRefs = {}
        for key, model in _HOLDERS.items():
            ids = list(uow.session.scalars(sa.select(model.id).where(model.customer_id == from_id).order_by(model.id)))
            _move(uow, model, ids, from_id, into_id)
            moved[key] = ids
        return moved

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        for key, model in _HOLDERS.items():
            _move(uow, model, [int(i) for i in moved.get(key) or []], survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        s = uow.session
        ticket_ids = list(s.scalars(sa.select(Ticket.id).where(Ticket.customer_id == customer_id)))
        chat_ids = list(s.scalars(sa.select(Chat.id).where(Chat.customer_id == customer_id)))
        if ticket_ids:
            s.execute(sa.update(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids),
                                                     TicketMessage.kind == "in")
                      .values(body_text=ERASED, body_html=None, author_email=None)
                      .execution_options(synchronize_session=False))
            s.execute(sa.update(Ticket).where(Ticket.id.in_(ticket_ids)).values(
                customer_id=None, requester_email=None, requester_name=None).execution_options(synchronize_session=False))
        if chat_ids:
            s.execute(sa.update(ChatMessage).where(ChatMessage.chat_id.in_(chat_ids), ChatMessage.sender == "visitor")
                      .values(body=ERASED).execution_options(synchronize_session=False))
            s.execute(sa.update(Chat).where(Chat.id.in_(chat_ids)).values(customer_id=None, email=None, name=None,
                                                                          visitor_id=None)
                      .execution_options(synchronize_session=False))
        reviews = s.execute(sa.update(Review).where(Review.customer_id == customer_id).values(
            customer_id=None, body=ERASED, title=None).execution_options(synchronize_session=False)).rowcount or 0
        answers = s.execute(sa.update(SurveyResponse).where(SurveyResponse.customer_id == customer_id).values(
            customer_id=None, email=None, comment=None).execution_options(synchronize_session=False)).rowcount or 0
        tasks = s.execute(sa.update(FollowUpTask).where(FollowUpTask.customer_id == customer_id).values(
            customer_id=None, outcome_note=None).execution_options(synchronize_session=False)).rowcount or 0
        return {"tickets": len(ticket_ids), "chats": len(chat_ids), "reviews": reviews, "survey_responses": answers,
                "follow_up_tasks": tasks}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        s = uow.session
        tickets = []
        for t in s.scalars(sa.select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id)):
            messages = [{"kind": m.kind, "text": m.body_text, "at": m.created_at} for m in s.scalars(
                sa.select(TicketMessage).where(TicketMessage.ticket_id == t.id, TicketMessage.kind != "note")
                .order_by(TicketMessage.id))]
            tickets.append({"ticket": t.token, "kind": t.kind, "subject": t.subject, "status": t.status,
                            "opened_at": t.created_at, "messages": messages})
        chats = [{"chat": c.id, "at": c.created_at, "messages": [
            {"from": m.sender, "text": m.body, "at": m.created_at} for m in s.scalars(
                sa.select(ChatMessage).where(ChatMessage.chat_id == c.id).order_by(ChatMessage.id))]}
            for c in s.scalars(sa.select(Chat).where(Chat.customer_id == customer_id).order_by(Chat.id))]
        reviews = [{"product_id": r.product_id, "rating": r.rating, "title": r.title, "text": r.body,
                    "status": r.status, "at": r.created_at}
                   for r in s.scalars(sa.select(Review).where(Review.customer_id == customer_id).order_by(Review.id))]
        answers = [{"kind": a.kind, "score": a.score, "comment": a.comment, "at": a.answered_at}
                   for a in s.scalars(sa.select(SurveyResponse).where(SurveyResponse.customer_id == customer_id,
                                                                      SurveyResponse.score.is_not(None)))]
        return {"support_tickets": tickets, "support_chats": chats, "product_reviews": reviews, "survey_answers": answers}


PARTICIPANT = SupportParticipant()
