"""What orders contributes to hooks declared by contexts below it (wired by `merx.contexts.wire_hooks`):
the listener through which a verified payment change moves its order (payments/outcomes.py)."""

from __future__ import annotations

from typing import Any


def _listener(uow: Any, update: Any) -> str | None:
    from merx.orders import payment_sync

    return payment_sync.apply_payment_update(uow, update)


def register() -> None:
    from merx.payments.public import contribute_order_listener

    contribute_order_listener(_listener)
