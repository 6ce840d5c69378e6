"""Unit of work: one database transaction plus the events and audit entries it produces.

Service functions take a UnitOfWork, do their reads and writes through `uow.session`,
record typed events with `uow.emit(SomeEvent(...))` and audit entries with `uow.audit(...)`, then call
`uow.commit()`. Events and audit rows are inserted in that same transaction; in-process
event handlers run only after the commit succeeded.

Outbox and audit rows are buffered and written at commit with one multi-row INSERT each
(Core, not the ORM's unit of work): every write use case pays for them, and per-object ORM
flushes were a large share of a checkout's cost."""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from merx.core.auth import SYSTEM, Principal
from merx.core.db import Database, utcnow
from merx.core.events import DomainEvent, Event, MessageBus, bus as default_bus
from merx.core.models import AuditEntry, OutboxEvent
from merx.core.outbox import OUTBOX_CHANNEL

if TYPE_CHECKING:
    from merx.core.idempotency import IdempotencyClaim


# Built once: a statement object reused across calls keeps its memoised cache key, so
# SQLAlchemy neither rebuilds nor re-hashes it on every commit.
_INSERT_OUTBOX = sa.insert(OutboxEvent.__table__)
_NOTIFY_OUTBOX = sa.text(f"NOTIFY {OUTBOX_CHANNEL}")
_INSERT_AUDIT = sa.insert(AuditEntry.__table__)

T = TypeVar("T")

# PostgreSQL: serialization_failure, deadlock_detected. The database chose this transaction as
# the one to abort, and running it again from the start is the documented remedy.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_retryable(error: DBAPIError, dialect: str, extra_sqlstates: frozenset[str] = frozenset()) -> bool:
    """Whether running the whole transaction again may succeed: a deadlock or serialisation
    failure on PostgreSQL, or SQLite's "database is locked" (another writer held the file
    past the busy timeout)."""
    orig = getattr(error, "orig", None)
    if dialect == "sqlite":
        return "database is locked" in str(orig)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES or code in extra_sqlstates


class UnitOfWork:
    def __init__(self, db: Database, actor: Principal = SYSTEM, *, request_id: str | None = None,
                 readonly: bool = False, message_bus: MessageBus | None = None,
                 idempotency: "IdempotencyClaim | None" = None) -> None:
        self.db = db
        # the request's Idempotency-Key claim: every commit marks it in the same transaction
        self.idempotency = idempotency
        self.actor = actor
        self.request_id = request_id
        self.readonly = readonly
        self.bus = message_bus or default_bus
        self._session: Session | None = None
        self._pending_events: list[DomainEvent] = []
        self._outbox_rows: list[dict[str, Any]] = []
        self._wrote_outbox = False
        self._audit_rows: list[dict[str, Any]] = []
        # Writes that ride along with every commit of this unit of work (a durable subscriber's
        # cursor advance: see core/subscribers.py), whoever calls commit().
        self._commit_hooks: list[Callable[["UnitOfWork"], None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "UnitOfWork":
        factory = self.db.read_sessions if self.readonly else self.db.write_sessions
        self._session = factory()
        self._clear_buffers()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._session is not None
        try:
            self._session.rollback()  # no-op after a commit; undoes an abandoned transaction
        finally:
            self._session.close()
            self._session = None
            self._clear_buffers()
            self._commit_hooks = []

    def _clear_buffers(self) -> None:
        self._wrote_outbox = False  # this transaction inserted outbox rows (commit notifies)
        self._pending_events = []
        self._outbox_rows = []
        self._audit_rows = []

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    def in_transaction(self) -> bool:
        return self._session is not None and self._session.in_transaction()

    @property
    def settings(self) -> Any:
        from merx.core.settings import settings_of

        return settings_of(self.db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    # -- recording ---------------------------------------------------------------------------
    def emit(self, event: Event, *, version: int | None = None) -> DomainEvent:
        """Record a typed event (its payload was checked when it was built) for the outbox;
        `version` is the aggregate's version after this change."""
        if not isinstance(event, Event):  # a programming error: events are typed contracts
            raise TypeError(f"uow.emit takes an Event instance, not {type(event).__name__}")
        ev = DomainEvent.of(event, aggregate_version=version)
        self.session  # noqa: B018 - fails outside the `with` block, like the ORM path did
        self._pending_events.append(ev)
        self._outbox_rows.append({
            "id": ev.id, "type": ev.type, "aggregate_type": ev.aggregate_type, "aggregate_id": ev.aggregate_id,
            "aggregate_version": ev.aggregate_version, "occurred_at": ev.occurred_at,
            "schema_version": ev.schema_version, "payload": ev.payload, "actor_user_id": self.actor.user_id,
            "request_id": self.request_id})
        return ev

    def audit(self, action: str, entity_type: str, entity_id: Any, *, before: Any = None, after: Any = None) -> None:
        self.session  # noqa: B018
        self._audit_rows.append({
            "at": utcnow(), "actor_user_id": self.actor.user_id,
            "actor_role": self.actor.role.value if self.actor.role else None, "action": action,
            "entity_type": entity_type, "entity_id": str(entity_id), "before": before, "after": after,
            "request_id": self.request_id})

    def created(self, kind: str, resource_id: Any) -> None:
        """Name what this request creates (before its commit): if the process dies after the
        commit but before the answer was stored, a retry with the same Idempotency-Key is
        answered with this resource (see `core.idempotency.register_replay`), not a second one."""
        if self.idempotency is not None:
            self.idempotency.resource = (kind, str(resource_id))

    def flush_records(self) -> None:
        """Write the buffered outbox and audit rows now (commit does it; a caller that reads
        them back inside the transaction calls it first)."""
        session = self.session
        if not (self._outbox_rows or self._audit_rows):
            return
        session.flush()
        conn = session.connection()
        if self._outbox_rows:
            conn.execute(_INSERT_OUTBOX, self._outbox_rows)
            self._outbox_rows = []
            self._wrote_outbox = True
        if self._audit_rows:
            conn.execute(_INSERT_AUDIT, self._audit_rows)
            self._audit_rows = []

    def before_commit(self, hook: Callable[["UnitOfWork"], None]) -> None:
        """Run `hook(uow)` inside every later commit of this unit of work, just before it."""
        self._commit_hooks.append(hook)

    # -- transaction -------------------------------------------------------------------------
    def commit(self) -> None:
        for hook in self._commit_hooks:
            hook(self)
        self.flush_records()
        if self.idempotency is not None:
            try:
                self.idempotency.mark_committed(self.session.connection())
            except Exception:
                self.rollback()
                raise
        if self._wrote_outbox and self.dialect == "postgresql" and self.settings.outbox_notify:
            # delivered to every listener when (and only if) this transaction commits: other
            # replicas' outbox readers wake now rather than at their next poll (core/outbox.py)
            self.session.execute(_NOTIFY_OUTBOX)
        self.session.commit()
        self._wrote_outbox = False
        events, self._pending_events = self._pending_events, []
        if events:
            self.bus.publish(events, self.db)

    def rollback(self) -> None:
        self.session.rollback()
        self._clear_buffers()

    def run_in_transaction(self, fn: Callable[[], T], *, attempts: int = 4,
                           guard: Callable[["UnitOfWork"], ContextManager[Any]] | None = None,
                           also_retry_sqlstates: frozenset[str] = frozenset()) -> T:
        """Run `fn` (the whole transaction, its `commit()` included) and run it again from the
        start, after a rollback and a short randomised pause, when the database aborted it for
        a deadlock or a serialisation failure (see `is_retryable`), up to `attempts` times in
        all. Any other error is raised at once, after the rollback. `fn` must read everything
        it decides on inside the transaction and have no effect outside the database until it
        has committed. `guard(uow)` is entered around each attempt (orders queue SQLite writers
        with it); `also_retry_sqlstates` adds codes one caller deems retryable."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        for attempt in range(1, attempts + 1):
            try:
                with guard(self) if guard is not None else contextlib.nullcontext():
                    return fn()
            except DBAPIError as e:
                self.rollback()
                if attempt == attempts or not is_retryable(e, self.dialect, also_retry_sqlstates):
                    raise
            # jittered, growing pause: the transactions that collided do not collide again in step
            time.sleep(random.uniform(0.002, 0.005 * attempt))
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception inside undoes only this block's writes and events."""
        # Rows buffered before the savepoint are written first, so whatever is buffered when
        # it rolls back belongs to it (and what it flushed itself is undone by the database).
        self.flush_records()
        mark = len(self._pending_events)
        nested = self.session.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            del self._pending_events[mark:]
            self._outbox_rows, self._audit_rows = [], []
            raise
        else:
            nested.commit()
