"""Domain events and the in-process message bus.

A service records events on its unit of work; they are written to the outbox in the same
transaction as the change (so no event exists for a change that rolled back, and no change
lacks its event). Reactions that must not be lost (CRM, analytics) are durable subscribers fed
from the outbox (core/subscribers.py); after the commit, in-process handlers (caches, the local
search index) run; the integration hub's relay delivers the outbox to the outside world.

Events are typed contracts: each context declares `Event` subclasses in its `events.py`
(`uow.emit(OrderPaid(...))`, `bus.subscribe(OrderPaid, handler)`); `merx events catalog`
generates docs/events.md and a JSON Schema per event from them."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, PlainValidator, WithJsonSchema

from merx.core.db import utcnow
from merx.core.ids import new_ulid
from merx.core.money import Money, check_currency

log = logging.getLogger("merx.events")


# -- typed event contracts ------------------------------------------------------------------
# Field types for event payloads. Their JSON is what webhooks and NATS carry, so each states
# its wire form: amounts are decimal strings (never floats), money is {"amount", "currency"}
# like the API, timestamps are ISO 8601 with their offset.

def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("an amount is a decimal string such as \"19.99\", not a float")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal amount") from None


def _money(value: Any) -> Money:
    if isinstance(value, Money):
        return Money.of(value.amount, value.currency)
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return Money.of(value["amount"], value["currency"])
    raise ValueError('money is {"amount": "19.99", "currency": "EUR"}')


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("a timestamp needs its UTC offset")
    return value


_AMOUNT_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
_CURRENCY_SCHEMA = {"type": "string", "pattern": "^[A-Z]{3}$"}

Amount = Annotated[Decimal, PlainValidator(_decimal), PlainSerializer(lambda d: format(d, "f"), return_type=str),
                   WithJsonSchema({**_AMOUNT_SCHEMA, "description": "decimal string"})]
Currency = Annotated[str, AfterValidator(check_currency), WithJsonSchema({**_CURRENCY_SCHEMA,
                                                                         "description": "ISO 4217"})]
EventMoney = Annotated[Money, PlainValidator(_money), PlainSerializer(Money.as_dict, return_type=dict),
                       WithJsonSchema({"title": "Money", "type": "object", "additionalProperties": False,
                                       "required": ["amount", "currency"],
                                       "properties": {"amount": _AMOUNT_SCHEMA, "currency": _CURRENCY_SCHEMA}})]
Timestamp = Annotated[dt.datetime, AfterValidator(_aware), PlainSerializer(dt.datetime.isoformat, return_type=str),
                      WithJsonSchema({"type": "string", "format": "date-time"})]


class EventPart(BaseModel):
    """A typed part of an event's payload (an order line, totals...): frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Event(EventPart):
    """A typed, versioned event contract. A context declares its events as subclasses in
    its `events.py`, with class-level `event_type` ("order.returned"), `schema_version`,
    `aggregate_type` and `aggregate_field` (the field holding the aggregate's id; override
    `aggregate_id()` when it is derived). Declaring the class registers it; a payload that
    does not match fails when the event is built, so nothing is written."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str]
    aggregate_field: ClassVar[str] = ""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:  # a shared base (e.g. the order status events)
            return
        key = (cls.event_type, cls.schema_version)
        known = _REGISTRY.get(key)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"event {cls.event_type} v{cls.schema_version} is declared twice: "
                            f"{known.__module__}.{known.__qualname__} and {cls.__module__}.{cls.__qualname__}")
        _REGISTRY[key] = cls

    def aggregate_id(self) -> str:
        return str(getattr(self, self.aggregate_field))

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def description(cls) -> str:
        return " ".join((cls.__doc__ or "").split())


# (event type, schema version) -> its class, filled by declaring the classes.
_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def event_class(event_type: str, schema_version: int | None = None) -> type[Event]:
    """The class of an event type (its latest version unless one is named); KeyError if none."""
    if schema_version is not None:
        return _REGISTRY[(event_type, schema_version)]
    versions = [v for (t, v) in _REGISTRY if t == event_type]
    if not versions:
        raise KeyError(event_type)
    return _REGISTRY[(event_type, max(versions))]


def event_classes() -> list[type[Event]]:
    """Every declared event class of Merx itself (not tests'), by type and version."""
    return [cls for key, cls in sorted(_REGISTRY.items()) if cls.__module__.startswith("merx.")]


@dataclass(frozen=True)
class DomainEvent:
    """The envelope the outbox, the relay, webhooks and NATS carry: stable JSON around the
    payload of a typed `Event` (`data`)."""

    type: str  # "<aggregate>.<event>", e.g. "product.created"
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    aggregate_version: int | None = None
    schema_version: int = 1
    id: str = field(default_factory=new_ulid)
    occurred_at: dt.datetime = field(default_factory=utcnow)
    _data: Event | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, event: Event, *, aggregate_version: int | None = None) -> "DomainEvent":
        return cls(type=event.event_type, aggregate_type=event.aggregate_type, aggregate_id=event.aggregate_id(),
                   payload=event.payload(), aggregate_version=aggregate_version,
                   schema_version=event.schema_version, _data=event)

    @property
    def data(self) -> Event:
        """The typed event, decoded from `payload` by type and schema version."""
        if self._data is None:
            decoded = event_class(self.type, self.schema_version).model_validate(self.payload)
            object.__setattr__(self, "_data", decoded)
        return self._data  # type: ignore[return-value]


# Handlers get the event and the database it was committed to (a process may serve several,
# as tests do), so they can open their own unit of work.
Handler = Callable[[DomainEvent, Any], None]


def subscription_key(event: type[Event] | str) -> str:
    """An event class subscribes to its type; a string only to a catch-all: "*" or "order.*"."""
    if isinstance(event, type) and issubclass(event, Event) and "event_type" in event.__dict__:
        return event.event_type
    if isinstance(event, str) and (event == "*" or (event.endswith(".*") and event.count(".") == 1)):
        return event
    raise TypeError(f"subscribe to an Event class or a wildcard ('*', 'order.*'), not {event!r}")


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
        # handlers that only note something in memory (and must see it at once, like the
        # search index's notes): run at publish time even in background mode
        self._eager: dict[str, list[Handler]] = defaultdict(list)
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
    def subscribe(self, event: type[Event] | str, handler: Callable[..., None], *, batch: bool = False,
                  durable: str | None = None, eager: bool = False) -> None:
        """`event` is an Event class (`bus.subscribe(OrderReturned, ...)`), or "*" for every
        event, or "product.*" for one aggregate's. A `batch` handler is called as
        `handler(events, db)` with a list of events in commit order; any other as
        `handler(event, db)`. Handlers read the typed event as `envelope.data`.

        `durable="<context>.<name>"` makes it a durable subscriber: fed from the outbox with a
        cursor of its own, at least once, in commit order, called as `handler(events, uow)`
        (batch only). Several event types may share one name (and one handler).

        `eager=True`: called as `handler(event, db)` in the committing thread right after the
        commit, in background mode too (no batch window). Only for handlers that do next to
        nothing (note an id in memory and return): they delay the committing request."""
        key = subscription_key(event)
        if eager:
            if batch or durable is not None:
                raise ValueError("an eager handler is a plain in-process handler (not batch, not durable)")
            self._eager[key].append(handler)
            return
        if durable is None:
            self._handlers[key].append((handler, batch))
            return
        if not batch:
            raise ValueError(f"durable subscriber {durable!r} must be a batch handler (batch=True)")
        sub = self._durable.setdefault(durable, DurableSubscriber(durable, handler))
        if sub.handler is not handler:
            raise ValueError(f"durable subscriber {durable!r} is already bound to another handler")
        sub.patterns.add(key)

    def unsubscribe_durable(self, name: str) -> None:
        self._durable.pop(name, None)

    def durable_subscribers(self) -> list[DurableSubscriber]:
        return list(self._durable.values())

    def attach_runner(self, runner: Any) -> None:
        """A runner with `wake(db)` and `settle(timeout) -> bool` (core/subscribers.RunnerThread)."""
        self._runners.append(runner)

    def detach_runner(self, runner: Any) -> None:
        self._runners = [r for r in self._runners if r is not runner]

    def unsubscribe(self, event: type[Event] | str, handler: Callable[..., None]) -> None:
        key = subscription_key(event)
        self._handlers[key] = [(h, b) for h, b in self._handlers.get(key, []) if h is not handler]
        if key in self._eager:
            self._eager[key] = [h for h in self._eager[key] if h is not handler]

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
        if self._eager:
            self._run_eager(events, db)
        if self._background:
            self._ensure_thread()
            self._queue.put((db, list(events)))
            for runner in list(self._runners):
                runner.wake(db)
        else:
            self.dispatch(events, db)
            self._catch_up_durable(events, db)

    def _run_eager(self, events: list[DomainEvent], db: Any) -> None:
        for ev in events:
            for key in (ev.type, ev.type.split(".", 1)[0] + ".*", "*"):
                for handler in list(self._eager.get(key, ())):
                    try:
                        handler(ev, db)
                    except Exception:
                        log.exception("eager event handler failed", extra={"event_type": ev.type, "event_id": ev.id})

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
