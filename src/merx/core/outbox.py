"""Reading the outbox in commit order: the horizon.

`seq` is allocated at INSERT but PostgreSQL transactions commit in any order, so a reader that
asks for "seq > my cursor" could jump over a row that commits late. Readers (the integration
relay, connector exports, durable subscribers) therefore never pass `safe_seq`: the highest seq
below which every seq is visible or known to be abandoned. A missing seq (a gap) is final once
no transaction that started before the gap was first seen is still open (pg_stat_activity), or
after `gap_timeout_seconds`. On SQLite writers are serialised, so every seq up to the largest
visible one is final."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import Database, utcnow
from merx.core.models import OutboxEvent, OutboxGap, OutboxHorizon
from merx.core.timings import phase

log = logging.getLogger("merx.outbox")

# PostgreSQL: every transaction that writes outbox rows sends a NOTIFY on this channel as it
# commits (core/uow.py); an outbox reader in another process listens (OutboxListener) and
# wakes at once instead of at its next poll.
OUTBOX_CHANNEL = "merx_outbox"

# One PostgreSQL session at a time computes the horizon (two would record the same gap twice);
# the others wait their turn. Any fixed 64-bit number, chosen once.
_HORIZON_LOCK = 0x6D65_7278_6F62_7801


def max_outbox_seq(session: Any) -> int:
    return int(session.scalar(sa.select(sa.func.max(OutboxEvent.seq))) or 0)


def ensure_horizon_row(conn: sa.Connection) -> None:
    if conn.scalar(sa.select(OutboxHorizon.id).where(OutboxHorizon.id == 1)) is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(OutboxHorizon).values(id=1, safe_seq=0, origin_seq=0, updated_at=utcnow()))
        except IntegrityError:  # another process made it a moment ago
            pass


def advance_horizon(db: Database, gap_timeout_seconds: float) -> int:
    """Returns `safe_seq`: every outbox seq <= it is committed or will never exist."""
    return advance_horizon_detail(db, gap_timeout_seconds)[0]


def settled_horizon(db: Database, gap_timeout_seconds: float) -> int:
    """`advance_horizon`, asked a second time when this call found a new gap: a hole left by a
    rolled-back transaction is only known to be final on the pass after the one that saw it,
    and a reader that runs right after its own commit (inline subscribers) should not wait
    for the next commit to step over it."""
    safe, new_gap = advance_horizon_detail(db, gap_timeout_seconds)
    if new_gap:
        safe = advance_horizon_detail(db, gap_timeout_seconds)[0]
    return safe


def advance_horizon_detail(db: Database, gap_timeout_seconds: float) -> tuple[int, bool]:
    """(safe_seq, whether the walk stopped at a gap it saw for the first time)."""
    if db.dialect != "postgresql":
        with db.read_sessions() as s:
            return max_outbox_seq(s), False
    with db.engine.connect() as conn:
        # try-lock and sleep rather than a blocking pg_advisory_lock: a session waiting on the
        # lock would sit in pg_stat_activity as an open transaction and hold gaps open
        with phase("horizon_lock_wait"):
            while not conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _HORIZON_LOCK}):
                conn.commit()
                time.sleep(0.002)
            conn.commit()
        try:
            with phase("horizon_walk"):
                return _advance_pg(conn, gap_timeout_seconds)
        finally:
            conn.rollback()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _HORIZON_LOCK})
            conn.commit()


def _advance_pg(conn: sa.Connection, gap_timeout_seconds: float) -> tuple[int, bool]:
    # 1. Which recorded gaps are final? Asked before reading the outbox again, so a gap
    #    whose transaction commits in between shows up as present in step 2, not as final.
    with conn.begin():
        ensure_horizon_row(conn)
        now_db = conn.scalar(sa.text("SELECT clock_timestamp()"))
        gaps = conn.execute(sa.select(OutboxGap.seq, OutboxGap.end_seq, OutboxGap.first_seen_at)
                            .order_by(OutboxGap.seq)).all()
        oldest_open = conn.scalar(sa.text(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL "
            "AND datname = current_database()"))
        safe_seq = int(conn.scalar(sa.select(OutboxHorizon.safe_seq).where(OutboxHorizon.id == 1)) or 0)
    final: dict[int, int] = {}
    known = {g.seq for g in gaps}
    for g in gaps:
        started_before = oldest_open is not None and oldest_open <= g.first_seen_at
        if not started_before or (now_db - g.first_seen_at).total_seconds() > gap_timeout_seconds:
            final[g.seq] = g.end_seq
    # 2. Walk the visible seqs above the horizon; stop at the first gap that is not final.
    new_gap = False
    with conn.begin():
        now_db = conn.scalar(sa.text("SELECT clock_timestamp()"))
        seqs = conn.scalars(sa.select(OutboxEvent.seq).where(OutboxEvent.seq > safe_seq)
                            .order_by(OutboxEvent.seq).limit(20000)).all()
        expected, new_safe, new_gaps = safe_seq + 1, safe_seq, []
        for seq in seqs:
            if seq > expected:
                start, end = expected, seq - 1
                if start in final and final[start] >= end:
                    pass  # abandoned (rolled back): step over it
                else:
                    new_gaps.append((start, end))
                    new_gap = start not in known
                    break
            new_safe, expected = seq, seq + 1
        for start, end in new_gaps:
            conn.execute(sa.delete(OutboxGap).where(OutboxGap.seq == start))
            conn.execute(sa.insert(OutboxGap).values(seq=start, end_seq=end, first_seen_at=now_db))
        if new_safe > safe_seq:
            conn.execute(sa.update(OutboxHorizon).where(OutboxHorizon.id == 1, OutboxHorizon.safe_seq < new_safe)
                         .values(safe_seq=new_safe, updated_at=utcnow()))
            conn.execute(sa.delete(OutboxGap).where(OutboxGap.end_seq <= new_safe))
    return new_safe, new_gap


def aggregate_history(session: Any, aggregate_type: str, aggregate_id: str | int,
                      limit: int = 500) -> list[OutboxEvent]:
    """The events one aggregate emitted, oldest first (the index on aggregate and seq serves
    it): what a context shows as the record's timeline."""
    return list(session.scalars(
        sa.select(OutboxEvent).where(OutboxEvent.aggregate_type == aggregate_type,
                                     OutboxEvent.aggregate_id == str(aggregate_id))
        .order_by(OutboxEvent.seq).limit(limit)))


class OutboxListener:
    """PostgreSQL: calls `on_commit()` on a thread of its own whenever a transaction of any
    process commits outbox rows (LISTEN on OUTBOX_CHANNEL, one dedicated connection). A wake-up
    only: the reader still reads from its cursor up to the horizon, and still polls (a
    notification is lost while the connection is down; it reconnects after a second)."""

    def __init__(self, db: Database, on_commit: Callable[[], None]) -> None:
        self.db, self.on_commit = db, on_commit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.db.dialect != "postgresql" or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="merx-outbox-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _connect(self) -> Any:
        import psycopg

        url = sa.engine.make_url(self.db.url).set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
        return conn

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self.on_commit()  # whatever committed while it was not listening
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=0.5, stop_after=1)):
                            self.on_commit()
            except Exception:  # the database restarting, say: listen again after a pause
                log.warning("outbox listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(1.0)
