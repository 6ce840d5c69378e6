"""Support routes: tickets, inbound mail, chats (HTTP, long poll and WebSocket), SLA
policies and report, teams and rules, surveys, reviews, follow-ups, feedback statistics and
the segment canvas. Who may call what is declared here; which records a caller sees is the
service's business."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from merx.core.auth import ANONYMOUS, Principal, Role
from merx.core.errors import Problem, ValidationProblem
from merx.core.idempotency import register_replay
from merx.core.ratelimit import RateLimited, check_rate, limiter_of, rate_limited
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_shopper_uow, get_uow, require
from merx.support import admin, chat, feedback, mailin, paging, reviews, service, sla
from merx.support.schemas import (AssignmentRuleIn, AttachmentOut, AutoReplyIn, CannedReplyIn, CanvasItemIn,
                                  CanvasItemOut, CanvasOut, ChatEscalateIn, ChatMessageIn, ChatMessageOut, ChatOut,
                                  ChatStart, ChatStarted, FollowUpDoneIn, FollowUpRuleIn, FollowUpTaskOut,
                                  InboundResult, MessageOut, NoteIn, ReplyIn, ReviewIn, ReviewModerationIn, ReviewOut,
                                  ReviewReplyIn, SlaPolicyIn, SlaPolicyOut, SurveyAnswerIn, SurveyAnswerOut, SurveyIn,
                                  SurveyOut, TeamIn, TeamOut, TicketCreate, TicketDetail, TicketOut, TicketReturnIn,
                                  TicketUpdate)

router = APIRouter(tags=["support"])
AGENTS = (Role.admin, Role.staff, Role.support_agent)
SETUP = (Role.admin, Role.staff)
CHAT_TOKEN = "X-Chat-Token"
LONG_POLL_MAX_SECONDS = 25

register_replay("ticket", lambda uow, rid: service.get_ticket(uow, int(rid)))
register_replay("chat", lambda uow, rid: {"id": int(rid), "detail": "chat started; its token was in the lost answer"})


# ----------------------------------------------------------------------------------------------
# Tickets
# ----------------------------------------------------------------------------------------------


@router.post("/tickets", response_model=TicketDetail, status_code=201)
def create_ticket(body: TicketCreate, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*AGENTS, Role.customer))) -> TicketDetail:
    """Open a ticket (an agent logging a call or store visit, or a customer's web form)."""
    return service.create_ticket(uow, body)


@router.get("/tickets", response_model=Page[TicketOut])
def list_tickets(status: str | None = None, kind: str | None = None, assignee_id: DbId | None = None,
                 team_id: DbId | None = None, customer_id: DbId | None = None, open_only: bool = False,
                 q: str | None = Query(None, max_length=200), limit: int | None = None, cursor: str | None = None,
                 uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*AGENTS, Role.customer))) -> Page[TicketOut]:
    """Newest first; views per agent (`assignee_id`) and team (`team_id`)."""
    return service.list_tickets(uow, limit=limit, cursor=cursor, status=status, kind=kind, assignee_id=assignee_id,
                                team_id=team_id, customer_id=customer_id, open_only=open_only, q=q)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*AGENTS, Role.customer))) -> TicketDetail:
    return service.get_ticket(uow, ticket_id)


@router.patch("/tickets/{ticket_id}", response_model=TicketOut)
def update_ticket(ticket_id: DbId, body: TicketUpdate, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*AGENTS))) -> TicketOut:
    return service.update_ticket(uow, ticket_id, body)


@router.post("/tickets/{ticket_id}/replies", response_model=MessageOut, status_code=201)
def reply(ticket_id: DbId, body: ReplyIn, uow: UnitOfWork = Depends(get_uow),
          _: Principal = Depends(require(*AGENTS))) -> MessageOut:
    """A public reply: mailed to the requester with threading headers after the commit."""
    return service.reply(uow, ticket_id, body.body, status=body.status)


@router.post("/tickets/{ticket_id}/notes", response_model=MessageOut, status_code=201)
def add_note(ticket_id: DbId, body: NoteIn, uow: UnitOfWork = Depends(get_uow),
             _: Principal = Depends(require(*AGENTS))) -> MessageOut:
    return service.add_note(uow, ticket_id, body.body)


@router.post("/tickets/{ticket_id}/messages", response_model=MessageOut, status_code=201)
def customer_message(ticket_id: DbId, body: NoteIn, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(Role.customer))) -> MessageOut:
    return service.customer_message(uow, ticket_id, body.body)


@router.post("/tickets/{ticket_id}/attachments", response_model=AttachmentOut, status_code=201)
async def add_attachment(ticket_id: DbId, file: UploadFile = File(...), uow: UnitOfWork = Depends(get_uow),
                         _: Principal = Depends(require(*AGENTS, Role.customer))) -> AttachmentOut:
    from merx.support.rules import MAX_ATTACHMENT_BYTES

    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    return await run_in_threadpool(service.add_attachment, uow, ticket_id, filename=file.filename or "attachment",
                                   content_type=file.content_type or "application/octet-stream", data=data)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def get_attachment(ticket_id: DbId, attachment_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*AGENTS, Role.customer))) -> Response:
    """The file, always as a download (never rendered inline by the browser)."""
    meta, data = service.read_attachment(uow, ticket_id, attachment_id)
    return Response(data, media_type=meta.content_type, headers={
        "Content-Disposition": f'attachment; filename="{meta.filename.encode("ascii", "replace").decode()}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"})


@router.post("/tickets/{ticket_id}/return", response_model=TicketOut, status_code=201)
def start_return(ticket_id: DbId, body: TicketReturnIn, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*AGENTS))) -> TicketOut:
    """A return request ticket creates the return in orders."""
    return service.return_from_ticket(uow, ticket_id, [ln.model_dump() for ln in body.lines], body.location)


@router.post("/support/inbound-email", response_model=InboundResult, status_code=201)
async def inbound_email(request: Request, uow: UnitOfWork = Depends(get_uow),
                        _: Principal = Depends(require(*AGENTS))) -> InboundResult:
    """One raw RFC 822 message as the body (Content-Type message/rfc822), as Postmark,
    Mailgun and SES deliver inbound mail: a new ticket or a reply threaded onto its ticket."""
    raw = await request.body()
    return await run_in_threadpool(mailin.receive, uow, raw)


# ----------------------------------------------------------------------------------------------
# Chats
# ----------------------------------------------------------------------------------------------


@router.post("/chats", response_model=ChatStarted, status_code=201,
             dependencies=[Depends(rate_limited("support_chat", anonymous_only=True))])
def start_chat(body: ChatStart, uow: UnitOfWork = Depends(get_shopper_uow)) -> ChatStarted:
    """Anyone may start a chat (anonymous, or a signed-in customer: an `mxs_` bearer, or the
    storefront's shopper cookie with its X-CSRF-Token header): a customer's chat is linked to
    their profile. Keep the returned token: it authorises the visitor's side (header
    X-Chat-Token, or ?token= on the WebSocket)."""
    return chat.start(uow, body)


@router.get("/chats", response_model=Page[ChatOut])
def list_chats(status: str | None = Query("open", max_length=20), limit: int | None = None, cursor: str | None = None,
               uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*AGENTS))) -> Page[ChatOut]:
    """Newest first; `status=` empty for every chat."""
    return paging.chats_page(uow, status=status, limit=limit, cursor=cursor)


@router.get("/chats/{chat_id}", response_model=ChatOut)
def get_chat(chat_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
             x_chat_token: str | None = Header(None)) -> ChatOut:
    return chat.get_chat(uow, chat_id, token=x_chat_token)


@router.post("/chats/{chat_id}/messages", response_model=list[ChatMessageOut], status_code=201,
             dependencies=[Depends(rate_limited("support_chat", anonymous_only=True))])
def post_message(chat_id: DbId, body: ChatMessageIn, uow: UnitOfWork = Depends(get_uow),
                 x_chat_token: str | None = Header(None)) -> list[ChatMessageOut]:
    """A message from the visitor (X-Chat-Token) or an agent ("/shortcut" sends a canned reply)."""
    return chat.post(uow, chat_id, body.body, token=x_chat_token)


@router.get("/chats/{chat_id}/messages", response_model=list[ChatMessageOut])
async def wait_for_messages(request: Request, chat_id: DbId, after: int = Query(0, ge=0, le=2**62),
                            wait: int = Query(0, ge=0, le=LONG_POLL_MAX_SECONDS),
                            x_chat_token: str | None = Header(None)) -> list[ChatMessageOut]:
    """Messages after `after`; with `wait=N` a long poll: answers as soon as one arrives or
    after N seconds with an empty list (the fallback when WebSockets are blocked)."""
    from merx.core.web import get_principal

    principal = await get_principal(request)
    db = request.app.state.db

    def read() -> list[ChatMessageOut]:
        with UnitOfWork(db, principal, readonly=True) as uow:
            return chat.messages_after(uow, chat_id, after, token=x_chat_token)

    found = await run_in_threadpool(read)
    if found or wait == 0:
        return found
    entry = chat.hub.register(chat_id)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline and not await request.is_disconnected():
            try:
                await asyncio.wait_for(entry[1].wait(), timeout=min(chat.POLL_SECONDS, deadline - loop.time()))
            except asyncio.TimeoutError:
                pass
            entry[1].clear()
            found = await run_in_threadpool(read)
            if found:
                return found
        return []
    finally:
        chat.hub.unregister(chat_id, entry)


@router.websocket("/chats/{chat_id}/ws")
async def chat_socket(websocket: WebSocket, chat_id: int, token: str = "", after: int = 0) -> None:
    """The visitor's live channel: send {"body": "..."}; receive {"messages": [...]} as they
    arrive (also an agent's replies) or {"error": {...}} (a flood answers a 429 problem)."""
    db = websocket.app.state.db
    with UnitOfWork(db, ANONYMOUS, readonly=True) as uow:
        try:
            chat.authorise(uow, chat_id, token)
        except Problem:
            await websocket.close(code=4404)
            return
    await websocket.accept()
    last = after
    entry = chat.hub.register(chat_id)
    address = f"addr:{websocket.client.host if websocket.client else 'unknown'}"

    def read(since: int) -> list[dict[str, Any]]:
        with UnitOfWork(db, ANONYMOUS, readonly=True) as uow:
            return [m.model_dump(mode="json") for m in chat.messages_after(uow, chat_id, since, token=token)]

    def write(body: str) -> None:
        with UnitOfWork(db, ANONYMOUS) as uow:
            chat.post(uow, chat_id, body, token=token)

    async def pump() -> None:
        nonlocal last
        while True:
            found = await run_in_threadpool(read, last)
            if found:
                last = found[-1]["id"]
                await websocket.send_json({"messages": found})
            try:
                await asyncio.wait_for(entry[1].wait(), timeout=chat.POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            entry[1].clear()

    sender = asyncio.create_task(pump())
    try:
        while True:
            incoming = await websocket.receive_json()
            body = str((incoming or {}).get("body", "")).strip() if isinstance(incoming, dict) else ""
            try:
                if not body or len(body) > 2000:
                    raise ValidationProblem.for_field("body", "a message is 1 to 2000 characters")
                limiter_of(websocket).hit("support_chat", address)  # type: ignore[arg-type]
                await run_in_threadpool(write, body)
            except Problem as e:
                await websocket.send_json({"error": e.body()})
    except (WebSocketDisconnect, RuntimeError, ValueError):
        pass
    finally:
        sender.cancel()
        chat.hub.unregister(chat_id, entry)


@router.post("/chats/{chat_id}/ticket", response_model=ChatOut, status_code=201)
def escalate_chat(chat_id: DbId, body: ChatEscalateIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*AGENTS))) -> ChatOut:
    """The chat becomes a ticket for follow-up."""
    return chat.escalate(uow, chat_id, body)


@router.post("/chats/{chat_id}/close", response_model=ChatOut)
def close_chat(chat_id: DbId, uow: UnitOfWork = Depends(get_uow), x_chat_token: str | None = Header(None)) -> ChatOut:
    return chat.close(uow, chat_id, token=x_chat_token)


@router.get("/canned-replies", response_model=Page[dict[str, Any]])
def list_canned(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*AGENTS))) -> Page[dict[str, Any]]:
    return paging.canned_page(uow, limit, cursor)


@router.post("/canned-replies", status_code=201)
def create_canned(body: CannedReplyIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*AGENTS))) -> dict[str, Any]:
    return admin.create_canned_reply(uow, body)


@router.get("/auto-replies", response_model=Page[dict[str, Any]])
def list_auto_replies(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                      _: Principal = Depends(require(*AGENTS))) -> Page[dict[str, Any]]:
    return paging.auto_replies_page(uow, limit, cursor)


@router.post("/auto-replies", status_code=201)
def create_auto_reply(body: AutoReplyIn, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(require(*SETUP))) -> dict[str, Any]:
    return admin.create_auto_reply(uow, body)


# ----------------------------------------------------------------------------------------------
# Teams, SLA policies, assignment rules
# ----------------------------------------------------------------------------------------------


@router.post("/support-teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*SETUP))) -> TeamOut:
    return admin.create_team(uow, body)


@router.get("/support-teams", response_model=Page[TeamOut])
def list_teams(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*AGENTS))) -> Page[TeamOut]:
    return paging.teams_page(uow, limit, cursor)


@router.post("/sla-policies", response_model=SlaPolicyOut, status_code=201)
def create_policy(body: SlaPolicyIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*SETUP))) -> SlaPolicyOut:
    return admin.create_policy(uow, body)


@router.get("/sla-policies", response_model=Page[SlaPolicyOut])
def list_policies(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*AGENTS))) -> Page[SlaPolicyOut]:
    """By id; `position` says which policy a new ticket gets first."""
    return paging.policies_page(uow, limit, cursor)


@router.get("/sla-policies/report")
def sla_report(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*AGENTS))) -> list[dict[str, Any]]:
    """Attainment per policy: first responses and resolutions met in time or breached."""
    return sla.report(uow)


@router.post("/assignment-rules", status_code=201)
def create_assignment_rule(body: AssignmentRuleIn, uow: UnitOfWork = Depends(get_uow),
                           _: Principal = Depends(require(*SETUP))) -> dict[str, Any]:
    return admin.create_assignment_rule(uow, body)


@router.get("/assignment-rules", response_model=Page[dict[str, Any]])
def list_assignment_rules(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                          _: Principal = Depends(require(*AGENTS))) -> Page[dict[str, Any]]:
    """By id; `position` says which rule is tried first."""
    return paging.rules_page(uow, limit, cursor)


# ----------------------------------------------------------------------------------------------
# Surveys, follow-ups, statistics, canvas
# ----------------------------------------------------------------------------------------------


@router.post("/surveys", response_model=SurveyOut, status_code=201)
def create_survey(body: SurveyIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*SETUP))) -> SurveyOut:
    """An NPS survey to a segment, sent now and then every `every_days` days."""
    return feedback.create_survey(uow, body)


@router.get("/surveys", response_model=Page[SurveyOut])
def list_surveys(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*AGENTS))) -> Page[SurveyOut]:
    return paging.surveys_page(uow, limit, cursor)


@router.post("/surveys/answers/{token}", response_model=SurveyAnswerOut)
def answer_survey(token: str, body: SurveyAnswerIn, uow: UnitOfWork = Depends(get_uow)) -> SurveyAnswerOut:
    """The answer to a CSAT or NPS invitation; the token from the invitation is the credential."""
    if len(token) > 100:
        raise ValidationProblem.for_field("token", "not an invitation token")
    return SurveyAnswerOut(**feedback.answer(uow, token, body.score, body.comment))


@router.post("/follow-up-rules", status_code=201)
def create_follow_up_rule(body: FollowUpRuleIn, uow: UnitOfWork = Depends(get_uow),
                          _: Principal = Depends(require(*SETUP))) -> dict[str, Any]:
    return feedback.create_follow_up_rule(uow, body)


@router.get("/follow-up-tasks", response_model=Page[FollowUpTaskOut])
def list_follow_up_tasks(due_by: dt.datetime | None = None, status: str | None = Query("open", max_length=20),
                         limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                         _: Principal = Depends(require(*AGENTS))) -> Page[FollowUpTaskOut]:
    """In the order they were made (by id)."""
    return paging.tasks_page(uow, due_by=due_by, status=status, limit=limit, cursor=cursor)


@router.post("/follow-up-tasks/{task_id}/done", response_model=FollowUpTaskOut)
def complete_follow_up(task_id: DbId, body: FollowUpDoneIn, uow: UnitOfWork = Depends(get_uow),
                       _: Principal = Depends(require(*AGENTS))) -> FollowUpTaskOut:
    return feedback.complete_task(uow, task_id, body.outcome, body.note)


@router.get("/feedback/stats")
def feedback_stats(since: dt.datetime | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*AGENTS))) -> dict[str, Any]:
    return feedback.stats(uow, since=since)


@router.get("/segments/{segment_id}/canvas", response_model=CanvasOut)
def get_canvas(segment_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*AGENTS))) -> CanvasOut:
    return feedback.canvas(uow, segment_id)


@router.post("/segments/{segment_id}/canvas", response_model=CanvasItemOut, status_code=201)
def add_canvas_item(segment_id: DbId, body: CanvasItemIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*AGENTS))) -> CanvasItemOut:
    return feedback.add_canvas_item(uow, segment_id, body)


@router.delete("/segments/{segment_id}/canvas/{item_id}", status_code=204)
def delete_canvas_item(segment_id: DbId, item_id: DbId, uow: UnitOfWork = Depends(get_uow),
                       _: Principal = Depends(require(*AGENTS))) -> Response:
    feedback.delete_canvas_item(uow, segment_id, item_id)
    return Response(status_code=204)


# ----------------------------------------------------------------------------------------------
# Reviews
# ----------------------------------------------------------------------------------------------


@router.post("/reviews", response_model=ReviewOut, status_code=201)
def submit_review(body: ReviewIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*AGENTS, Role.customer))) -> ReviewOut:
    """A review; `verified` when the customer received an order with the product (otherwise
    kept but unverified: it never counts towards the product's rating)."""
    return reviews.submit(uow, body)


@router.get("/reviews", response_model=Page[ReviewOut])
def list_reviews(product_id: DbId | None = None, status: str | None = None, limit: int | None = None,
                 cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow)) -> Page[ReviewOut]:
    """Published reviews for anyone; moderators filter by status; a seller sees its products'."""
    return reviews.list_reviews(uow, product_id=product_id, status=status, limit=limit, cursor=cursor)


@router.post("/reviews/{review_id}/moderation", response_model=ReviewOut)
def moderate_review(review_id: DbId, body: ReviewModerationIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*AGENTS))) -> ReviewOut:
    return reviews.moderate(uow, review_id, body.decision)


@router.post("/reviews/{review_id}/reply", response_model=ReviewOut)
def reply_to_review(review_id: DbId, body: ReviewReplyIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*AGENTS, Role.seller))) -> ReviewOut:
    return reviews.reply(uow, review_id, body.body)


__all__ = ["router", "RateLimited", "check_rate"]
