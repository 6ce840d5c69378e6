"""The order lifecycle as an explicit state machine (pure; the service enforces it).

    pending -> confirmed -> paid -> fulfilled (shipped, with tracking) -> delivered -> completed
                                 `-> ready_for_pickup -> picked_up -> completed
    pending | confirmed | paid | ready_for_pickup -> cancelled
    fulfilled | delivered | picked_up | completed -> returned -> refunded

`confirmed` means the payment is arranged but not yet captured: authorised by a provider,
or to be collected (cash on delivery, pay in store), so a confirmed order may be shipped or
made ready for pickup before it is `paid`."""

from __future__ import annotations

from merx.core.errors import Conflict

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"paid", "fulfilled", "ready_for_pickup", "cancelled"}),
    "paid": frozenset({"fulfilled", "ready_for_pickup", "cancelled"}),
    "fulfilled": frozenset({"delivered", "returned"}),
    "ready_for_pickup": frozenset({"picked_up", "cancelled"}),
    "delivered": frozenset({"completed", "returned"}),
    "picked_up": frozenset({"completed", "returned"}),
    "completed": frozenset({"returned"}),
    "returned": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}
STATUSES = tuple(TRANSITIONS)
RETURNABLE = frozenset({"fulfilled", "delivered", "picked_up", "completed", "returned"})
# Statuses in which the order still holds reserved stock.
HOLDING_STOCK = frozenset({"pending", "confirmed", "paid", "ready_for_pickup"})

RETURN_REASONS = ("damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "too_small",
                  "too_large", "late_delivery", "other")


class InvalidTransition(Conflict):
    type_slug = "invalid-transition"
    title = "Invalid order transition"


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str, *, order_ref: str = "") -> None:
    if not can_transition(current, target):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none (final state)"
        raise InvalidTransition(f"Order {order_ref} is {current}; it cannot become {target} (allowed: {allowed})",
                                extra={"current_status": current, "requested_status": target})
