"""How a verified provider notification changes a payment (pure; unit-tested).

Notifications may arrive twice (replays: deduplicated by event id before this) and out of
order (a capture before its authorisation, a decline after a success). The rules keep the
payment's figures monotonic: captured and refunded notifications carry the payment's
cumulative totals, so applying one late or twice never counts money twice, and a status
only moves forward (a late `authorized` after `captured`, or a `declined` after an
authorisation, is stale and changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass, replace

OPEN = frozenset({"pending", "action_required", "awaiting"})
RANK = {"pending": 0, "action_required": 0, "awaiting": 0, "authorized": 1, "captured": 2,
        "partially_refunded": 3, "refunded": 4, "declined": 9, "voided": 9}


@dataclass(frozen=True)
class Figures:
    status: str
    amount: int
    authorized: int
    captured: int
    refunded: int


def status_for(f: Figures) -> str:
    if f.status in ("declined", "voided"):
        return f.status
    if f.refunded and f.refunded >= f.captured:
        return "refunded"
    if f.refunded:
        return "partially_refunded"
    if f.captured:
        return "captured"
    if f.authorized:
        return "authorized"
    return f.status


def apply(f: Figures, kind: str, amount: int | None) -> tuple[Figures, str | None]:
    """(new figures, None) when the notification changes something, else (f, why it is stale)."""
    if kind == "authorized":
        if f.status not in OPEN:
            return f, f"already {f.status}"
        return replace(f, status="authorized", authorized=amount if amount is not None else f.amount), None
    if kind == "declined":
        if f.status not in OPEN:
            return f, f"already {f.status}: a decline cannot undo it"
        return replace(f, status="declined"), None
    if kind == "voided":
        if f.status in ("declined", "voided") or f.captured:
            return f, f"already {f.status}"
        return replace(f, status="voided"), None
    total = amount if amount is not None else f.amount
    if f.status in ("declined", "voided"):
        return f, f"already {f.status}"
    if kind == "captured":
        if total <= f.captured:
            return f, "capture already counted"
        g = replace(f, captured=total, authorized=max(f.authorized, total))
        return replace(g, status=status_for(replace(g, status="captured"))), None
    if kind == "refunded":
        if total <= f.refunded:
            return f, "refund already counted"
        g = replace(f, refunded=total, captured=max(f.captured, total), authorized=max(f.authorized, total))
        return replace(g, status=status_for(g)), None
    raise ValueError(f"unknown notification type {kind}")
