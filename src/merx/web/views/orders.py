"""Console orders: list with status filter and lookup by number or email, detail with the
state transitions the order allows (payment, fulfilment, pickup, delivery, completion,
cancellation) and returns (authorise, receive with restock, refund)."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.crm import public as crm
from merx.customers import public as customers
from merx.inventory import public as inventory
from merx.orders import public as orders
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none, validation_sentence

router = APIRouter(route_class=PageRoute)
ORDER_READERS = (Role.admin, Role.staff, Role.support_agent)
ORDER_WRITERS = (Role.admin, Role.staff)
PAGE_SIZE = 25
RETURN_REASONS = ["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "too_small",
                  "too_large", "late_delivery", "other"]


@router.get("/console/orders")
def order_list(request: Request, status: str | None = None, q: str | None = None,
               cursor: str | None = None) -> Response:
    me = console_user(request, *ORDER_READERS)
    status, q = text_or_none(status), text_or_none(q)
    ctx: dict[str, Any] = {"filters": {"status": status or "", "q": q or ""}, "statuses": list(orders.STATUSES)}
    with unit_of_work(request, me, readonly=True) as uow:
        # newest first, as a back office reads them; the search runs in the database
        ctx["rows"], ctx["next_cursor"] = orders.list_orders(uow, status=status, q=q, newest_first=True,
                                                             limit=PAGE_SIZE, cursor=cursor)
    return render(request, "console/orders.html", ctx, principal=me)


def _actions(order: dict[str, Any]) -> list[str]:
    allowed = orders.TRANSITIONS.get(order["status"], frozenset())
    pickup = order["fulfilment"]["type"] == "pickup"
    out = []
    payment = order.get("payment") or {}
    if payment.get("status") in ("awaiting", "authorized") and order["status"] not in ("cancelled", "pending"):
        out.append("capture")
    if "ready_for_pickup" in allowed and pickup:
        out.append("ready_for_pickup")
    if "picked_up" in allowed:
        out.append("picked_up")
    if "fulfilled" in allowed and not pickup:
        out.append("fulfil")
    if "delivered" in allowed:
        out.append("deliver")
    if "completed" in allowed:
        out.append("complete")
    if "cancelled" in allowed:
        out.append("cancel")
    if order["status"] in orders.RETURNABLE:
        out.append("return")
    return out


@router.get("/console/orders/{order_id}")
def order_detail(request: Request, order_id: int) -> Response:
    me = console_user(request, *ORDER_READERS)
    with unit_of_work(request, me, readonly=True) as uow:
        order = orders.get_order(uow, order_id)
        returns = orders.returns_of(uow, order_id)
        stores, _ = inventory.list_locations(uow, limit=100)
        timeline = orders.timeline(uow, order_id)
        points = crm.points_of_order(uow, order_id)  # spent at checkout, given back, earned
        customer = None
        if order["customer_id"]:
            try:
                customer = customers.get_customer(uow, order["customer_id"])
            except NotFound:  # erased since: the order keeps its own email
                customer = None
    actions = _actions(order) if me.role in ORDER_WRITERS else []
    return render(request, "console/order.html", {"order": order, "returns": returns, "actions": actions,
                                                   "locations": stores, "reasons": RETURN_REASONS,
                                                   "timeline": timeline, "customer": customer, "points": points,
                                                   "can_write": me.role in ORDER_WRITERS}, principal=me)


@router.post("/console/orders/{order_id}/notes")
def add_note(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "Note added.",
                lambda uow, form: orders.add_note(uow, order_id, str(form.get("text", ""))))


def _act(request: Request, order_id: int, form: dict[str, Any], what: str,
         run: Callable[[Any, dict[str, Any]], Any]) -> Response:
    me = console_user(request, *ORDER_WRITERS)
    back = f"/console/orders/{order_id}"
    try:
        with unit_of_work(request, me) as uow:
            run(uow, form)
    except ValidationError as e:
        return redirect(back, flash=f"Not done: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not done: {problem_sentence(e)}")
    return redirect(back, flash=what)


@router.post("/console/orders/{order_id}/capture")
def capture(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "Payment recorded.",
                      lambda uow, form: orders.capture_payment(uow, order_id))


@router.post("/console/orders/{order_id}/ready-for-pickup")
def ready_for_pickup(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "The order is ready for pickup; the customer is told.",
                      lambda uow, form: orders.ready_for_pickup(uow, order_id))


@router.post("/console/orders/{order_id}/picked-up")
def picked_up(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> Any:
        return orders.picked_up(uow, order_id, location=str(form.get("location", "")),
                                payment_collected=form.get("payment_collected") == "on")

    return _act(request, order_id, form, "Handed over to the customer.", run)


@router.post("/console/orders/{order_id}/fulfil")
def fulfil(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> Any:
        carrier, number = text_or_none(form.get("carrier")), text_or_none(form.get("tracking_number"))
        if not carrier or not number:
            raise Problem("Give the carrier and the tracking number.", status=422, title="Invalid input")
        return orders.fulfil(uow, order_id, carrier=carrier, tracking_number=number,
                             tracking_url=text_or_none(form.get("tracking_url")))

    return _act(request, order_id, form, "Shipped.", run)


@router.post("/console/orders/{order_id}/deliver")
def deliver(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "Marked delivered.",
                      lambda uow, form: orders.simple_transition(uow, order_id, "delivered"))


@router.post("/console/orders/{order_id}/complete")
def complete(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "Order completed.",
                      lambda uow, form: orders.simple_transition(uow, order_id, "completed"))


@router.post("/console/orders/{order_id}/cancel")
def cancel(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _act(request, order_id, form, "Order cancelled; its stock is released.",
                      lambda uow, form: orders.cancel(uow, order_id, reason=text_or_none(form.get("reason"))))


@router.post("/console/orders/{order_id}/returns")
def create_return(request: Request, order_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> Any:
        multi = form["__multi__"]
        lines = []
        for line_no in multi.getlist("line"):
            qty = int_or_none(form.get(f"qty_{line_no}"))
            if qty:
                # Each line says why it comes back and whether it goes back on the shelf:
                # a damaged or defective item is not restocked unless staff ticks it.
                reason = form.get(f"reason_{line_no}") or form.get("line_reason") or "other"
                lines.append({"line": int(line_no), "quantity": qty, "reason": reason,
                              "restock": form.get(f"restock_{line_no}", form.get("restock")) == "on"})
        if not lines:
            raise Problem("Choose at least one item and a quantity to return.", status=422, title="Invalid input")
        data = orders.ReturnCreate(location=text_or_none(form.get("location")),
                                   reason=text_or_none(form.get("reason")), lines=lines)
        return orders.create_return(uow, order_id, data)

    return _act(request, order_id, form, "Return authorised.", run)


@router.post("/console/orders/{order_id}/returns/{return_id}/receive")
def receive_return(request: Request, order_id: int, return_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    refund = form.get("refund", "yes") != "no"
    return _act(request, order_id, form,
                "Return received and refunded." if refund else "Return received; no refund made.",
                lambda uow, form: orders.receive_return(
                    uow, return_id, location=text_or_none(form.get("location")), refund=refund))
