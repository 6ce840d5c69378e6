"""The customer lifecycle operations every context that keeps customer ids takes part in:
merge (move the duplicate's records to the survivor), unmerge (move them back), erase
(anonymise on request) and export (right of access).

The CRM runs these operations (it owns profiles and merges); each context that holds
customer ids contributes a participant in its `lifecycle.py` (`PARTICIPANT`), so every
context moves or anonymises its own records and nobody reaches into another's tables.
Participants work inside the caller's unit of work and never commit."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from merx.core.uow import UnitOfWork

# Refs are JSON-ready (stored in the merge record, so un-merge can undo exactly what moved).
MovedRefs = dict[str, Any]


class CustomerLifecycleParticipant(Protocol):
    """What a context contributes. `name` keys its part of a merge record and of an export."""

    name: str

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        """Move the duplicate's records to the survivor; return what moved (ids)."""

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        """Give back exactly the records `on_merge` reported as moved."""

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        """Anonymise the customer's records (amounts kept for the books); return counts."""

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        """The customer's records, JSON-ready, as sections of the export document."""


_participants: list[CustomerLifecycleParticipant] | None = None
_lock = threading.Lock()


def participants() -> list[CustomerLifecycleParticipant]:
    """Every context's participant, in the order of `merx.contexts.CONTEXTS`. Loaded on first
    use from the declared contexts (a listed context's `lifecycle.py` that fails to import is
    an error, not a skipped participant)."""
    global _participants
    with _lock:
        if _participants is None:
            from merx.contexts import lifecycle_modules  # the composition root lists the contexts

            _participants = [mod.PARTICIPANT for mod in lifecycle_modules()]
        return list(_participants)


def merge(uow: UnitOfWork, from_id: int, into_id: int) -> dict[str, MovedRefs]:
    return {p.name: p.on_merge(uow, from_id, into_id) for p in participants()}


def unmerge(uow: UnitOfWork, moved: dict[str, MovedRefs], restored_id: int, survivor_id: int) -> None:
    for p in participants():
        if p.name in moved:
            p.on_unmerge(uow, moved[p.name], restored_id, survivor_id)


def erase(uow: UnitOfWork, customer_id: int) -> dict[str, dict[str, int]]:
    return {p.name: p.on_erase(uow, customer_id) for p in participants()}


def export(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in participants():
        out.update(p.on_export(uow, customer_id))
    return out
