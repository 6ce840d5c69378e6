"""Domain events and the in-process message bus.

A service records events on its unit of work; they are written to the outbox in the same
transaction as the change (so no event exists for a change that rolled back, and no change
lacks its event). After the commit, in-process handlers (search indexing, CRM timelines...)
run; the integration hub's relay delivers the outbox to the outside world."""

from __future__ import annotations

import datetime as dt
import logging
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
    """Handlers run after commit, in the committing thread. A failing handler is logged and
    does not undo the committed change: whatever must not be lost goes through the outbox."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        """`event_type` may be "*" for every event, or "product.*" for one aggregate's."""
        self._handlers[event_type].append(handler)

    def unsubscribe(self, event_type: str, handler: Handler) -> None:
        if handler in self._handlers.get(event_type, []):
            self._handlers[event_type].remove(handler)

    def publish(self, events: list[DomainEvent], db: Any = None) -> None:
        for ev in events:
            prefix = ev.type.split(".", 1)[0] + ".*"
            for key in (ev.type, prefix, "*"):
                for handler in list(self._handlers.get(key, ())):
                    try:
                        handler(ev, db)
                    except Exception:
                        log.exception("event handler failed", extra={"event_type": ev.type, "event_id": ev.id})


bus = MessageBus()
