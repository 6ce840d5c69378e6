"""Tables owned by the core: users and API keys, the audit log, idempotency records, the outbox
and its durable subscribers (horizon, cursors, dead letters)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, BigIntPK, IdPK, JSONType, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    password_hash: Mapped[str | None] = mapped_column(sa.String(300))
    # Scope of what the user may see: a seller's id, a customer's id. Null for staff roles.
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[IdPK]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(16))  # shown in listings so a key can be recognised
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[IdPK]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    actor_role: Mapped[str | None] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64))
    entity_type: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[IdPK]
    # Keys are scoped to the caller: two API clients may use the same key independently.
    scope: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(500))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    # in_progress -> committed (the work's transaction marked it) -> done (answer stored);
    # interrupted: the work committed but the answer was a server failure. See core/idempotency.py.
    state: Mapped[str] = mapped_column(sa.String(16), default="in_progress")
    # Changes when a retry takes over a key whose first attempt died; a commit under an old token is refused.
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    # What the request created ("order", "42"): a retry whose answer was lost is answered with it.
    resource_type: Mapped[str | None] = mapped_column(sa.String(64))
    resource_id: Mapped[str | None] = mapped_column(sa.String(64))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    response_headers: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)


class OutboxEvent(Base):
    """A domain event, written in the same transaction as the change it describes.

    The integration hub relays these to webhooks and brokers; `id` is a ULID so events sort
    by creation, and (aggregate_type, aggregate_id, aggregate_version) orders one aggregate's events."""

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(26), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100), index=True)
    aggregate_type: Mapped[str] = mapped_column(sa.String(64))
    aggregate_id: Mapped[str] = mapped_column(sa.String(64))
    aggregate_version: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    schema_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    payload: Mapped[Any] = mapped_column(JSONType)
    actor_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_outbox_events_aggregate", "aggregate_type", "aggregate_id", "seq"),)


class ScheduledJob(Base):
    """One row per registered job (core/jobs.py): when it runs next, who holds its lease, how
    its last run went. The lease is claimed with a conditional UPDATE, so one runner at a
    time runs a job across processes."""

    __tablename__ = "core_jobs"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    schedule: Mapped[str] = mapped_column(sa.String(40))  # as registered: "every 60s", "daily 03:00"
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)  # consecutive failures
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_duration_ms: Mapped[int | None] = mapped_column(sa.Integer)
    last_status: Mapped[str | None] = mapped_column(sa.String(16))  # succeeded | failed
    last_result: Mapped[str | None] = mapped_column(sa.String(500))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A console sign-in. The cookie carries a random token (signed); only its SHA-256 is
    stored, so a copy of this table signs nobody in. Ending a session sets `revoked_at`."""

    __tablename__ = "user_sessions"

    id: Mapped[IdPK]
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed console sign-ins per account name (the SHA-256 of the normalised email, known
    user or not, so a lockout reveals nothing). In the database so every worker sees it."""

    __tablename__ = "login_throttle"

    id: Mapped[IdPK]
    account_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxHorizon(Base):
    """One row (id 1). `safe_seq`: every outbox seq <= it is committed or will never exist
    (PostgreSQL commits out of seq order; core/outbox.py). `origin_seq`: where a durable
    subscriber seen for the first time starts (the outbox's end when durable subscribers were
    introduced, 0 on a new shop). `worker_seen_at`: the last heartbeat of a dedicated
    `merx worker`, so `merx serve`'s embedded runner steps back while one is alive."""

    __tablename__ = "outbox_horizon"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    safe_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    origin_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    worker_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxGap(Base):
    """Missing outbox seqs [seq, end_seq] (PostgreSQL): rows of a still-open transaction or of a
    rolled-back one. Every seq in the range was allocated before `first_seen_at` (a larger seq
    was already visible), so once no transaction older than that is running, the range is final."""

    __tablename__ = "outbox_gaps"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    end_seq: Mapped[int] = mapped_column(sa.BigInteger)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SubscriberCursor(Base):
    """How far a durable subscriber (`bus.subscribe(..., durable=NAME)`) has read the outbox.
    Advanced in the same transaction as the subscriber's own writes. While the next event
    keeps failing, `attempts`/`retry_at`/`last_error` say when it is tried again."""

    __tablename__ = "subscriber_cursors"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(Base):
    """An event a durable subscriber failed on too many times: parked so the subscriber goes on;
    `merx subscribers retry ID` (or the admin API) runs it again."""

    __tablename__ = "subscriber_dead_letters"

    id: Mapped[IdPK]
    subscriber: Mapped[str] = mapped_column(sa.String(100), index=True)
    event_id: Mapped[str] = mapped_column(sa.String(26))
    event_seq: Mapped[int] = mapped_column(sa.BigInteger)
    event_type: Mapped[str] = mapped_column(sa.String(100))
    error: Mapped[str] = mapped_column(sa.String(1000))
    attempts: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), default="dead")  # dead | retried | discarded
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_tried_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("subscriber", "event_id", name="uq_subscriber_dead_letters_subscriber_event"),)
