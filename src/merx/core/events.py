"""Domain events and the in-process message bus.

A service records events on its unit of work; they are written to the outbox in the same
transaction as the change (so no event exists for a change that rolled back, and no change
lacks its event). Reactions that must not be lost (CRM, analytics) are durable subscribers fed
from the outbox (core/subscribers.py); after the commit, in-process handlers (caches, the local
search index) run; the integration hub's relay delivers the outbox to the outside world."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from merx.core.db import utcnow
from merx.core.ids import new_ulid

log = logging.getLogger("merx.events")


@dataclass(frozen=True)
class DomainEvent:
    type: str  # "<aggregate>.<event>", e.g. "product.created"
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    aggregate_version: int | None = None
    schema_version: int = 1
    id: str = field(default_factory=new_ulid)
    occurred_at: dt.datetime = field(default_factory=utcnow)


# Handlers get the event and the database it was committed to (a process may serve several,
# as tests do), so they can open their own unit of work.
Handler = Callable[[DomainEvent, Any], None]

# Event type -> payload description, filled by each context's `events.py` via `describe_event`;
# the integration hub renders it into the docs' event catalog.
EVENT_CATALOG: dict[str, dict[str, Any]] = {}


@dataclass
class DurableSubscriber:
    """A reaction fed from the outbox by a cursor of its own (core/subscribers.py):
    `handler(events, uow)` gets a batch in commit order and writes through `uow`; the runner
    commits those writes together with the cursor advance."""

    name: str
    handler: Callable[..., None]
    patterns: set[str] = field(default_factory=set)

    def wants(self, event_type: str) -> bool:
        return (event_type in self.patterns or "*" in self.patterns
                or event_type.split(".", 1)[0] + ".*" in self.patterns)


def describe_event(event_type: str, *, aggregate: str, payload: dict[str, str], schema_version: int = 1,
                   description: str = "") -> str:
    EVENT_CATALOG[event_type] = {
        "aggregate": aggregate,
        "schema_version": schema_version,
        "payload": payload,
        "description": description,
    }
    return event_type


class MessageBus:
    """Delivers committed events to the in-process handlers of other contexts.

    Two modes:
    * inline (the default, and what CLI commands and tests use): handlers run after the
      commit, in the committing thread, before `commit()` returns;
    * background (what `merx serve` uses, `MERX_EVENT_HANDLERS=background`): the committing
      request only queues the events; one dispatcher thread per process runs the handlers a
      moment later (a batch window of 0.25 s), in batches. A checkout then does not pay for CRM timelines,
      analytics facts or search signals, and a batch handler writes many events in one
      transaction. `drain()` waits until everything queued so far has been handled.

    A failing handler is logged and does not undo the committed change. A batch handler
    that fails is retried one event at a time, so one bad event does not lose its batch.
    What must not be lost on a crash goes through the outbox: durable subscribers
    (`subscribe(..., durable=NAME)`), run by `merx worker` or `merx serve`'s embedded runner,
    which `publish` wakes; in inline mode `publish` runs their catch-up itself, after the
    in-process handlers, so a test or a CLI command sees their effects when `commit()` returns."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[Handler, bool]]] = defaultdict(list)
        self._background = False
        # Long enough that a busy shop's batch holds many events (one transaction per handler
        # per batch), short enough that a timeline or a report is behind by a blink.
        self._batch_window = 0.25
        self._max_batch = 1000
        self._queue: queue.Queue[tuple[Any, list[DomainEvent]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._durable: dict[str, DurableSubscriber] = {}
        # the subscriber runners on threads of this process (core/subscribers.py): woken by
        # `publish`, waited for by `drain`
        self._runners: list[Any] = []

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, event_type: str, handler: Callable[..., None], *, batch: bool = False,
                  durable: str | None = None) -> None:
        """`event_type` may be "*" for every event, or "product.*" for one aggregate's.
        A `batch` handler is called as `handler(events, db)` with a list of events in commit
        order; any other as `handler(event, db)`.

        `durable="<context>.<name>"` makes it a durable subscriber: fed from the outbox with a
        cursor of its own, at least once, in commit order, called as `handler(events, uow)`
        (batch only). Several event types may share one name (and one handler)."""
        if durable is None:
            self._handlers[event_type].append((handler, batch))
            return
        if not batch:
            raise ValueError(f"durable subscriber {durable!r} must be a batch handler (batch=True)")
        sub = self._durable.setdefault(durable, DurableSubscriber(durable, handler))
        if sub.handler is not handler:
            raise ValueError(f"durable subscriber {durable!r} is already bound to another handler")
        sub.patterns.add(event_type)

    def unsubscribe_durable(self, name: str) -> None:
        self._durable.pop(name, None)

    def durable_subscribers(self) -> list[DurableSubscriber]:
        return list(self._durable.values())

    def attach_runner(self, runner: Any) -> None:
        """A runner with `wake(db)` and `settle(timeout) -> bool` (core/subscribers.RunnerThread)."""
        self._runners.append(runner)

    def detach_runner(self, runner: Any) -> None:
        self._runners = [r for r in self._runners if r is not runner]

    def unsubscribe(self, event_type: str, handler: Callable[..., None]) -> None:
        self._handlers[event_type] = [(h, b) for h, b in self._handlers.get(event_type, []) if h is not handler]

    # -- modes -----------------------------------------------------------------------------
    @property
    def background(self) -> bool:
        return self._background

    def configure(self, *, background: bool, batch_window: float | None = None,
                  max_batch: int | None = None) -> None:
        if not background and self._background:
            self.drain()
        self._background = background
        if batch_window is not None:
            self._batch_window = batch_window
        if max_batch is not None:
            self._max_batch = max_batch

    # -- delivery --------------------------------------------------------------------------
    def publish(self, events: list[DomainEvent], db: Any = None) -> None:
        if not events:
            return
        if self._background:
            self._ensure_thread()
            self._queue.put((db, list(events)))
            for runner in list(self._runners):
                runner.wake(db)
        else:
            self.dispatch(events, db)
            self._catch_up_durable(events, db)

    def _catch_up_durable(self, events: list[DomainEvent], db: Any) -> None:
        """Inline mode: the durable subscribers these events concern catch up now."""
        if db is None or not self._durable:
            return
        names = [s.name for s in self._durable.values() if any(s.wants(e.type) for e in events)]
        if names:
            from merx.core.subscribers import catch_up_inline

            catch_up_inline(db, self, names)

    def dispatch(self, events: list[DomainEvent], db: Any = None) -> None:
        """Run the handlers for these events now, in this thread."""
        plan: dict[tuple[int, bool], tuple[Callable[..., None], list[DomainEvent]]] = {}
        for ev in events:
            prefix = ev.type.split(".", 1)[0] + ".*"
            for key in (ev.type, prefix, "*"):
                for handler, is_batch in list(self._handlers.get(key, ())):
                    plan.setdefault((id(handler), is_batch), (handler, []))[1].append(ev)
        for (_, is_batch), (handler, evs) in plan.items():
            if is_batch:
                try:
                    handler(evs, db)
                    continue
                except Exception:
                    if len(evs) == 1:
                        log.exception("event handler failed", extra={"event_type": evs[0].type,
                                                                     "event_id": evs[0].id})
                        continue
                    log.warning("batch event handler failed; retrying its events one by one",
                                extra={"handler": getattr(handler, "__qualname__", str(handler)),
                                       "events": len(evs)}, exc_info=True)
                for ev in evs:
                    self._call(handler, [ev], db, ev)
            else:
                for ev in evs:
                    self._call(handler, ev, db, ev)

    @staticmethod
    def _call(handler: Callable[..., None], arg: Any, db: Any, ev: DomainEvent) -> None:
        try:
            handler(arg, db)
        except Exception:
            log.exception("event handler failed", extra={"event_type": ev.type, "event_id": ev.id})

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every event queued so far has been handled, and this process's subscriber
        runners have caught up with the outbox as it is now; False on time-out."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return all(runner.settle(max(0.0, deadline - time.monotonic())) for runner in list(self._runners))

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="merx-event-dispatcher", daemon=True)
                self._thread.start()
                atexit.register(self.drain, 30.0)

    def _run(self) -> None:
        while True:
            taken = [self._queue.get()]
            count = len(taken[0][1])
            # gather what arrives within the batch window: one transaction per handler per batch
            deadline = time.monotonic() + self._batch_window
            while count < self._max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                taken.append(item)
                count += len(item[1])
            try:
                by_db: dict[int, tuple[Any, list[DomainEvent]]] = {}
                for db, events in taken:
                    by_db.setdefault(id(db), (db, []))[1].extend(events)
                for db, events in by_db.values():
                    self.dispatch(events, db)
            except Exception:  # never let the dispatcher die: later events still need it
                log.exception("event dispatch failed")
            finally:
                for _ in taken:
                    self._queue.task_done()


bus = MessageBus()
