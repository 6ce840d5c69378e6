"""API shapes of the support context (inputs forbid unknown fields)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from merx.core.schemas import PatchModel, StrictModel
from merx.core.validation import DbId

Kind = Literal["complaint", "return_request", "question", "wish", "objection", "praise"]
Channel = Literal["email", "chat", "phone", "store_visit", "messaging", "web_form"]
Status = Literal["new", "open", "waiting_on_customer", "waiting_on_us", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Tag = str


class TicketCreate(StrictModel):
    kind: Kind
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=100_000)
    channel: Channel = "web_form"
    priority: Priority = "normal"
    reason: str | None = Field(default=None, max_length=120)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    customer_tier: str | None = Field(default=None, max_length=20)
    requester_email: str | None = Field(default=None, max_length=320)
    requester_name: str | None = Field(default=None, max_length=200)
    customer_id: DbId | None = None
    order_id: DbId | None = None
    order_line: int | None = Field(default=None, ge=1, le=10_000)
    product_id: DbId | None = None
    store_code: str | None = Field(default=None, max_length=64)
    team_id: DbId | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)


class TicketUpdate(PatchModel):
    NOT_NULL = frozenset({"status", "priority", "kind", "tags"})

    status: Status | None = None
    priority: Priority | None = None
    kind: Kind | None = None
    reason: str | None = Field(default=None, max_length=120)
    assignee_id: DbId | None = None
    team_id: DbId | None = None
    tags: list[str] | None = Field(default=None, max_length=20)


class ReplyIn(StrictModel):
    body: str = Field(min_length=1, max_length=100_000)
    status: Status | None = None  # e.g. waiting_on_customer after a question back


class NoteIn(StrictModel):
    body: str = Field(min_length=1, max_length=100_000)


class MessageOut(BaseModel):
    id: int
    kind: str
    author_user_id: int | None
    author_email: str | None
    body_text: str
    body_html: str | None
    message_id: str | None
    channel: str
    created_at: dt.datetime
    mail_status: str | None = None


class AttachmentOut(BaseModel):
    id: int
    ticket_message_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


class TicketOut(BaseModel):
    id: int
    token: str
    kind: str
    subject: str
    status: str
    priority: str
    channel: str
    reason: str | None
    language: str | None
    customer_tier: str | None
    requester_email: str | None
    requester_name: str | None
    customer_id: int | None
    order_id: int | None
    order_line: int | None
    product_id: int | None
    store_code: str | None
    assignee_id: int | None
    team_id: int | None
    tags: list[str]
    sla_policy_id: int | None
    first_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    first_responded_at: dt.datetime | None
    sla_paused_at: dt.datetime | None
    sla_flags: list[str]
    return_id: int | None
    chat_id: int | None
    solved_at: dt.datetime | None
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class TicketDetail(TicketOut):
    messages: list[MessageOut]
    attachments: list[AttachmentOut]


class InboundResult(BaseModel):
    ticket_id: int
    ticket_message_id: int
    created_ticket: bool
    threaded_by: str | None  # "in-reply-to", "references", "token", None for a new ticket
    attachments: int


class TicketReturnLine(StrictModel):
    line: int = Field(ge=1, le=10_000)  # the order line number
    quantity: int = Field(gt=0, le=10_000)
    reason: Literal["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "too_small",
                    "too_large", "late_delivery", "other"] = "other"


class TicketReturnIn(StrictModel):
    lines: list[TicketReturnLine] = Field(min_length=1, max_length=200)
    location: str | None = Field(default=None, max_length=64)


class TeamIn(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list, max_length=400)
    members: list[DbId] = Field(default_factory=list, max_length=500)


class TeamOut(BaseModel):
    id: int
    code: str
    name: str
    timezone: str
    hours: dict[str, Any]
    holidays: list[str]
    members: list[int]


class SlaPolicyIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=100_000)
    priority: Priority | None = None
    kind: Kind | None = None
    customer_tier: str | None = Field(default=None, max_length=20)
    team_id: DbId | None = None
    first_response_minutes: int = Field(gt=0, le=525_600)
    resolution_minutes: int = Field(gt=0, le=525_600)
    warn_before_minutes: int = Field(default=30, ge=0, le=10_080)
    active: bool = True


class SlaPolicyOut(SlaPolicyIn):
    model_config = {"extra": "ignore"}
    id: int


class AssignmentRuleIn(StrictModel):
    position: int = Field(default=100, ge=0, le=100_000)
    kind: Kind | None = None
    language: str | None = Field(default=None, max_length=8)
    channel: Channel | None = None
    customer_tier: str | None = Field(default=None, max_length=20)
    team_id: DbId


class ChatStart(StrictModel):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    visitor_id: str | None = Field(default=None, max_length=64)
    message: str | None = Field(default=None, max_length=2000)


class ChatStarted(BaseModel):
    id: int
    token: str
    messages: list["ChatMessageOut"]


class ChatMessageIn(StrictModel):
    body: str = Field(min_length=1, max_length=2000)


class ChatMessageOut(BaseModel):
    id: int
    chat_id: int
    sender: str
    body: str
    created_at: dt.datetime


class ChatOut(BaseModel):
    id: int
    status: str
    name: str | None
    email: str | None
    customer_id: int | None
    visitor_id: str | None
    assignee_id: int | None
    ticket_id: int | None
    created_at: dt.datetime
    last_message_at: dt.datetime


class ChatEscalateIn(StrictModel):
    kind: Kind = "question"
    subject: str | None = Field(default=None, max_length=300)


class CannedReplyIn(StrictModel):
    shortcut: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)


class AutoReplyIn(StrictModel):
    keyword: str = Field(min_length=2, max_length=60)
    reply: str = Field(min_length=1, max_length=2000)


class ReviewIn(StrictModel):
    product_id: DbId
    rating: int = Field(ge=1, le=5)
    title: str | None = Field(default=None, max_length=200)
    body: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=10)
    customer_id: DbId | None = None  # staff recording a review on a customer's behalf


class ReviewModerationIn(StrictModel):
    decision: Literal["publish", "reject"]


class ReviewReplyIn(StrictModel):
    body: str = Field(min_length=1, max_length=5000)


class ReviewOut(BaseModel):
    id: int
    product_id: int
    seller_id: int | None
    customer_id: int | None
    order_id: int | None
    rating: int
    title: str | None
    body: str
    tags: list[str]
    verified: bool
    status: str
    reply: str | None
    created_at: dt.datetime


class SurveyIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    segment_id: DbId | None = None
    question: str = Field(default="How likely are you to recommend us to a friend?", max_length=500)
    every_days: int = Field(default=90, ge=1, le=3660)


class SurveyOut(BaseModel):
    id: int
    name: str
    kind: str
    segment_id: int | None
    question: str
    every_days: int
    next_run_at: dt.datetime | None
    active: bool
    invited: int = 0
    answered: int = 0
    nps: float | None = None


class SurveyAnswerIn(StrictModel):
    score: int = Field(ge=0, le=10)
    comment: str | None = Field(default=None, max_length=5000)


class SurveyAnswerOut(BaseModel):
    kind: str
    score: int
    follow_up_ticket_id: int | None


class FollowUpRuleIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=120)
    delay_days: int = Field(default=30, ge=0, le=3660)
    script: str = Field(min_length=1, max_length=5000)


class FollowUpDoneIn(StrictModel):
    outcome: Literal["happy", "neutral", "problem", "unreachable"]
    note: str | None = Field(default=None, max_length=5000)


class FollowUpTaskOut(BaseModel):
    id: int
    rule_id: int
    customer_id: int | None
    order_id: int | None
    due_at: dt.datetime
    script: str
    status: str
    outcome: str | None
    outcome_note: str | None
    follow_up_ticket_id: int | None = None


class CanvasItemIn(StrictModel):
    kind: Literal["job", "pain", "gain"]
    label: str = Field(min_length=1, max_length=200)
    tag: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    notes: str | None = Field(default=None, max_length=2000)


class CanvasItemOut(BaseModel):
    id: int
    kind: str
    label: str
    tag: str
    notes: str | None
    tickets: int
    reviews: int
    evidence: int
    examples: list[str]


class CanvasOut(BaseModel):
    segment_id: int
    members: int
    jobs: list[CanvasItemOut]
    pains: list[CanvasItemOut]
    gains: list[CanvasItemOut]


ChatStarted.model_rebuild()
