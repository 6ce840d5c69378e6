"""Pickup at the counter: the queue of orders for this store (to prepare, ready), marking
one ready, and the hand-over with verification (the order's pickup code, or the customer's
name). A mismatch is refused and logged; the goods stay on the shelf."""

from __future__ import annotations

from typing import Any

from merx.core.errors import FieldError, NotFound, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.instore import rules
from merx.instore.access import Store, acting_for_store
from merx.instore.models import PickupCheck
from merx.orders import public as orders


class VerificationFailed(Problem):
    status = 422
    type_slug = "pickup-verification-failed"
    title = "Verification failed"


def pickup_code_of(uow: UnitOfWork, order_number: str) -> str:
    """The code the customer shows (on the assisted order's receipt and order page)."""
    return rules.pickup_code(uow.settings.current_secret.encode(), order_number)


def pickup_queue(uow: UnitOfWork, store: Store) -> dict[str, list[dict[str, Any]]]:
    with acting_for_store(uow):
        rows = orders.pickup_queue(uow, store.code)
    return {"to_prepare": [o for o in rows if o["status"] in ("confirmed", "paid")],
            "ready": [o for o in rows if o["status"] == "ready_for_pickup"]}


def _pickup_order(uow: UnitOfWork, store: Store, order_id: int) -> dict[str, Any]:
    """The order when it is a pickup at this store; any other order is 404 here."""
    with acting_for_store(uow):
        order = orders.get_order(uow, order_id)
    if order["fulfilment"]["type"] != "pickup" or order["fulfilment"]["location"] != store.code:
        raise NotFound(f"Order {order_id} is not a pickup at {store.code}")
    return order


def mark_ready(uow: UnitOfWork, store: Store, order_id: int) -> dict[str, Any]:
    _pickup_order(uow, store, order_id)
    with acting_for_store(uow):
        return orders.ready_for_pickup(uow, order_id)


def _log(uow: UnitOfWork, order: dict[str, Any], store: Store, method: str, ok: bool, detail: str | None) -> None:
    uow.session.add(PickupCheck(order_id=order["id"], order_number=order["number"], store_code=store.code,
                                user_id=uow.actor.user_id, method=method, ok=ok, detail=detail))
    uow.audit("pickup_check", "order", order["id"], after={"store": store.code, "method": method, "ok": ok})
    uow.commit()


def hand_over(uow: UnitOfWork, store: Store, order_id: int, *, code: str | None = None, name: str | None = None,
              payment_collected: bool = False) -> dict[str, Any]:
    """Hand a ready order over at this store after verifying the customer: the pickup code,
    or the customer's last name (or first and last). A mismatch is refused (422) and logged."""
    code, name = (code or "").strip() or None, (name or "").strip() or None
    if not code and not name:
        raise ValidationProblem.for_field("code", "ask for the pickup code or the customer's name", "required")
    order = _pickup_order(uow, store, order_id)
    if order["status"] != "ready_for_pickup":
        raise Problem(f"Order {order['number']} is {order['status'].replace('_', ' ')}, not ready for pickup",
                      status=409, title="Not ready", type_slug="not-ready")
    if code:
        method, ok = "code", rules.code_matches(pickup_code_of(uow, order["number"]), code)
    else:
        customer = None
        if order["customer_id"] is not None:
            with acting_for_store(uow):
                customer = customers.get_customer(uow, order["customer_id"])
        method = "name"
        ok = customer is not None and rules.name_matches(customer.first_name, customer.last_name, name)
    if not ok:
        uow.rollback()
        _log(uow, order, store, method, False, "code did not match" if method == "code" else "name did not match")
        field = "code" if method == "code" else "name"
        raise VerificationFailed(
            f"The {'pickup code' if method == 'code' else 'name'} does not match order {order['number']}: "
            "not handed over (the attempt is logged)", errors=[FieldError(field, "does not match", "mismatch")])
    with acting_for_store(uow):
        try:
            out = orders.picked_up(uow, order_id, location=store.code, payment_collected=payment_collected)
        except Problem:
            uow.rollback()
            raise
    _log(uow, out, store, method, True, "payment collected at the counter" if payment_collected else None)
    return out
