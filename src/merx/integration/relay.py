"""The outbox relay behind `merx worker`: delivers committed domain events to every subscriber
(each active webhook endpoint, and the NATS JetStream stream when MERX_NATS_URL is set), at
least once and in order per aggregate.

How it stays correct (docs/events.md has the long version):

* Partitions. An event's partition is crc32(aggregate_type, aggregate_id) mod N, so one
  aggregate's events share a partition. A worker delivers only the partitions it leases
  (`integration_relay_leases`, taken with conditional UPDATEs: owner is free or expired);
  several workers split them fairly using heartbeats. Within a partition, one aggregate's events
  are sent one after the other; different aggregates go out concurrently.
* Cursors. Progress is `integration_relay_cursors(subscriber, partition).last_seq`, written
  only after delivery (and only while the lease is still held). A SIGKILL before that write
  means the batch is delivered again, with the same event ids: at least once, never lost.
* The horizon (core/outbox.py, shared with the durable subscribers). `seq` is allocated at
  INSERT but PostgreSQL transactions commit in any order, so "seq > cursor" could jump over a
  row that commits late. Cursors therefore never pass `safe_seq`: the highest seq below which
  every seq is visible or known to be abandoned.
* Beside the relay, `merx worker` runs the durable subscribers (core/subscribers.py): the
  reactions of other contexts (CRM, analytics) that must not be lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import Database, utcnow
from merx.core.ids import new_ulid
from merx.core.models import OutboxEvent
from merx.core.outbox import advance_horizon  # noqa: F401 - re-exported for callers
from merx.core.settings import settings_of
from merx.core.uow import UnitOfWork
from merx.integration import webhooks
from merx.integration.events import WebhookEndpointDisabled
from merx.integration.broker import JetStreamPublisher, OutgoingMessage, subject_for
from merx.integration.models import (RelayCursor, RelayLease, RelayState, RelayWorker, WebhookAttempt,
                                     WebhookDelivery, WebhookEndpoint)
from merx.integration.secrets_box import decrypt_secret
from merx.integration.outbound import guarded_client
from merx.integration.settings import IntegrationSettings, get_integration_settings

log = logging.getLogger("merx.relay")
NATS_SUBSCRIBER = "nats"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def partition_of(aggregate_type: str, aggregate_id: str, partitions: int) -> int:
    return zlib.crc32(f"{aggregate_type}\x00{aggregate_id}".encode()) % partitions


@dataclass
class RelayEvent:
    seq: int
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int | None
    partition: int
    body: str


@dataclass
class WebhookTarget:
    endpoint_id: int
    url: str
    secret: str
    event_types: list[str]
    start_seq: int

    @property
    def key(self) -> str:
        return f"webhook:{self.endpoint_id}"


@dataclass
class RunStats:
    delivered: int = 0
    published: int = 0
    failed: int = 0
    partitions_held: int = 0
    idle: bool = True
    errors: list[str] = field(default_factory=list)


def ensure_relay_state(db: Database, partitions: int) -> int:
    """The partition count is fixed at the first start (changing it would remap aggregates
    to partitions whose cursors are elsewhere); returns the recorded count."""
    with db.write_sessions() as s:
        state = s.get(RelayState, 1)
        if state is None:
            s.add(RelayState(id=1, partitions=partitions, updated_at=utcnow()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
            state = s.get(RelayState, 1)
        assert state is not None
        count = state.partitions
        existing = set(s.scalars(sa.select(RelayLease.partition)))
        missing = [p for p in range(count) if p not in existing]
        if missing:
            s.add_all([RelayLease(partition=p, owner=None, expires_at=EPOCH) for p in missing])
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
        return count


class LeaseKeeper:
    """Holds a fair share of the partitions: ceil(N / live workers)."""

    def __init__(self, db: Database, worker_id: str, partitions: int, ttl: float) -> None:
        self.db, self.worker_id, self.partitions, self.ttl = db, worker_id, partitions, ttl
        self.held: set[int] = set()
        self._renewed_at: dt.datetime = EPOCH

    def needs_renewal(self) -> bool:
        return (utcnow() - self._renewed_at).total_seconds() > self.ttl / 3

    def refresh(self) -> set[int]:
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.ttl)
        with self.db.write_sessions() as s:
            updated = s.execute(sa.update(RelayWorker).where(RelayWorker.worker_id == self.worker_id)
                                .values(heartbeat_at=now)).rowcount
            if not updated:
                s.add(RelayWorker(worker_id=self.worker_id, heartbeat_at=now, started_at=now))
            s.execute(sa.delete(RelayWorker).where(RelayWorker.heartbeat_at < now - dt.timedelta(seconds=self.ttl * 10)))
            live = s.scalar(sa.select(sa.func.count()).select_from(RelayWorker)
                            .where(RelayWorker.heartbeat_at > now - dt.timedelta(seconds=self.ttl))) or 1
            fair = math.ceil(self.partitions / max(1, live))
            s.execute(sa.update(RelayLease).where(RelayLease.owner == self.worker_id, RelayLease.expires_at > now)
                      .values(expires_at=expires))
            held = set(s.scalars(sa.select(RelayLease.partition)
                                 .where(RelayLease.owner == self.worker_id, RelayLease.expires_at > now)))
            for p in sorted(held, reverse=True)[: max(0, len(held) - fair)]:
                s.execute(sa.update(RelayLease).where(RelayLease.partition == p, RelayLease.owner == self.worker_id)
                          .values(owner=None, expires_at=EPOCH))
                held.discard(p)
            if len(held) < fair:
                free = s.scalars(sa.select(RelayLease.partition).where(RelayLease.expires_at <= now)
                                 .order_by(RelayLease.partition)).all()
                for p in free:
                    if len(held) >= fair:
                        break
                    took = s.execute(sa.update(RelayLease)
                                     .where(RelayLease.partition == p, RelayLease.expires_at <= now)
                                     .values(owner=self.worker_id, expires_at=expires)).rowcount
                    if took == 1:
                        held.add(p)
            s.commit()
        self.held = held
        self._renewed_at = now
        return held

    def renew(self) -> set[int]:
        """Extend the leases still held (a background heartbeat while a batch is in flight)."""
        now = utcnow()
        with self.db.write_sessions() as s:
            s.execute(sa.update(RelayLease).where(RelayLease.owner == self.worker_id, RelayLease.expires_at > now)
                      .values(expires_at=now + dt.timedelta(seconds=self.ttl)))
            s.execute(sa.update(RelayWorker).where(RelayWorker.worker_id == self.worker_id).values(heartbeat_at=now))
            held = set(s.scalars(sa.select(RelayLease.partition).where(RelayLease.owner == self.worker_id)))
            s.commit()
        self.held &= held
        return self.held

    def release_all(self) -> None:
        with self.db.write_sessions() as s:
            s.execute(sa.update(RelayLease).where(RelayLease.owner == self.worker_id).values(owner=None, expires_at=EPOCH))
            s.execute(sa.delete(RelayWorker).where(RelayWorker.worker_id == self.worker_id))
            s.commit()
        self.held = set()


class Relay:
    def __init__(self, db: Database, settings: IntegrationSettings | None = None, *, worker_id: str | None = None,
                 publisher: JetStreamPublisher | None = None) -> None:
        self.db = db
        self.settings = settings or get_integration_settings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"
        self.publisher = publisher
        if self.publisher is None and self.settings.nats_url:
            self.publisher = JetStreamPublisher(
                self.settings.nats_url, stream=self.settings.nats_stream,
                subject_prefix=self.settings.nats_subject_prefix,
                duplicate_window_seconds=self.settings.nats_duplicate_window_seconds)
        self.partitions = ensure_relay_state(db, self.settings.relay_partitions)
        self.leases = LeaseKeeper(db, self.worker_id, self.partitions, self.settings.relay_lease_seconds)
        self._pool: ThreadPoolExecutor | None = None
        self._clients = threading.local()  # one keep-alive httpx.Client per pool thread
        self._secrets: dict[tuple[int, int], str] = {}
        self._last_purge = EPOCH
        self._heartbeat_task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.settings.webhook_concurrency,
                                        thread_name_prefix="merx-webhook")
        if self.publisher is not None:
            await self.publisher.connect()
        self._stopping = asyncio.Event()
        self._heartbeat_task = asyncio.create_task(self._heartbeat(self._stopping))

    async def stop(self) -> None:
        if self._heartbeat_task is not None:
            self._stopping.set()
            self._heartbeat_task.cancel()
            self._heartbeat_task = None
        try:
            self.leases.release_all()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self.publisher is not None:
                await self.publisher.close()

    async def run_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            while not stop.is_set():
                try:
                    stats = await self.run_once()
                except Exception:  # a broken iteration (database restart...) is retried, not fatal
                    log.exception("relay iteration failed")
                    stats = RunStats()
                if stats.idle:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self.settings.relay_poll_seconds)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self.stop()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Keeps the leases alive while a slow batch (a webhook taking its time) is in flight."""
        while not stop.is_set():
            await asyncio.sleep(self.settings.relay_lease_seconds / 3)
            try:
                await asyncio.to_thread(self.leases.renew)
            except Exception:  # the next beat or the next iteration's refresh tries again
                log.exception("lease renewal failed")

    # -- one pass ---------------------------------------------------------------------------------
    async def run_once(self) -> RunStats:
        stats = RunStats()
        if self.leases.needs_renewal():
            self.leases.refresh()
        held = set(self.leases.held)
        stats.partitions_held = len(held)
        self._maybe_purge()
        if not held:
            return stats
        safe_seq = advance_horizon(self.db, self.settings.relay_gap_timeout_seconds)
        targets = self._load_webhook_targets()
        subscribers: list[str] = [t.key for t in targets]
        if self.publisher is not None:
            subscribers.append(NATS_SUBSCRIBER)
        cursors = self._load_cursors(held, subscribers, {t.key: t.start_seq for t in targets})
        now = utcnow()
        if self.publisher is not None:
            eligible = {p: c.last_seq for (sub, p), c in cursors.items() if sub == NATS_SUBSCRIBER}
            n = await self._relay_to_nats(eligible, safe_seq)
            stats.published += n
            stats.idle = stats.idle and n == 0
        for target in targets:
            eligible = {p: c.last_seq for (sub, p), c in cursors.items()
                        if sub == target.key and (c.retry_at is None or c.retry_at <= now)}
            delivered, failed, busy = await self._relay_to_webhook(target, eligible, safe_seq)
            stats.delivered += delivered
            stats.failed += failed
            stats.idle = stats.idle and not busy
        return stats

    # -- database helpers -------------------------------------------------------------------------
    def _load_webhook_targets(self) -> list[WebhookTarget]:
        with self.db.read_sessions() as s:
            rows = s.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
                             .order_by(WebhookEndpoint.id)).all()
        out = []
        for e in rows:
            key = (e.id, e.version)
            if key not in self._secrets:
                self._secrets[key] = decrypt_secret(e.secret_encrypted, settings_of(self.db))
            out.append(WebhookTarget(e.id, e.url, self._secrets[key], list(e.event_types or []), e.start_seq))
        return out

    def _load_cursors(self, held: set[int], subscribers: list[str],
                      start_seqs: dict[str, int]) -> dict[tuple[str, int], RelayCursor]:
        if not subscribers:
            return {}
        with self.db.read_sessions() as s:
            rows = s.scalars(sa.select(RelayCursor).where(RelayCursor.partition.in_(held),
                                                          RelayCursor.subscriber.in_(subscribers))).all()
        found = {(c.subscriber, c.partition): c for c in rows}
        missing = [(sub, p) for sub in subscribers for p in held if (sub, p) not in found]
        if missing:
            with self.db.write_sessions() as s:
                fresh = [RelayCursor(subscriber=sub, partition=p, last_seq=start_seqs.get(sub, 0), retry_at=None,
                                     updated_at=utcnow()) for sub, p in missing]
                s.add_all(fresh)
                try:
                    s.commit()
                    found.update({(c.subscriber, c.partition): c for c in fresh})
                except IntegrityError:  # another worker made them a moment ago: read theirs next pass
                    s.rollback()
        return found

    def _read_events(self, after: int, safe_seq: int, wanted: set[int]) -> tuple[list[RelayEvent], int]:
        """Outbox rows in (after, safe_seq] of the wanted partitions, and how far the read reached."""
        limit = self.settings.relay_batch_size
        with self.db.read_sessions() as s:
            rows = s.execute(sa.select(OutboxEvent).where(OutboxEvent.seq > after, OutboxEvent.seq <= safe_seq)
                             .order_by(OutboxEvent.seq).limit(limit)).scalars().all()
        reached = rows[-1].seq if len(rows) == limit else safe_seq
        out = []
        for r in rows:
            p = partition_of(r.aggregate_type, r.aggregate_id, self.partitions)
            if p not in wanted:
                continue
            out.append(RelayEvent(
                seq=r.seq, id=r.id, type=r.type, aggregate_type=r.aggregate_type, aggregate_id=r.aggregate_id,
                aggregate_version=r.aggregate_version, partition=p,
                body=webhooks.event_body(event_id=r.id, event_type=r.type, occurred_at=r.occurred_at.isoformat(),
                                         aggregate_type=r.aggregate_type, aggregate_id=r.aggregate_id,
                                         aggregate_version=r.aggregate_version, schema_version=r.schema_version,
                                         payload=r.payload)))
        return out, reached

    def _write_cursors(self, session: Any, subscriber: str, positions: dict[int, int],
                       retry_at: dict[int, dt.datetime | None]) -> None:
        """Advance cursors, fenced by the lease: the lease is extended in the same transaction
        only if this worker still holds it, and a worker that lost a partition writes nothing."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.settings.relay_lease_seconds)
        for p, seq in positions.items():
            still_mine = session.execute(
                sa.update(RelayLease)
                .where(RelayLease.partition == p, RelayLease.owner == self.worker_id, RelayLease.expires_at > now)
                .values(expires_at=expires)).rowcount
            if not still_mine:
                log.warning("lease on partition %s lost before its cursor was written; the batch will be redelivered", p)
                self.leases.held.discard(p)
                continue
            session.execute(sa.update(RelayCursor)
                            .where(RelayCursor.subscriber == subscriber, RelayCursor.partition == p)
                            .values(last_seq=seq, retry_at=retry_at.get(p), updated_at=now))

    @staticmethod
    def _positions(events: list[RelayEvent], eligible: dict[int, int], reached: int,
                   first_unhandled: dict[int, int]) -> dict[int, int]:
        """New cursor per partition: just before its first unhandled event, else the read's end."""
        out = {}
        for p, current in eligible.items():
            new = first_unhandled[p] - 1 if p in first_unhandled else reached
            if new > current:
                out[p] = new
        return out

    # -- NATS -----------------------------------------------------------------------------------
    async def _relay_to_nats(self, eligible: dict[int, int], safe_seq: int) -> int:
        if not eligible:
            return 0
        after = min(eligible.values())
        if after >= safe_seq:
            return 0
        events, reached = self._read_events(after, safe_seq, set(eligible))
        pending = [e for e in events if e.seq > eligible[e.partition]]
        prefix = self.settings.nats_subject_prefix
        assert self.publisher is not None
        acked = await self.publisher.publish_ordered(
            [OutgoingMessage(e.id, subject_for(prefix, e.type), e.body.encode()) for e in pending])
        first_unhandled: dict[int, int] = {}
        for e in pending[acked:]:
            first_unhandled.setdefault(e.partition, e.seq)
        positions = self._positions(pending, eligible, reached, first_unhandled)
        if positions:
            with self.db.write_sessions() as s:
                self._write_cursors(s, NATS_SUBSCRIBER, positions, {})
                s.commit()
        return acked

    # -- webhooks ---------------------------------------------------------------------------------
    async def _relay_to_webhook(self, target: WebhookTarget, eligible: dict[int, int],
                                safe_seq: int) -> tuple[int, int, bool]:
        if not eligible:
            return 0, 0, False
        after = min(eligible.values())
        if after >= safe_seq:
            return 0, 0, False
        events, reached = self._read_events(after, safe_seq, set(eligible))
        pending = [e for e in events if e.seq > eligible[e.partition]]
        wanted = [e for e in pending if webhooks.matches(target.event_types, e.type)]
        results = await self._send_chains(target, wanted)
        first_unhandled: dict[int, int] = {}
        retry_partitions: set[int] = set()
        for e in wanted:
            r = results.get(e.seq)
            if r is None or r.outcome == "retryable":
                first_unhandled.setdefault(e.partition, e.seq)
                if r is not None:
                    retry_partitions.add(e.partition)
        delivered = sum(1 for r in results.values() if r.ok)
        failed = sum(1 for r in results.values() if not r.ok)
        by_seq = {e.seq: e for e in wanted}
        with UnitOfWork(self.db) as uow:
            retry_at = self._record_attempts(uow, target, [(by_seq[s], r) for s, r in sorted(results.items())],
                                             retry_partitions)
            positions = self._positions(pending, eligible, reached, first_unhandled)
            # a partition waiting for a retry keeps its cursor but records when to try again
            for p in retry_partitions:
                positions.setdefault(p, eligible[p])
            self._write_cursors(uow.session, target.key, positions, retry_at)
            uow.commit()
        return delivered, failed, bool(results) or bool(positions)

    async def _send_chains(self, target: WebhookTarget,
                           events: list[RelayEvent]) -> dict[int, webhooks.AttemptResult]:
        """One aggregate's events one after the other; aggregates concurrently. A chain stops
        at a retryable failure (later events of that aggregate must wait for it) or at the
        deadline that keeps the batch well inside the lease."""
        chains: dict[tuple[str, str], list[RelayEvent]] = defaultdict(list)
        for e in events:
            chains[(e.aggregate_type, e.aggregate_id)].append(e)
        results: dict[int, webhooks.AttemptResult] = {}
        deadline = time.monotonic() + self.settings.relay_lease_seconds / 2
        timeout = self.settings.webhook_timeout_seconds
        assert self._pool is not None, "start() first"

        def run_chain(chain: list[RelayEvent]) -> None:
            client = getattr(self._clients, "client", None)
            if client is None:
                client = self._clients.client = guarded_client(self.settings.outbound_allow_list,
                                                               follow_redirects=False)
            for e in chain:
                if time.monotonic() > deadline:
                    return
                r = webhooks.post(client, target.url, target.secret, e.id, e.body, timeout)
                results[e.seq] = r
                if r.outcome == "retryable":
                    return

        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, run_chain, c) for c in chains.values()))
        return results

    def _record_attempts(self, uow: UnitOfWork, target: WebhookTarget,
                         outcomes: list[tuple[RelayEvent, webhooks.AttemptResult]],
                         retry_partitions: set[int]) -> dict[int, dt.datetime | None]:
        """Delivery log + failure accounting; returns the retry time of each waiting partition."""
        s = uow.session
        retry_at: dict[int, dt.datetime | None] = {}
        if not outcomes:
            return retry_at
        now = utcnow()
        endpoint = s.get(WebhookEndpoint, target.endpoint_id)
        if endpoint is None:
            return retry_at
        existing = {d.event_id: d for d in s.scalars(sa.select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == target.endpoint_id,
            WebhookDelivery.event_id.in_([e.id for e, _ in outcomes])))}
        settings = self.settings
        new_deliveries: list[tuple[WebhookDelivery, webhooks.AttemptResult]] = []
        for e, r in outcomes:
            d = existing.get(e.id)
            if d is None:
                d = WebhookDelivery(endpoint_id=target.endpoint_id, event_id=e.id, event_type=e.type, event_seq=e.seq,
                                    status="pending", attempts=0, body=e.body, created_at=now)
                s.add(d)
            d.attempts += 1
            d.last_status_code = r.status_code
            if r.outcome == "retryable":
                d.status = "pending"
                d.next_attempt_at = now + dt.timedelta(seconds=webhooks.backoff_seconds(
                    d.attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds))
                retry_at[e.partition] = d.next_attempt_at
            else:
                d.status = "succeeded" if r.ok else "failed"
                d.next_attempt_at = None
                d.completed_at = now
            new_deliveries.append((d, r))
            if r.ok:
                endpoint.consecutive_failures = 0
            else:
                endpoint.consecutive_failures += 1
        s.flush()
        s.add_all([WebhookAttempt(delivery_id=d.id, trigger="relay", attempted_at=now, status_code=r.status_code,
                                  latency_ms=r.latency_ms, outcome=r.outcome, error=r.error,
                                  response_snippet=r.response_snippet) for d, r in new_deliveries])
        if endpoint.active and endpoint.consecutive_failures >= settings.webhook_max_consecutive_failures:
            disable_endpoint(uow, endpoint, f"{endpoint.consecutive_failures} consecutive failed deliveries")
        return retry_at

    def _maybe_purge(self) -> None:
        if (utcnow() - self._last_purge).total_seconds() < 3600:
            return
        self._last_purge = utcnow()
        try:
            with UnitOfWork(self.db) as uow:
                purge_delivery_payloads(uow, self.settings.delivery_retention_days)
        except Exception:  # purging is housekeeping; the next hour tries again
            log.exception("delivery payload purge failed")


def disable_endpoint(uow: UnitOfWork, endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.active = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = reason[:500]
    endpoint.version += 1
    uow.emit(WebhookEndpointDisabled(endpoint_id=endpoint.id, url=endpoint.url,
                                     consecutive_failures=endpoint.consecutive_failures, reason=reason),
             version=endpoint.version)
    uow.audit("webhook_endpoint.disabled", "webhook_endpoint", endpoint.id, after={"reason": reason})


def purge_delivery_payloads(uow: UnitOfWork, retention_days: int) -> int:
    """Drops stored bodies older than the retention period (the attempt log stays); returns how many."""
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    n = uow.session.execute(sa.update(WebhookDelivery)
                            .where(WebhookDelivery.created_at < cutoff, WebhookDelivery.body.is_not(None))
                            .values(body=None, payload_purged_at=utcnow())).rowcount
    uow.commit()
    return int(n or 0)


def run_worker(db: Database, settings: IntegrationSettings | None = None, *,
               stop: asyncio.Event | None = None, worker_id: str | None = None) -> None:
    """Blocking entry point of `merx worker`: relays until SIGTERM/SIGINT (releasing its leases),
    and runs the durable subscribers registered on the bus on a thread beside it."""
    import signal

    from merx.core.events import bus
    from merx.core.subscribers import RunnerThread

    async def main() -> None:
        stop_event = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop_event.set)
            except (NotImplementedError, RuntimeError):
                pass
        relay = Relay(db, settings, worker_id=worker_id)
        await relay.run_forever(stop_event)

    subscribers = RunnerThread(db, bus, dedicated=True) if bus.durable_subscribers() else None
    if subscribers is not None:
        subscribers.start()
    try:
        asyncio.run(main())
    finally:
        if subscribers is not None:
            subscribers.stop()


def iter_partitions_of(events: Iterable[tuple[str, str]], partitions: int) -> list[int]:
    return [partition_of(a, i, partitions) for a, i in events]
