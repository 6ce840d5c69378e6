"""Returns: authorise (online or at a store counter), receive and restock, refund."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import domain, events
from merx.orders.models import OrderLine, ReturnAuthorisation, ReturnLine
from merx.orders.schemas import ReturnCreate
from merx.orders.state import STAFF, _load, _load_any, _m, _order_fields, _require_staff, _retrying, _set_status
from merx.orders.transitions import _settle_money_back


def return_out(uow: UnitOfWork, r: ReturnAuthorisation, currency: str) -> dict[str, Any]:
    lines = uow.session.scalars(sa.select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id))
    loc = inventory.get_location(uow, r.location_id) if r.location_id else None
    return {"id": r.id, "order_id": r.order_id, "status": r.status, "reason": r.reason,
            "started_channel": r.started_channel, "location": loc.code if loc else None,
            "refund": _m(r.refund_minor, currency), "currency": currency,
            "lines": [{"line": ln.line_no, "sku": ln.sku, "quantity": ln.quantity, "reason": ln.reason,
                       "note": ln.note, "restock": ln.restock} for ln in lines],
            "created_at": r.created_at, "received_at": r.received_at, "refunded_at": r.refunded_at}


def _return_location(uow: UnitOfWork, code: str, field: str) -> Any:
    loc = inventory.get_location_by_code(uow, code, field=field)
    if not loc.accepts_returns or not loc.active:
        raise ValidationProblem.for_field(field, f"{loc.code} does not accept returns", "no_returns")
    return loc


def create_return(uow: UnitOfWork, order_id: int, data: ReturnCreate) -> dict[str, Any]:
    """A return authorisation, started online (no location, or the store it will be brought
    to) or at a store counter by staff."""
    actor = uow.actor
    if actor.role not in STAFF and actor.role != Role.customer:
        raise Forbidden("Only staff or the customer may start a return")
    order = _load(uow, order_id, for_update=True)
    if order.status not in domain.RETURNABLE:
        raise domain.InvalidTransition(f"Order {order.number} is {order.status}; only delivered or collected orders "
                                       "can be returned")
    loc = _return_location(uow, data.location, "location") if data.location else None
    lines = {ln.line_no: ln for ln in uow.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id))}
    open_qty: dict[int, int] = {}
    for line_no, qty in uow.session.execute(
            sa.select(ReturnLine.line_no, sa.func.sum(ReturnLine.quantity))
            .join(ReturnAuthorisation, ReturnAuthorisation.id == ReturnLine.return_id)
            .where(ReturnAuthorisation.order_id == order.id, ReturnAuthorisation.status == "authorised")
            .group_by(ReturnLine.line_no)):
        open_qty[line_no] = int(qty)
    errors = []
    asked: dict[int, int] = {}
    for i, rl in enumerate(data.lines):
        ln = lines.get(rl.line)
        if ln is None:
            errors.append(FieldError(f"lines[{i}].line", f"order has no line {rl.line}", "unknown_line"))
            continue
        asked[rl.line] = asked.get(rl.line, 0) + rl.quantity
        left = ln.quantity - ln.returned_quantity - open_qty.get(rl.line, 0)
        if asked[rl.line] > left:
            errors.append(FieldError(f"lines[{i}].quantity", f"only {left} of line {rl.line} can still be returned",
                                     "too_many"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    r = ReturnAuthorisation(order_id=order.id, status="authorised", reason=data.reason,
                            started_channel="store" if (loc is not None and actor.role in STAFF) else "online",
                            location_id=loc.id if loc else None, refund_minor=0, created_by_user_id=actor.user_id,
                            created_at=utcnow())
    uow.session.add(r)
    uow.session.flush()
    uow.session.add_all([ReturnLine(return_id=r.id, line_no=rl.line, sku=lines[rl.line].sku, quantity=rl.quantity,
                                    reason=rl.reason, note=rl.note, restock=rl.restock) for rl in data.lines])
    uow.session.flush()
    out = return_out(uow, r, order.currency)
    uow.audit("create", "return", r.id, after={k: v for k, v in out.items() if k in ("order_id", "status", "location",
                                                                                    "lines", "started_channel")})
    uow.commit()
    return out


def _load_return(uow: UnitOfWork, return_id: int, *, for_update: bool = False) -> ReturnAuthorisation:
    stmt = sa.select(ReturnAuthorisation).where(ReturnAuthorisation.id == return_id).execution_options(
        populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    r = uow.session.scalar(stmt)
    if r is None:
        raise NotFound(f"Return {return_id} does not exist")
    _load(uow, r.order_id)  # visibility of the order
    return r


def get_return(uow: UnitOfWork, return_id: int) -> dict[str, Any]:
    r = _load_return(uow, return_id)
    return return_out(uow, r, _load(uow, r.order_id).currency)


def receive_return(uow: UnitOfWork, return_id: int, *, location: str | None = None,
                   refund: bool = True) -> dict[str, Any]:
    """The goods arrive at a store or warehouse: restock there, mark the lines returned, and
    (by default) refund through the order's original provider."""
    _require_staff(uow)

    def run() -> ReturnAuthorisation:
        r = _load_return(uow, return_id, for_update=True)
        if r.status != "authorised":
            raise domain.InvalidTransition(f"Return {r.id} is {r.status}, not awaiting the goods")
        code = location or (inventory.get_location(uow, r.location_id).code if r.location_id else None)
        if code is None:
            raise ValidationProblem.for_field("location", "name the location receiving the goods", "required")
        loc = _return_location(uow, code, "location")
        order = _load(uow, r.order_id, for_update=True)
        lines = {ln.line_no: ln for ln in uow.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id))}
        refund_minor = 0
        returned_lines = []
        for rl in uow.session.scalars(sa.select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id)):
            ol = lines[rl.line_no]
            if ol.returned_quantity + rl.quantity > ol.quantity:
                raise Conflict(f"line {ol.line_no} would be returned more often than bought", type_slug="over-return")
            # What the units were actually paid (after discounts); cumulative rounding so a
            # line returned in parts refunds exactly its total.
            before = ol.total_minor * ol.returned_quantity // ol.quantity
            ol.returned_quantity += rl.quantity
            refund_minor += ol.total_minor * ol.returned_quantity // ol.quantity - before
            if rl.restock:
                inventory.receive_stock(uow, rl.sku, loc.id, rl.quantity, reason="return", reference=f"return:{r.id}",
                                        note=rl.reason)
            returned_lines.append(events.ReturnedLine(line=rl.line_no, sku=rl.sku, quantity=rl.quantity,
                                                      reason=rl.reason, restocked=rl.restock,
                                                      unit_cost=(Money.from_minor(ol.unit_cost_minor, order.currency)
                                                                 .amount if ol.unit_cost_minor is not None else None)))
        r.status, r.location_id, r.received_at, r.refund_minor = "received", loc.id, utcnow(), refund_minor
        value = Money.from_minor(refund_minor, order.currency)
        changed = {"return_id": r.id, "location": loc.code, "lines": returned_lines, "returned_value": value,
                   "refund": value if refund and refund_minor > 0 else None}
        if all(ln.returned_quantity == ln.quantity for ln in lines.values()) and order.status != "returned":
            _set_status(uow, order, "returned", **changed, partial=False)
        else:
            order.version += 1
            order.updated_at = utcnow()
            event = events.OrderReturned(**_order_fields(order), previous_status=order.status, **changed,
                                         partial=True)
            uow.emit(event, version=order.version)
        uow.audit("receive", "return", r.id, after={"return_id": r.id, "location": loc.code,
                                                    "lines": [ln.model_dump() for ln in returned_lines],
                                                    "refund": _m(refund_minor, order.currency)})
        uow.commit()
        return r

    r = _retrying(uow, run)
    if refund and r.refund_minor > 0:
        return refund_return(uow, return_id)
    return get_return(uow, return_id)


def refund_return(uow: UnitOfWork, return_id: int) -> dict[str, Any]:
    _require_staff(uow)

    def claim() -> ReturnAuthorisation:
        r = _load_return(uow, return_id, for_update=True)
        if r.status != "received":
            raise domain.InvalidTransition(f"Return {r.id} is {r.status}; only received returns are refunded")
        r.status = "refunding"  # claimed: a concurrent request cannot refund it twice
        uow.commit()
        return r

    r = _retrying(uow, claim)
    ok = _settle_money_back(uow, r.order_id, kind="refund", amount_minor=r.refund_minor, return_id=r.id)

    def finish() -> dict[str, Any]:
        r2 = _load_return(uow, return_id, for_update=True)
        r2.status = "refunded" if ok else "received"
        r2.refunded_at = utcnow() if ok else None
        order = _load_any(uow, r2.order_id, for_update=True)
        if ok and order.status == "returned" and order.payment_status in ("refunded", "partially_refunded"):
            pending = uow.session.scalar(sa.select(sa.func.count()).where(
                ReturnAuthorisation.order_id == order.id, ReturnAuthorisation.status.in_(("authorised", "received"))))
            if not pending:
                _set_status(uow, order, "refunded", amount=None, return_id=r2.id, payment_status=order.payment_status,
                            refunded_total=Money.from_minor(order.refunded_minor, order.currency))
        uow.audit("refund" if ok else "refund_failed", "return", r2.id, after={"refund": r2.refund_minor})
        uow.commit()
        if not ok:
            raise Conflict("The payment provider refused the refund; the return stays received and can be retried",
                           type_slug="refund-failed")
        return return_out(uow, r2, order.currency)

    return _retrying(uow, finish)


def returns_of(uow: UnitOfWork, order_id: int) -> list[dict[str, Any]]:
    order = _load(uow, order_id)
    rows = uow.session.scalars(sa.select(ReturnAuthorisation).where(ReturnAuthorisation.order_id == order.id)
                               .order_by(ReturnAuthorisation.id))
    return [return_out(uow, r, order.currency) for r in rows]
