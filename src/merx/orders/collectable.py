"""What of an order's total can still be charged and paid back.

A marketplace line refused (or expired) before the payment was captured is never charged:
`seller_lines.refund_lines` records it as a `release` payment transaction (no provider call,
nothing moved) instead of a refund. A later capture takes the total minus what was released,
and a cancellation pays back only what was captured and not refunded yet. These sums are the
one place where that arithmetic lives (capture, cancel, the payments listener use them)."""

from __future__ import annotations

import sqlalchemy as sa

from merx.core.uow import UnitOfWork
from merx.orders.models import Order, PaymentTransaction

RELEASE = "release"  # PaymentTransaction.kind of an amount that will never be charged

_released = (sa.select(sa.func.coalesce(sa.func.sum(PaymentTransaction.amount_minor), 0))
             .where(PaymentTransaction.order_id == sa.bindparam("order_id"), PaymentTransaction.kind == RELEASE,
                    PaymentTransaction.status == "succeeded"))


def released_minor(uow: UnitOfWork, order_id: int) -> int:
    """What was released before capture (lines that will not be delivered)."""
    return int(uow.session.scalar(_released, {"order_id": order_id}) or 0)


def chargeable_minor(uow: UnitOfWork, order: Order) -> int:
    """What a capture takes: the total minus the released lines (never below 0)."""
    return max(0, order.total_minor - released_minor(uow, order.id))


def refundable_minor(uow: UnitOfWork, order: Order) -> int:
    """What is left to pay back of a captured order: captured (total - released) - refunded."""
    return max(0, chargeable_minor(uow, order) - order.refunded_minor)


def released_lines(uow: UnitOfWork, order_id: int) -> dict[int, int]:
    """Line number -> what was released of it before capture (the invoice leaves these lines
    out). A release recorded without its line (before orders_0006) is not here."""
    rows = uow.session.execute(sa.select(PaymentTransaction.line_no, sa.func.sum(PaymentTransaction.amount_minor))
                               .where(PaymentTransaction.order_id == order_id, PaymentTransaction.kind == RELEASE,
                                      PaymentTransaction.status == "succeeded", PaymentTransaction.line_no.is_not(None))
                               .group_by(PaymentTransaction.line_no)).all()
    return {int(line_no): int(amount) for line_no, amount in rows}


def record_release(uow: UnitOfWork, order: Order, amount_minor: int, note: str,
                   lines: dict[int, int] | None = None) -> int:
    """In the caller's transaction: `amount_minor` of the order will never be charged (capped at
    what is still chargeable). With `lines` (line number -> amount, adding up to `amount_minor`)
    one release per line, so the invoice knows which lines were not charged. Returns the amount
    released."""
    amount = min(amount_minor, chargeable_minor(uow, order))
    parts = sorted(lines.items()) if lines and sum(lines.values()) == amount_minor else [(None, amount_minor)]
    left = amount
    for line_no, part in parts:
        take = min(part, left)
        if take > 0:
            uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind=RELEASE,
                                               status="succeeded", amount_minor=take, line_no=line_no,
                                               reference=order.payment_reference, message=note[:500]))
        left -= take
    return amount
