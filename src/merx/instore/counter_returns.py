"""Returns of online orders taken at a store counter: within the return window and the
quantities still returnable, with reason, condition, restock or not, and the refund method.
The goods are received (and restocked) in this store; the refund goes back through the
order's payment (cash at the counter for an order paid with the manual provider)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from merx.core.db import utcnow
from merx.core.errors import FieldError, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.instore import rules
from merx.instore.access import Store, acting_for_store
from merx.instore.models import CounterReturn
from merx.instore.settings import get_instore_settings
from merx.orders import public as orders
from merx.pricing import public as pricing


@dataclass(frozen=True)
class ReturnLineIn:
    line: int
    quantity: int
    reason: str
    restock: bool


def find_order(uow: UnitOfWork, number: str) -> dict[str, Any]:
    """An order by its number (any channel, any store: returns are taken in every store)."""
    if not (number or "").strip():
        raise ValidationProblem.for_field("order_number", "type or scan the order number", "required")
    with acting_for_store(uow):
        return orders.order_by_number(uow, number)


def take_return(uow: UnitOfWork, store: Store, *, order_number: str, lines: list[ReturnLineIn], condition: str,
                refund_method: str, note: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Take the goods back in this store: authorise and receive the return in one go (restocked
    here per line), refund by the chosen method, and record it for the store's reports."""
    if condition not in rules.CONDITIONS:
        raise ValidationProblem.for_field("condition", f"must be one of {', '.join(rules.CONDITIONS)}", "bad_condition")
    if refund_method not in rules.REFUND_METHODS:
        raise ValidationProblem.for_field("refund_method", f"must be one of {', '.join(rules.REFUND_METHODS)}",
                                          "bad_refund_method")
    if not store.accepts_returns:
        raise ValidationProblem.for_field("store", f"{store.code} does not take returns", "no_returns")
    lines = [ln for ln in lines if ln.quantity > 0]
    if not lines:
        raise ValidationProblem.for_field("lines", "choose at least one item and its quantity", "required")
    order = find_order(uow, order_number)
    days = get_instore_settings().instore_return_window_days
    if not rules.within_return_window(order["created_at"], now or utcnow(), days):
        raise ValidationProblem.for_field("order_number", f"order {order['number']} was placed on "
                                          f"{order['created_at']:%Y-%m-%d}, beyond the {days}-day return window",
                                          "beyond_window")
    if refund_method == "cash" and order["payment"]["provider"] != "manual":
        raise ValidationProblem.for_field("refund_method", "cash goes back only for orders paid in cash; this one "
                                          "is refunded to its original payment", "not_cash")
    if condition == "damaged" and any(ln.restock for ln in lines):
        raise ValidationProblem(
            "a damaged item does not go back on the shelf: untick restock",
            errors=[FieldError(f"lines[{i}].restock", "damaged goods are not restocked", "damaged_restock")
                    for i, ln in enumerate(lines) if ln.restock])
    data = orders.ReturnCreate(location=store.code, reason=note, lines=[
        {"line": ln.line, "quantity": ln.quantity, "reason": ln.reason, "restock": ln.restock,
         "note": f"condition: {condition}"} for ln in lines])
    with acting_for_store(uow):
        try:
            created = orders.create_return(uow, order["id"], data)
        except Problem:
            uow.rollback()
            raise
        received = orders.receive_return(uow, created["id"], location=store.code, refund=refund_method != "none")
    refund = received.get("refund") or "0"
    uow.session.add(CounterReturn(
        return_id=received["id"], order_id=order["id"], order_number=order["number"], store_code=store.code,
        associate_user_id=uow.actor.user_id, condition=condition, refund_method=refund_method,
        units=sum(ln.quantity for ln in lines), restocked_units=sum(ln.quantity for ln in lines if ln.restock),
        refund_minor=pricing.to_minor(Decimal(str(refund)), order["currency"]),
        currency=order["currency"]))
    uow.audit("counter_return", "return", received["id"], after={"store": store.code, "condition": condition,
                                                                 "refund_method": refund_method})
    uow.commit()
    return received
