"""The hook through which a payment's change reaches its order.

Payments sits below orders (checkout calls the providers synchronously), so it cannot call
orders. Orders contributes a listener from `merx.orders.hooks` at start-up; the payments
service calls it inside the same transaction that records the verified change (a webhook, a
capture, a refund, a reconciled bank line), so the order's payment state and the payment
ledger commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from merx.core.uow import UnitOfWork


@dataclass(frozen=True)
class PaymentUpdate:
    order_id: int
    order_number: str
    provider: str
    reference: str
    currency: str
    change: str  # authorized | captured | declined | voided | refunded
    status: str  # the intent's status after the change
    amount_minor: int  # what the order asked for
    authorized_minor: int
    captured_minor: int
    refunded_minor: int
    fingerprint: str | None = None


# (uow, update) -> None when the order took the change, else a sentence saying why not
# (e.g. the order was cancelled meanwhile: the money must go back).
OrderListener = Callable[[UnitOfWork, PaymentUpdate], "str | None"]

_listener: OrderListener | None = None


def contribute_order_listener(listener: OrderListener) -> None:
    global _listener
    _listener = listener


def notify_order(uow: UnitOfWork, update: PaymentUpdate) -> str | None:
    if _listener is None:  # orders is always installed; without it there is no order to move
        return "no orders context is installed"
    return _listener(uow, update)
