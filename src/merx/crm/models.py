"""CRM / customer data platform tables. A profile is a customer record (customers context);
these tables hang identities, behaviour, segments, loyalty and consent off its id.

The event table is deliberately narrow (integer profile id, short typed columns, JSON
properties, one row per event, append-only) so that analytics can scan tens of millions of
rows quickly and export them to Parquet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, BigIntPK, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class Identity(Base):
    """One identifier of a profile: email, phone (E.164), loyalty card, store customer number,
    marketplace buyer id, messaging open id, or an anonymous (device/browser) id."""

    __tablename__ = "crm_identities"

    id: Mapped[IdPK]
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    value: Mapped[str] = mapped_column(sa.String(320))
    # Verified identifiers (confirmed by staff, a login or a double opt-in) may merge profiles.
    verified: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    source: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("kind", "value", name="uq_crm_identities_kind_value"),)


class TrackedEvent(Base):
    __tablename__ = "crm_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # Null until the anonymous id is identified (then re-keyed by `identify`).
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    anonymous_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(sa.String(100))
    campaign: Mapped[str | None] = mapped_column(sa.String(100))
    schema_version: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    properties: Mapped[Any] = mapped_column(JSONType, nullable=True)

    __table_args__ = (sa.Index("ix_crm_events_customer_time", "customer_id", "occurred_at"),)


class ProfileStats(Base):
    """Aggregates per profile kept up to date incrementally (events, orders), the inputs of
    rule segments."""

    __tablename__ = "crm_profile_stats"

    customer_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    events_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_event_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderFact(Base):
    """CRM's copy of each order's headline numbers, fed by `order.*` events (amounts in minor
    units): lifetime value, order counts and RFM need them without reading orders' tables."""

    __tablename__ = "crm_order_facts"

    order_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    number: Mapped[str | None] = mapped_column(sa.String(64))
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(24), default="placed")
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    payment_fingerprint: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    lines: Mapped[Any] = mapped_column(JSONType, nullable=True)


class Merge(Base):
    """Audit trail of a profile merge and what moved, so that it can be undone."""

    __tablename__ = "crm_merges"

    id: Mapped[IdPK]
    from_customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    into_customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    rule: Mapped[str] = mapped_column(sa.String(64))  # manual | same_verified_email | same_verified_phone | identify
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    moved: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Segment(Base):
    __tablename__ = "crm_segments"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="rule")  # rule | rfm | cluster | tier
    expression: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    member_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    evaluated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class SegmentMember(Base):
    __tablename__ = "crm_segment_members"

    segment_id: Mapped[int] = mapped_column(sa.ForeignKey("crm_segments.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RfmScore(Base):
    """The latest RFM run's score per profile (replaced by each run)."""

    __tablename__ = "crm_rfm_scores"

    customer_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    reference_date: Mapped[dt.date] = mapped_column(sa.Date)
    recency_days: Mapped[int] = mapped_column(sa.Integer)
    frequency: Mapped[int] = mapped_column(sa.Integer)
    monetary: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(sa.String(3))
    r: Mapped[int] = mapped_column(sa.SmallInteger)
    f: Mapped[int] = mapped_column(sa.SmallInteger)
    m: Mapped[int] = mapped_column(sa.SmallInteger)
    segment: Mapped[str] = mapped_column(sa.String(32), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyProgram(Base):
    __tablename__ = "crm_loyalty_programs"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    points_per_unit: Mapped[Decimal] = mapped_column(DecimalText)  # points per 1 unit of currency spent
    category_multipliers: Mapped[Any] = mapped_column(JSONType)  # {category code: "2"}
    bonus_events: Mapped[Any] = mapped_column(JSONType)  # {event type: points}
    point_value: Mapped[Decimal] = mapped_column(DecimalText)  # currency value of one point at redemption
    expiry_days: Mapped[int | None] = mapped_column(sa.Integer)
    tiers: Mapped[Any] = mapped_column(JSONType)  # [{"name", "threshold", "benefits": [...]}] by lifetime points
    referral_reward_points: Mapped[int] = mapped_column(sa.Integer, default=0)
    # spending points at checkout (orders/loyalty_points.py): the fewest points one redemption
    # uses (and the balance it needs), the most of the goods total points may pay
    redeem_min_points: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    redeem_max_share: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1), server_default="1")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyAccount(Base):
    __tablename__ = "crm_loyalty_accounts"

    id: Mapped[IdPK]
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("crm_loyalty_programs.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lifetime_points: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tier: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("program_id", "customer_id", name="uq_crm_loyalty_accounts_member"),)


class LoyaltyEntry(Base):
    """The ledger: every earn, bonus, redemption, expiry and adjustment, signed. Earn entries
    track how many of their points are still unspent (`remaining`) for first-in-first-out
    redemption and expiry."""

    __tablename__ = "crm_loyalty_ledger"

    id: Mapped[IdPK]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("crm_loyalty_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # earn|bonus|referral|redeem|expire|adjust|reversal|clawback
    points: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    order_ref: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # an order's entries (earn, redeem, reversal)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralCode(Base):
    __tablename__ = "crm_referral_codes"

    id: Mapped[IdPK]
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    __tablename__ = "crm_referrals"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(32), index=True)
    referrer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    referred_id: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending | rewarded | refused | revoked
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """Append-only consent history; the latest row per (customer, channel) is in force."""

    __tablename__ = "crm_consents"

    id: Mapped[IdPK]
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    granted: Mapped[bool] = mapped_column(sa.Boolean)
    source: Mapped[str] = mapped_column(sa.String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
