"""Support tables. Cross-context references (customer, order, product, user, segment) are
plain id columns, never foreign keys (ARCHITECTURE.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Team(Base):
    """A support team and its business calendar (SLA clocks run only in its hours)."""

    __tablename__ = "support_teams"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    # {"mon": ["09:00", "17:00"], ...}; a missing day is closed
    hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSONType, default=list)  # ISO dates, local to the team
    members: Mapped[list[int]] = mapped_column(JSONType, default=list)  # user ids (agents)
    round_robin_last: Mapped[int | None] = mapped_column(_BIGINT)  # the member picked last


class Ticket(Base):
    __tablename__ = "support_tickets"
    __table_args__ = (sa.Index("ix_support_tickets_status", "status", "id"),
                      sa.Index("ix_support_tickets_customer", "customer_id"),)

    id: Mapped[IdPK]
    token: Mapped[str] = mapped_column(sa.String(16), unique=True)  # "[#T-XXXXXX]" in subjects
    kind: Mapped[str] = mapped_column(sa.String(20))
    subject: Mapped[str] = mapped_column(sa.String(300))
    status: Mapped[str] = mapped_column(sa.String(24), default="new")
    priority: Mapped[str] = mapped_column(sa.String(10), default="normal")
    channel: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.String(120))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    customer_tier: Mapped[str | None] = mapped_column(sa.String(20))
    requester_email: Mapped[str | None] = mapped_column(sa.String(320))
    requester_name: Mapped[str | None] = mapped_column(sa.String(200))
    customer_id: Mapped[int | None] = mapped_column(_BIGINT)
    order_id: Mapped[int | None] = mapped_column(_BIGINT)
    order_line: Mapped[int | None] = mapped_column(sa.Integer)
    product_id: Mapped[int | None] = mapped_column(_BIGINT)
    store_code: Mapped[str | None] = mapped_column(sa.String(64))
    assignee_id: Mapped[int | None] = mapped_column(_BIGINT)
    team_id: Mapped[int | None] = mapped_column(_BIGINT)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sla_policy_id: Mapped[int | None] = mapped_column(_BIGINT)
    first_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # while waiting on the customer the resolution clock stops; set when it stopped
    sla_paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # "first_response_warned", "first_response_breached", "resolution_warned", "resolution_breached"
    sla_flags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    return_id: Mapped[int | None] = mapped_column(_BIGINT)
    chat_id: Mapped[int | None] = mapped_column(_BIGINT)
    solved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class TicketMessage(Base):
    """A customer message, an agent reply (public) or an internal note."""

    __tablename__ = "support_ticket_messages"
    __table_args__ = (sa.Index("ix_support_ticket_messages_ticket", "ticket_id", "id"),
                      sa.Index("ix_support_ticket_messages_mid", "message_id"),)

    id: Mapped[IdPK]
    ticket_id: Mapped[int] = mapped_column(_BIGINT)
    kind: Mapped[str] = mapped_column(sa.String(10))  # "in" (customer), "out" (agent reply), "note" (internal)
    author_user_id: Mapped[int | None] = mapped_column(_BIGINT)
    author_email: Mapped[str | None] = mapped_column(sa.String(320))
    body_text: Mapped[str] = mapped_column(sa.Text, default="")
    body_html: Mapped[str | None] = mapped_column(sa.Text)  # sanitised (nh3) before it is stored
    message_id: Mapped[str | None] = mapped_column(sa.String(300))  # RFC 5322 Message-ID, with <>
    channel: Mapped[str] = mapped_column(sa.String(20), default="email")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    __tablename__ = "support_attachments"

    id: Mapped[IdPK]
    ticket_id: Mapped[int] = mapped_column(_BIGINT, index=True)
    ticket_message_id: Mapped[int | None] = mapped_column(_BIGINT)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_key: Mapped[str] = mapped_column(sa.String(200))  # relative to data_dir/support/attachments
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutgoingMail(Base):
    """Mail to send, written in the use case's transaction (Message-ID fixed here, before any
    attempt), sent afterwards by `mailout.send_pending` outside any transaction."""

    __tablename__ = "support_outgoing_mail"
    __table_args__ = (sa.Index("ix_support_outgoing_mail_status", "status", "id"),)

    id: Mapped[IdPK]
    ticket_id: Mapped[int | None] = mapped_column(_BIGINT)
    purpose: Mapped[str] = mapped_column(sa.String(20))  # reply, csat, nps
    to_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    message_id: Mapped[str] = mapped_column(sa.String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(300))
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(sa.String(12), default="queued")  # queued, sending, sent, not_sent, failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaPolicy(Base):
    __tablename__ = "support_sla_policies"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(sa.Integer, default=100)  # first match wins, lowest first
    priority: Mapped[str | None] = mapped_column(sa.String(10))  # None: any
    kind: Mapped[str | None] = mapped_column(sa.String(20))
    customer_tier: Mapped[str | None] = mapped_column(sa.String(20))
    team_id: Mapped[int | None] = mapped_column(_BIGINT)  # whose calendar; None: the ticket's team
    first_response_minutes: Mapped[int] = mapped_column(sa.Integer)
    resolution_minutes: Mapped[int] = mapped_column(sa.Integer)
    warn_before_minutes: Mapped[int] = mapped_column(sa.Integer, default=30)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class AssignmentRule(Base):
    __tablename__ = "support_assignment_rules"

    id: Mapped[IdPK]
    position: Mapped[int] = mapped_column(sa.Integer, default=100)
    kind: Mapped[str | None] = mapped_column(sa.String(20))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    channel: Mapped[str | None] = mapped_column(sa.String(20))
    customer_tier: Mapped[str | None] = mapped_column(sa.String(20))
    team_id: Mapped[int] = mapped_column(_BIGINT)


class Chat(Base):
    __tablename__ = "support_chats"

    id: Mapped[IdPK]
    token_hash: Mapped[str] = mapped_column(sa.String(64))  # the visitor's secret, hashed
    visitor_id: Mapped[str | None] = mapped_column(sa.String(64))  # the CDP anonymous id
    customer_id: Mapped[int | None] = mapped_column(_BIGINT)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[str] = mapped_column(sa.String(12), default="open")  # open, closed
    assignee_id: Mapped[int | None] = mapped_column(_BIGINT)
    ticket_id: Mapped[int | None] = mapped_column(_BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatMessage(Base):
    __tablename__ = "support_chat_messages"
    __table_args__ = (sa.Index("ix_support_chat_messages_chat", "chat_id", "id"),)

    id: Mapped[IdPK]
    chat_id: Mapped[int] = mapped_column(_BIGINT)
    sender: Mapped[str] = mapped_column(sa.String(10))  # visitor, agent, bot
    author_user_id: Mapped[int | None] = mapped_column(_BIGINT)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CannedReply(Base):
    __tablename__ = "support_canned_replies"

    id: Mapped[IdPK]
    shortcut: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)


class AutoReply(Base):
    """A keyword the bot answers in chat (whole word, case-insensitive)."""

    __tablename__ = "support_auto_replies"

    id: Mapped[IdPK]
    keyword: Mapped[str] = mapped_column(sa.String(60), unique=True)
    reply: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class Review(Base):
    __tablename__ = "support_reviews"
    __table_args__ = (sa.Index("ix_support_reviews_product", "product_id", "status"),)

    id: Mapped[IdPK]
    product_id: Mapped[int] = mapped_column(_BIGINT)
    seller_id: Mapped[int | None] = mapped_column(_BIGINT)
    customer_id: Mapped[int | None] = mapped_column(_BIGINT)
    order_id: Mapped[int | None] = mapped_column(_BIGINT)
    rating: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    verified: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending, published, rejected
    reply: Mapped[str | None] = mapped_column(sa.Text)
    replied_by: Mapped[int | None] = mapped_column(_BIGINT)
    moderated_by: Mapped[int | None] = mapped_column(_BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Survey(Base):
    """An NPS survey sent to a CRM segment every `every_days` days."""

    __tablename__ = "support_surveys"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(8), default="nps")
    segment_id: Mapped[int | None] = mapped_column(_BIGINT)
    question: Mapped[str] = mapped_column(sa.String(500))
    every_days: Mapped[int] = mapped_column(sa.Integer, default=90)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(Base):
    """A rating request (CSAT after a solved ticket, or one NPS invitation) and its answer."""

    __tablename__ = "support_survey_responses"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(8))  # csat (1-5), nps (0-10)
    survey_id: Mapped[int | None] = mapped_column(_BIGINT)
    ticket_id: Mapped[int | None] = mapped_column(_BIGINT)
    customer_id: Mapped[int | None] = mapped_column(_BIGINT)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    score: Mapped[int | None] = mapped_column(sa.Integer)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    follow_up_ticket_id: Mapped[int | None] = mapped_column(_BIGINT)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FollowUpRule(Base):
    """"A month after a plant order is delivered, call to ask how it took root"."""

    __tablename__ = "support_follow_up_rules"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    trigger: Mapped[str] = mapped_column(sa.String(40), default="order.delivered")
    category: Mapped[str | None] = mapped_column(sa.String(120))  # only orders with a line in it
    delay_days: Mapped[int] = mapped_column(sa.Integer, default=30)
    script: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class FollowUpTask(Base):
    __tablename__ = "support_follow_up_tasks"
    __table_args__ = (sa.UniqueConstraint("rule_id", "order_id", name="uq_support_follow_up_rule_order"),)

    id: Mapped[IdPK]
    rule_id: Mapped[int] = mapped_column(_BIGINT)
    customer_id: Mapped[int | None] = mapped_column(_BIGINT)
    order_id: Mapped[int | None] = mapped_column(_BIGINT)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    script: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default="open")  # open, done
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # happy, neutral, problem, unreachable
    outcome_note: Mapped[str | None] = mapped_column(sa.Text)
    done_by: Mapped[int | None] = mapped_column(_BIGINT)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CanvasItem(Base):
    """A job, pain or gain of a segment's customers; `tag` links the tickets and reviews that
    are its evidence."""

    __tablename__ = "support_canvas_items"

    id: Mapped[IdPK]
    segment_id: Mapped[int] = mapped_column(_BIGINT, index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # job, pain, gain
    label: Mapped[str] = mapped_column(sa.String(200))
    tag: Mapped[str] = mapped_column(sa.String(60))
    notes: Mapped[str | None] = mapped_column(sa.Text)
