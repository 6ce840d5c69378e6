"""Tables of the integration hub: webhook endpoints and their delivery log, the relay's
delivery state (leases, per-subscriber cursors, the outbox horizon), connectors and import jobs.

The outbox itself (`outbox_events`) belongs to the core and is only read here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class WebhookEndpoint(Base):
    __tablename__ = "integration_webhook_endpoints"

    id: Mapped[IdPK]
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    # Event types (or "<aggregate>.*" patterns) delivered; empty list = every event.
    event_types: Mapped[Any] = mapped_column(JSONType, default=list)
    secret_encrypted: Mapped[str] = mapped_column(sa.String(500))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500))
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Outbox position at creation: an endpoint receives the events committed after it exists.
    start_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint; its attempts (relay retries and manual replays) hang below."""

    __tablename__ = "integration_webhook_deliveries"

    id: Mapped[IdPK]
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.String(26))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    event_seq: Mapped[int] = mapped_column(sa.BigInteger)
    # pending (retry scheduled) | succeeded | failed
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    # The exact signed body; purged after the retention period (payload_purged_at set).
    body: Mapped[str | None] = mapped_column(sa.Text)
    payload_purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_integration_webhook_deliveries_endpoint_event"),
    )


class WebhookAttempt(Base):
    __tablename__ = "integration_webhook_attempts"

    id: Mapped[IdPK]
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_webhook_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    trigger: Mapped[str] = mapped_column(sa.String(16))  # relay | replay
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    latency_ms: Mapped[int] = mapped_column(sa.Integer)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # succeeded | retryable | failed
    error: Mapped[str | None] = mapped_column(sa.String(500))
    response_snippet: Mapped[str | None] = mapped_column(sa.String(1000))


class RelayState(Base):
    """One row: the partition count (fixed at first start). The outbox horizon is the core's
    (`outbox_horizon`, core/outbox.py)."""

    __tablename__ = "integration_relay_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    partitions: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelayLease(Base):
    __tablename__ = "integration_relay_leases"

    partition: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(sa.String(100))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RelayWorker(Base):
    """Heartbeats, so each worker takes a fair share of the partitions."""

    __tablename__ = "integration_relay_workers"

    worker_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelayCursor(Base):
    """Progress of one subscriber ("nats", "webhook:<id>") in one partition: every event of the
    partition with seq <= last_seq has been handled. Written only after delivery."""

    __tablename__ = "integration_relay_cursors"

    subscriber: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    partition: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Set while the first unhandled event waits for a retry (webhook backoff).
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Connector(Base):
    __tablename__ = "integration_connectors"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    direction: Mapped[str] = mapped_column(sa.String(8))  # inbound | outbound
    # inbound: stock_levels | prices | products | order_status | offers; outbound: orders
    target: Mapped[str] = mapped_column(sa.String(32))
    format: Mapped[str] = mapped_column(sa.String(8))  # csv | json
    # The declarative mapping (fields, value maps, units, rules, defaults); see connectors/mapping.py.
    mapping: Mapped[Any] = mapped_column(JSONType)
    # Inbound HTTP pull / outbound HTTP push: {"url", "headers", "interval_seconds"}; file drop: {"folder"}.
    transport: Mapped[Any] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ImportJob(Base):
    __tablename__ = "integration_import_jobs"

    id: Mapped[IdPK]
    connector_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_connectors.id", ondelete="CASCADE"),
                                              index=True)
    source: Mapped[str] = mapped_column(sa.String(16))  # upload | folder | http_pull | cli | export
    filename: Mapped[str | None] = mapped_column(sa.String(500))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))  # running | succeeded | partial | failed | duplicate
    rows_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_created: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    errors: Mapped[Any] = mapped_column(JSONType, default=list)
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConnectorRecord(Base):
    """The last applied content of one record key per connector: a row whose mapped content
    hashes the same is a no-op, so re-importing a file changes nothing."""

    __tablename__ = "integration_connector_records"

    id: Mapped[IdPK]
    connector_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_connectors.id", ondelete="CASCADE"))
    record_key: Mapped[str] = mapped_column(sa.String(300))
    row_hash: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("connector_id", "record_key", name="uq_integration_connector_records_key"),
    )
