"""Durable subscribers: reactions fed from the outbox, so a crash loses none of them.

`bus.subscribe(type, handler, batch=True, durable="crm.orders")` registers one. A runner
(`merx worker`, `merx serve`'s embedded thread, or, in inline mode, the committing thread)
feeds it the outbox in commit order:

* Cursor. `subscriber_cursors(name).last_seq`. One pass opens a UnitOfWork, locks the cursor
  row (PostgreSQL: FOR UPDATE SKIP LOCKED, so one runner at a time per subscriber across
  processes; SQLite: the write transaction is exclusive), reads the events in
  (last_seq, safe_seq] (core/outbox.py: never past a row that may still commit), calls
  `handler(events, uow)` and commits. The cursor advance is a `before_commit` hook of that
  unit of work, so it is written in the same transaction as the handler's own writes, also
  when the handler calls `uow.commit()` itself (a handler should commit at most once, at its
  end: writes committed before a second commit are not undone by a crash after it). A crash
  before the commit loses both: the batch is handled again. Effects are applied once.
* Failures. A failing batch is rolled back and retried event by event. An event that fails
  stays the cursor's next one: retried after a backoff (`subscriber_retry_base_seconds`,
  doubling), and after `subscriber_max_attempts` tries parked in `subscriber_dead_letters`
  while the cursor goes on. `retry_dead_letter` runs a parked event again (out of order: the
  subscriber has moved on; handlers read the current state, so a later retry is safe).
* Start. A subscriber seen for the first time starts at `outbox_horizon.origin_seq`: 0 on a
  new shop, the end of the outbox when migration core_0002 introduced durable subscribers on
  an existing one (whose in-process handlers had applied everything before). `reset` moves a
  cursor back (default 0) to rebuild a projection whose owner cleared it first.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.errors import NotFound
from merx.core.events import DomainEvent, DurableSubscriber, MessageBus, bus as default_bus
from merx.core.models import DeadLetter, OutboxEvent, OutboxHorizon, SubscriberCursor
from merx.core.outbox import ensure_horizon_row, max_outbox_seq, settled_horizon
from merx.core.settings import settings_of
from merx.core.timings import phase
from merx.core.uow import UnitOfWork

log = logging.getLogger("merx.subscribers")
_local = threading.local()  # `active`: this thread is running subscribers (no nested catch-up)
# A dedicated `merx worker` writes its heartbeat this often; the embedded runner of
# `merx serve` (MERX_EMBEDDED_WORKER=auto) steps back while one is younger than 3 beats.
WORKER_HEARTBEAT_SECONDS = 5.0


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert


def event_from_row(row: OutboxEvent) -> DomainEvent:
    return DomainEvent(type=row.type, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
                       payload=row.payload, aggregate_version=row.aggregate_version,
                       schema_version=row.schema_version, id=row.id, occurred_at=row.occurred_at)


def _lock_cursor(uow: UnitOfWork, name: str) -> SubscriberCursor | None:
    """The subscriber's cursor, locked for this transaction; None while another runner has it."""
    s = uow.session
    stmt = sa.select(SubscriberCursor).where(SubscriberCursor.name == name).execution_options(populate_existing=True)
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    cursor = s.scalar(stmt)
    if cursor is None:
        origin = int(s.scalar(sa.select(OutboxHorizon.origin_seq).where(OutboxHorizon.id == 1)) or 0)
        s.execute(_insert(uow.dialect)(SubscriberCursor)
                  .values(name=name, last_seq=origin, attempts=0, updated_at=utcnow())
                  .on_conflict_do_nothing(index_elements=["name"]))
        cursor = s.scalar(stmt)
    return cursor


def _advance(session: Any, name: str, seq: int) -> None:
    """Move the cursor forward (never back: a handler's second commit re-runs this hook)."""
    session.execute(sa.update(SubscriberCursor)
                    .where(SubscriberCursor.name == name, SubscriberCursor.last_seq < seq)
                    .values(last_seq=seq, attempts=0, retry_at=None, last_error=None, updated_at=utcnow()))


def event_type_filter(patterns: set[str]) -> Any:
    """The outbox rows whose type a subscriber's patterns match (`crm.*`, `*`, exact names)."""
    if "*" in patterns:
        return sa.true()
    exact = sorted(p for p in patterns if not p.endswith(".*"))
    clauses = [OutboxEvent.type.in_(exact)] if exact else []
    clauses += [OutboxEvent.type.like(p[:-1] + "%") for p in sorted(patterns) if p.endswith(".*")]
    return sa.or_(*clauses)


@dataclass
class _Batch:
    after: int
    reached: int
    seqs: list[int]
    events: list[DomainEvent]


class SubscriberRunner:
    """Runs this process's durable subscribers against one database."""

    def __init__(self, db: Database, bus: MessageBus | None = None) -> None:
        self.db = db
        self.bus = bus or default_bus
        self.settings = settings_of(db)

    def subscribers(self, names: Iterable[str] | None = None) -> list[DurableSubscriber]:
        subs = self.bus.durable_subscribers()
        if names is None:
            return subs
        wanted = set(names)
        return [s for s in subs if s.name in wanted]

    def run_once(self, names: Iterable[str] | None = None, *, ceiling: Any = None, horizon: int | None = None) -> int:
        """One pass over the subscribers; returns how many events were handled or parked.
        `ceiling()`, when given, is a seq the pass must not go beyond (a subscriber that
        follows others: search's per-replica index waits for search's shared tables).
        `horizon`, when given, is a `settled_horizon` the caller computed for this pass (a
        caller running several catch-ups in a row computes it once: each computation takes
        the horizon's lock, which every runner of every process contends for)."""
        subs = self.subscribers(names)
        if not subs:
            return 0
        previous = getattr(_local, "active", False)
        _local.active = True
        try:
            if horizon is None:
                with phase("horizon"):
                    safe = settled_horizon(self.db, self.settings.outbox_gap_timeout_seconds)
            else:
                safe = horizon
            if ceiling is not None:
                with phase("ceiling"):
                    safe = min(safe, int(ceiling()))
            # a read first: an idle pass takes no write lock (SQLite has one for the whole file)
            with self.db.read_sessions() as s:
                positions = dict(s.execute(sa.select(SubscriberCursor.name, SubscriberCursor.last_seq)
                                           .where(SubscriberCursor.name.in_([sub.name for sub in subs]))).all())
            return sum(self._run(sub, safe) for sub in subs if positions.get(sub.name, -1) < safe)
        finally:
            _local.active = previous

    def catch_up(self, names: Iterable[str] | None = None, max_rounds: int = 100, *, ceiling: Any = None,
                 horizon: int | None = None) -> int:
        """Pass after pass until nothing is left below the horizon (or the subscriber waits)."""
        names = list(names) if names is not None else None
        total = 0
        for _ in range(max_rounds):
            n = self.run_once(names, ceiling=ceiling, horizon=horizon)
            total += n
            if n == 0:
                break
        return total

    # -- one subscriber -------------------------------------------------------------------------
    def _run(self, sub: DurableSubscriber, safe: int) -> int:
        with UnitOfWork(self.db) as uow:
            with phase("cursor_lock"):
                cursor = _lock_cursor(uow, sub.name)
            if cursor is None:
                return 0
            if cursor.last_seq >= safe or (cursor.retry_at is not None and cursor.retry_at > utcnow()):
                uow.commit()  # keeps a cursor made just now (its start position)
                return 0
            with phase("read_outbox"):
                batch = self._read(uow, sub, cursor.last_seq, safe)
            if not batch.events:
                _advance(uow.session, sub.name, batch.reached)
                uow.commit()
                return 0
            if cursor.attempts == 0:  # a subscriber retrying an event goes one by one at once
                uow.before_commit(lambda u: _advance(u.session, sub.name, batch.reached))
                try:
                    with phase("handler"):
                        sub.handler(batch.events, uow)
                    with phase("commit"):
                        uow.commit()
                    return len(batch.events)
                except Exception:
                    log.warning("durable subscriber %s failed on a batch of %d; retrying its events one by one",
                                sub.name, len(batch.events), exc_info=len(batch.events) == 1)
        return self._one_by_one(sub, batch)

    def _read(self, uow: UnitOfWork, sub: DurableSubscriber, after: int, safe: int) -> _Batch:
        limit = self.settings.subscriber_batch_size
        rows = uow.session.scalars(sa.select(OutboxEvent).where(
            OutboxEvent.seq > after, OutboxEvent.seq <= safe, event_type_filter(sub.patterns))
            .order_by(OutboxEvent.seq).limit(limit)).all()
        reached = rows[-1].seq if len(rows) == limit else safe
        return _Batch(after, reached, [r.seq for r in rows], [event_from_row(r) for r in rows])

    def _one_by_one(self, sub: DurableSubscriber, batch: _Batch) -> int:
        done, expected = 0, batch.after
        for i, (seq, event) in enumerate(zip(batch.seqs, batch.events)):
            target = batch.reached if i == len(batch.seqs) - 1 else seq
            with UnitOfWork(self.db) as uow:
                cursor = _lock_cursor(uow, sub.name)
                if cursor is None or cursor.last_seq != expected:
                    return done  # another runner took over, or the cursor was reset
                uow.before_commit(lambda u, t=target: _advance(u.session, sub.name, t))
                try:
                    sub.handler([event], uow)
                    uow.commit()
                except Exception as e:
                    uow.rollback()
                    log.exception("durable subscriber %s failed on event %s (%s)", sub.name, event.id, event.type)
                    parked = self._record_failure(sub, seq, event, expected, e)
                    return done + (1 if parked else 0)
            done, expected = done + 1, target
        return done

    def _record_failure(self, sub: DurableSubscriber, seq: int, event: DomainEvent, expected: int,
                        error: Exception) -> bool:
        """Count a failed try of the cursor's next event; park it after the last one. Returns
        whether it was parked (the subscriber moved on)."""
        message = f"{type(error).__name__}: {error}"[:1000]
        now = utcnow()
        with UnitOfWork(self.db) as uow:
            cursor = _lock_cursor(uow, sub.name)
            if cursor is None or cursor.last_seq != expected:
                return False
            attempts = cursor.attempts + 1
            if attempts < self.settings.subscriber_max_attempts:
                delay = min(self.settings.subscriber_retry_max_seconds,
                            self.settings.subscriber_retry_base_seconds * 2 ** (attempts - 1))
                cursor.attempts, cursor.last_error = attempts, message
                cursor.retry_at, cursor.updated_at = now + dt.timedelta(seconds=delay), now
                uow.commit()
                return False
            s = uow.session
            letter = s.scalar(sa.select(DeadLetter).where(DeadLetter.subscriber == sub.name,
                                                          DeadLetter.event_id == event.id))
            if letter is None:  # a reset cursor may fail on the same event again: one row
                letter = DeadLetter(subscriber=sub.name, event_id=event.id, created_at=now)
                s.add(letter)
            letter.event_seq, letter.event_type, letter.error = seq, event.type, message
            letter.attempts, letter.status, letter.last_tried_at, letter.resolved_at = attempts, "dead", now, None
            cursor.last_seq, cursor.attempts, cursor.retry_at, cursor.last_error = seq, 0, None, None
            cursor.updated_at = now
            uow.audit("subscriber.dead_lettered", "subscriber", sub.name,
                      after={"event_id": event.id, "event_type": event.type, "error": message})
            uow.commit()
            log.error("durable subscriber %s parked event %s after %d tries", sub.name, event.id, attempts)
            return True


def catch_up_inline(db: Database, bus: MessageBus, names: list[str]) -> None:
    """Inline mode (tests, CLI): right after a commit, in the committing thread. A handler's
    own commit inside a catch-up does not start another: the running loop picks it up."""
    if getattr(_local, "active", False):
        return
    try:
        SubscriberRunner(db, bus).catch_up(names)
    except Exception:  # the change is committed; a runner or the next commit picks the events up
        log.exception("durable subscribers' catch-up failed")


class RunnerThread:
    """Runs the durable subscribers on a thread: `merx worker` (dedicated) or `merx serve`
    (embedded). Woken by this process's commits (bus.publish), polls for other processes'."""

    def __init__(self, db: Database, bus: MessageBus | None = None, *, dedicated: bool,
                 mode: str = "on") -> None:
        self.db, self.bus, self.dedicated, self.mode = db, bus or default_bus, dedicated, mode
        self.runner = SubscriberRunner(db, self.bus)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_at = 0.0
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"

    def wake(self, db: Any = None) -> None:
        if db is None or db is self.db or getattr(db, "url", None) == self.db.url:
            self._wake.set()

    def settle(self, timeout: float) -> bool:
        """Wait until every subscriber's cursor has reached the outbox's end as it is now (or
        waits for a retry: it is not stuck on work it could do). False on time-out."""
        import time

        deadline = time.monotonic() + timeout
        names = [s.name for s in self.runner.subscribers()]
        with self.db.read_sessions() as s:
            target = max_outbox_seq(s)
        while True:
            self.wake()
            with self.db.read_sessions() as s:
                rows = s.execute(sa.select(SubscriberCursor.last_seq, SubscriberCursor.retry_at)
                                 .where(SubscriberCursor.name.in_(names))).all()
            if len(rows) == len(names) and all(r.last_seq >= target or r.retry_at is not None for r in rows):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def start(self) -> None:
        self.bus.attach_runner(self)
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="merx-subscribers" + ("" if self.dedicated else "-embedded"))
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.bus.detach_runner(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        import time

        poll = self.runner.settings.subscriber_poll_seconds
        window = self.runner.settings.subscriber_batch_window_seconds
        while not self._stop.is_set():
            try:
                if self.dedicated and time.monotonic() - self._beat_at > WORKER_HEARTBEAT_SECONDS:
                    self._heartbeat()
                    self._beat_at = time.monotonic()
                if self.dedicated or self.mode == "on" or not self._worker_alive():
                    self.runner.catch_up()
            except Exception:  # a database restart, say: the next pass tries again
                log.exception("durable subscribers' pass failed")
            woken = self._wake.wait(poll)
            if woken and window > 0 and not self._stop.is_set():
                # A commit woke us: let the commits right behind it join this batch (one
                # transaction per subscriber per batch, as the old in-process dispatcher did).
                self._stop.wait(window)
            self._wake.clear()

    def _heartbeat(self) -> None:
        with self.db.write_sessions() as s:  # SQLite: a write transaction from its start (IMMEDIATE)
            ensure_horizon_row(s.connection())
            s.execute(sa.update(OutboxHorizon).where(OutboxHorizon.id == 1).values(worker_seen_at=utcnow()))
            s.commit()

    def _worker_alive(self) -> bool:
        with self.db.read_sessions() as s:
            seen = s.scalar(sa.select(OutboxHorizon.worker_seen_at).where(OutboxHorizon.id == 1))
        return seen is not None and (utcnow() - seen).total_seconds() < 3 * WORKER_HEARTBEAT_SECONDS


def embedded_runner(db: Database, bus: MessageBus, mode: str) -> RunnerThread | None:
    """`merx serve`'s runner, per MERX_EMBEDDED_WORKER: None when off or nothing subscribes."""
    if mode == "off" or not bus.durable_subscribers():
        return None
    return RunnerThread(db, bus, dedicated=False, mode=mode)


# -- what the CLI and the admin API show and do ------------------------------------------------------
def subscriber_status(uow: UnitOfWork, bus: MessageBus | None = None) -> list[dict[str, Any]]:
    """Every durable subscriber (registered here or with a cursor): position, lag, failures."""
    bus = bus or default_bus
    s = uow.session
    newest = max_outbox_seq(s)
    cursors = {c.name: c for c in s.scalars(sa.select(SubscriberCursor))}
    dead = dict(s.execute(sa.select(DeadLetter.subscriber, sa.func.count()).where(DeadLetter.status == "dead")
                          .group_by(DeadLetter.subscriber)).all())
    registered = {sub.name: sub for sub in bus.durable_subscribers()}
    out = []
    for name in sorted(set(cursors) | set(registered)):
        c = cursors.get(name)
        sub = registered.get(name)
        out.append({"name": name, "event_types": sorted(sub.patterns) if sub else [],
                    "registered": sub is not None, "last_seq": c.last_seq if c else None,
                    "lag": max(0, newest - c.last_seq) if c else None, "attempts": c.attempts if c else 0,
                    "retry_at": c.retry_at if c else None, "last_error": c.last_error if c else None,
                    "dead_letters": int(dead.get(name, 0)), "updated_at": c.updated_at if c else None})
    return out


def dead_letters(uow: UnitOfWork, *, subscriber: str | None = None, include_retried: bool = False) -> list[DeadLetter]:
    q = sa.select(DeadLetter).order_by(DeadLetter.id)
    if subscriber:
        q = q.where(DeadLetter.subscriber == subscriber)
    if not include_retried:
        q = q.where(DeadLetter.status == "dead")
    return list(uow.session.scalars(q))


def retry_dead_letter(db: Database, letter_id: int, bus: MessageBus | None = None, actor: Any = None) -> DeadLetter:
    """Run a parked event through its subscriber again. On success the letter is marked
    `retried` in the same transaction as the handler's writes; on failure it stays `dead`
    with the new error and one more attempt counted. `actor`: who asked (the audit entry's
    user; the system when None)."""
    from merx.core.errors import Conflict

    bus = bus or default_bus
    with UnitOfWork(db) as uow:
        letter = uow.session.get(DeadLetter, letter_id)
        if letter is None:
            raise NotFound(f"dead letter {letter_id} not found")
        if letter.status != "dead":
            raise Conflict(f"dead letter {letter_id} was already retried")
        sub = {s.name: s for s in bus.durable_subscribers()}.get(letter.subscriber)
        if sub is None:
            raise Conflict(f"subscriber {letter.subscriber!r} is not registered in this process")
        row = uow.session.scalar(sa.select(OutboxEvent).where(OutboxEvent.id == letter.event_id))
        if row is None:
            raise NotFound(f"event {letter.event_id} is no longer in the outbox")
        event = event_from_row(row)
    previous = getattr(_local, "active", False)
    _local.active = True
    try:
        with (UnitOfWork(db, actor) if actor is not None else UnitOfWork(db)) as uow:
            def resolve(u: UnitOfWork) -> None:
                u.session.execute(sa.update(DeadLetter).where(DeadLetter.id == letter_id, DeadLetter.status == "dead")
                                  .values(status="retried", resolved_at=utcnow(), last_tried_at=utcnow(),
                                          attempts=DeadLetter.attempts + 1))
            uow.before_commit(resolve)
            try:
                sub.handler([event], uow)
                uow.audit("subscriber.dead_letter_retried", "subscriber", sub.name, after={"event_id": event.id})
                uow.commit()
            except Exception as e:
                uow.rollback()
                log.exception("retry of dead letter %s failed", letter_id)
                with UnitOfWork(db) as failed:
                    failed.session.execute(sa.update(DeadLetter).where(DeadLetter.id == letter_id).values(
                        attempts=DeadLetter.attempts + 1, last_tried_at=utcnow(),
                        error=f"{type(e).__name__}: {e}"[:1000]))
                    failed.commit()
    finally:
        _local.active = previous
    with UnitOfWork(db, readonly=True) as uow:
        out = uow.session.get(DeadLetter, letter_id)
        assert out is not None
        uow.session.expunge(out)  # keeps its loaded values past the session's closing rollback
        return out


def discard_dead_letter(uow: UnitOfWork, letter_id: int, reason: str | None = None) -> DeadLetter:
    """Give up on a parked event: the letter is marked `discarded` (kept, with who did it and why
    in the audit log) and no longer counted or offered for a retry. Only a `dead` letter can be
    discarded (409 otherwise: it was retried or discarded already)."""
    from merx.core.errors import Conflict

    letter = uow.session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"dead letter {letter_id} not found")
    if letter.status != "dead":
        raise Conflict(f"dead letter {letter_id} was already {letter.status}", type_slug="dead-letter-resolved")
    letter.status, letter.resolved_at = "discarded", utcnow()
    uow.audit("subscriber.dead_letter_discarded", "subscriber", letter.subscriber,
              after={"dead_letter_id": letter.id, "event_id": letter.event_id, "event_type": letter.event_type,
                     "reason": reason})
    uow.commit()
    return letter


def reset_cursor(db: Database, name: str, to_seq: int = 0) -> int:
    """Move a subscriber's cursor to `to_seq` (default: the outbox's start) so it handles
    everything after it again: rebuilds a projection its owner has cleared. Waits for a
    runner that is in the middle of a batch. Returns the previous position."""
    with UnitOfWork(db) as uow:
        stmt = sa.select(SubscriberCursor).where(SubscriberCursor.name == name)
        if uow.dialect == "postgresql":
            stmt = stmt.with_for_update()
        cursor = uow.session.scalar(stmt)
        if cursor is None:
            uow.session.add(SubscriberCursor(name=name, last_seq=to_seq, attempts=0, updated_at=utcnow()))
            previous = -1
        else:
            previous = cursor.last_seq
            cursor.last_seq, cursor.attempts, cursor.retry_at, cursor.last_error = to_seq, 0, None, None
            cursor.updated_at = utcnow()
        uow.audit("subscriber.reset", "subscriber", name, before={"last_seq": previous}, after={"last_seq": to_seq})
        uow.commit()
    return previous
