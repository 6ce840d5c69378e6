"""Marketing tables (prefix `mkt_`). Cross-context references (customers, segments, orders)
are plain id columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class MessageTemplate(Base):
    """An edited template (the built-in ones live in `defaults.py`); one row per key, locale
    and channel."""

    __tablename__ = "mkt_templates"
    __table_args__ = (sa.UniqueConstraint("key", "locale", "channel", name="uq_mkt_templates_key_locale_channel"),)

    id: Mapped[IdPK]
    key: Mapped[str] = mapped_column(sa.String(64))
    locale: Mapped[str] = mapped_column(sa.String(8))
    channel: Mapped[str] = mapped_column(sa.String(16), default="email")
    kind: Mapped[str] = mapped_column(sa.String(16), default="marketing")  # transactional | marketing
    subject: Mapped[str] = mapped_column(sa.String(500))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """One message to one recipient, recorded (with its rendered content) before it is sent.
    `idem_key` (event id + template, campaign + customer, enrolment + step) makes a repeat of
    the same cause a no-op. Status: queued -> sending -> sent | failed; skipped (consent,
    template error), suppressed, cancelled, uncertain (the sender died mid-send: never resent)."""

    __tablename__ = "mkt_messages"
    __table_args__ = (sa.Index("ix_mkt_messages_status_due", "status", "due_at"),
                      sa.Index("ix_mkt_messages_customer_claimed", "customer_id", "claimed_at"))

    id: Mapped[IdPK]
    idem_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # transactional | marketing | test
    channel: Mapped[str] = mapped_column(sa.String(16))
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    address: Mapped[str | None] = mapped_column(sa.String(320))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    template_key: Mapped[str] = mapped_column(sa.String(64))
    campaign_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    enrolment_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    variant: Mapped[str | None] = mapped_column(sa.String(1))
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    provider: Mapped[str | None] = mapped_column(sa.String(32))
    provider_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """An address no message goes to (hard bounce, complaint, manual)."""

    __tablename__ = "mkt_suppressions"
    __table_args__ = (sa.UniqueConstraint("channel", "address", name="uq_mkt_suppressions_channel_address"),)

    id: Mapped[IdPK]
    channel: Mapped[str] = mapped_column(sa.String(16))
    address: Mapped[str] = mapped_column(sa.String(320))
    reason: Mapped[str] = mapped_column(sa.String(32))  # bounce | complaint | manual
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Campaign(Base):
    __tablename__ = "mkt_campaigns"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    segment_id: Mapped[int] = mapped_column(sa.BigInteger)
    channel: Mapped[str] = mapped_column(sa.String(16), default="email")
    template_key: Mapped[str] = mapped_column(sa.String(64))
    template_b_key: Mapped[str | None] = mapped_column(sa.String(64))  # A/B test: the other variant
    ab_test_fraction: Mapped[float] = mapped_column(sa.Float, default=0.0)
    winner: Mapped[str | None] = mapped_column(sa.String(1))
    ab_result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")  # draft|scheduled|testing|sending|sent|cancelled
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)  # recipient order (A/B split) is reproducible
    recipients_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_position: Mapped[int] = mapped_column(sa.Integer, default=0)
    test_until: Mapped[int] = mapped_column(sa.Integer, default=0)  # positions below this are the A/B test group
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class CampaignRecipient(Base):
    """The segment as it was when the campaign started, in a shuffled (seeded) order: the
    sender walks it by position, so a restart resumes where the last batch committed."""

    __tablename__ = "mkt_campaign_recipients"

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("mkt_campaigns.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger)


class Journey(Base):
    """A flow triggered by an event: `steps` is a list of {"wait_hours", "template",
    "stop_if_purchased"}."""

    __tablename__ = "mkt_journeys"

    id: Mapped[IdPK]
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    trigger: Mapped[str] = mapped_column(sa.String(64))
    steps: Mapped[Any] = mapped_column(JSONType)
    channel: Mapped[str] = mapped_column(sa.String(16), default="email")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyEnrolment(Base):
    """One person's position in one journey (per triggering reference, e.g. the cart)."""

    __tablename__ = "mkt_journey_enrolments"
    __table_args__ = (sa.UniqueConstraint("journey_id", "customer_id", "reference", name="uq_mkt_enrolment"),)

    id: Mapped[IdPK]
    journey_id: Mapped[int] = mapped_column(sa.ForeignKey("mkt_journeys.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    reference: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[int] = mapped_column(sa.Integer, default=0)
    state: Mapped[str] = mapped_column(sa.String(16), default="waiting")  # waiting | completed | exited
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    exit_reason: Mapped[str | None] = mapped_column(sa.String(200))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QrCode(Base):
    __tablename__ = "mkt_qr_codes"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(32))  # flyer | poster | packaging | business_card | other
    campaign_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    target_url: Mapped[str] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Touch(Base):
    """A marketing touch: a QR scan, a click in a message, an unsubscribe. `visitor` is the
    browser's marketing cookie; `customer_id` is filled when that visitor orders."""

    __tablename__ = "mkt_touches"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(16))  # qr_scan | click | open | unsubscribe | link (browser -> customer)
    campaign_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    qr_code_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    visitor: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderNote(Base):
    """Marketing's copy of each order's headline (fed by order events): journeys stop on a
    purchase, revenue is attributed to campaigns."""

    __tablename__ = "mkt_orders"

    order_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(24))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Giveaway(Base):
    __tablename__ = "mkt_giveaways"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    rule: Mapped[str] = mapped_column(sa.String(32))  # purchase | manual (e.g. a photo post checked by staff)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    winners_count: Mapped[int] = mapped_column(sa.Integer, default=1)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | drawn
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    entries_digest: Mapped[str | None] = mapped_column(sa.String(64))
    winners: Mapped[Any] = mapped_column(JSONType, nullable=True)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GiveawayEntry(Base):
    __tablename__ = "mkt_giveaway_entries"
    __table_args__ = (sa.UniqueConstraint("giveaway_id", "customer_id", name="uq_mkt_giveaway_entry"),)

    id: Mapped[IdPK]
    giveaway_id: Mapped[int] = mapped_column(sa.ForeignKey("mkt_giveaways.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger)
    evidence: Mapped[str | None] = mapped_column(sa.String(500))  # order number, post URL
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecipientSetting(Base):
    """What marketing knows of a recipient beyond the customer record: their own time zone
    (the browser's at checkout, or set by staff), used before their country's and the shop's."""

    __tablename__ = "mkt_recipients"

    customer_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    source: Mapped[str | None] = mapped_column(sa.String(32))  # storefront | staff
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
