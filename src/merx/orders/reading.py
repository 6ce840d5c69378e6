"""Reading orders: the API shape of an order, one order, the caller's list, a customer's orders."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Forbidden, ValidationProblem
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import domain
from merx.orders.models import Order, OrderAllocation, OrderLine, OrderPromotion
from merx.orders.state import CUSTOMER_BOUND, READ_ALL, _load, _load_any, _m

COST_READERS = frozenset({Role.admin, Role.staff, Role.sales_rep})


def order_out(uow: UnitOfWork, order: Any, *, lines: list[Any] | None = None,
              allocations: list[Any] | None = None, promotions: list[Any] | None = None,
              codes: dict[int, str] | None = None, tax_lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API shape of an order. `order` and the lists may be ORM rows or anything with the
    same attributes (checkout passes what it has just written); `codes` maps location ids
    it already knows to their codes."""
    s = uow.session
    if lines is None:
        lines = list(s.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)))
    if allocations is None:
        allocations = list(s.scalars(sa.select(OrderAllocation).where(OrderAllocation.order_id == order.id)
                                     .order_by(OrderAllocation.line_no, OrderAllocation.location_id)))
    if promotions is None:
        promotions = list(s.scalars(sa.select(OrderPromotion).where(OrderPromotion.order_id == order.id)
                                    .order_by(OrderPromotion.id)))
    loc_ids = {a.location_id for a in allocations} | ({order.pickup_location_id} if order.pickup_location_id else set())
    codes = dict(codes or {})
    if not loc_ids <= codes.keys():
        codes.update({loc.id: loc.code for loc in inventory.locations_by_ids(uow, loc_ids - codes.keys()).values()})
    if tax_lines is None:
        from merx.fiscal import public as fiscal

        tax_lines = [t.model_dump() for t in fiscal.order_tax_lines(uow, order.id)]
    cur = order.currency
    # landed costs show the shop's margin: the back office and the order's rep (commission by
    # margin) see them; a customer, seller, agent or associate reads null
    costs_visible = uow.actor.role in COST_READERS
    tax_minor = sum(pricing_minor(t["tax"], cur) for t in tax_lines)
    return {
        "id": order.id, "number": order.number, "status": order.status, "channel": order.channel,
        "customer_id": order.customer_id, "email": order.email, "currency": cur,
        "lines": [{"line": ln.line_no, "sku": ln.sku, "product_id": ln.product_id, "name": ln.name,
                   "category": ln.category, "quantity": ln.quantity, "unit_price": _m(ln.unit_price_minor, cur),
                   "subtotal": _m(ln.subtotal_minor, cur), "discount": _m(ln.discount_minor, cur),
                   "total": _m(ln.total_minor, cur), "returned_quantity": ln.returned_quantity,
                   "unit_cost": (_m(ln.unit_cost_minor, cur)
                                 if costs_visible and ln.unit_cost_minor is not None else None)}
                  for ln in lines],
        "allocations": [{"line": a.line_no, "sku": a.sku, "location": codes.get(a.location_id),
                         "quantity": a.quantity} for a in allocations],
        "promotions": [{"promotion_id": p.promotion_id, "name": p.name, "kind": p.kind, "coupon_code": p.coupon_code,
                        "amount": _m(p.amount_minor, cur)} for p in promotions],
        "totals": {"currency": cur, "subtotal": _m(order.subtotal_minor, cur), "discount": _m(order.discount_minor, cur),
                   "shipping": _m(order.shipping_minor, cur),
                   "shipping_discount": _m(order.shipping_discount_minor, cur),
                   "total": _m(order.total_minor, cur), "refunded": _m(order.refunded_minor, cur),
                   "tax": _m(tax_minor, cur)},
        "tax_lines": tax_lines,
        "fulfilment": {"type": order.fulfilment_type, "location": codes.get(order.pickup_location_id),
                       "address": order.shipping_address, "tracking": order.tracking},
        "payment": {"provider": order.payment_provider, "status": order.payment_status,
                    "reference": order.payment_reference,
                    "action_url": _action_url(uow, order) if order.payment_status == "action_required" else None},
        "coupon": order.coupon_code, "cancel_reason": order.cancel_reason,
        "hold_expires_at": order.hold_expires_at, "version": order.version,
        "created_at": order.created_at, "updated_at": order.updated_at,
    }


def get_order(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    return order_out(uow, _load(uow, order_id))


def order_for_replay(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """The order a checkout created, for a retry with the checkout's own Idempotency-Key
    (whose scope already proved it is the same caller): no visibility check."""
    return order_out(uow, _load_any(uow, order_id))


def list_orders(uow: UnitOfWork, *, status: str | None = None, customer_id: int | None = None,
                q: str | None = None, newest_first: bool = False,
                limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Orders the caller may see. `q` matches the order number or the email (a part of
    either, case-insensitive)."""
    actor = uow.actor
    stmt = sa.select(Order)
    if actor.role in CUSTOMER_BOUND:
        stmt = stmt.where(Order.customer_id == actor.customer_id)
    elif actor.role == Role.sales_rep:
        stmt = stmt.where(Order.sales_rep_user_id == actor.user_id)
    elif actor.role not in READ_ALL:
        raise Forbidden("This role may not list orders")
    if status:
        if status not in domain.STATUSES:
            raise ValidationProblem.for_field("status", f"must be one of {', '.join(domain.STATUSES)}")
        stmt = stmt.where(Order.status == status)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if q and q.strip():
        like = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(sa.func.lower(Order.number).like(like, escape="\\"),
                                 sa.func.lower(Order.email).like(like, escape="\\")))
    items, nxt = paginate(uow.session, stmt, Order.id, limit=limit, cursor=cursor, descending=newest_first)
    taxes = _tax_lines_of(uow, [o.id for o in items])
    return [order_out(uow, o, tax_lines=taxes.get(o.id, [])) for o in items], nxt


def orders_for_customer(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    """Every order of a customer, oldest first (for the CRM 360 and the data export)."""
    orders = list(uow.session.scalars(sa.select(Order).where(Order.customer_id == customer_id).order_by(Order.id)))
    taxes = _tax_lines_of(uow, [o.id for o in orders])
    return [order_out(uow, o, tax_lines=taxes.get(o.id, [])) for o in orders]


def _tax_lines_of(uow: UnitOfWork, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Several orders' tax lines in one query (a page of orders is not one query per order)."""
    from merx.fiscal import public as fiscal

    return {oid: [t.model_dump() for t in lines] for oid, lines in fiscal.tax_lines_of_orders(uow, order_ids).items()}


def _action_url(uow: UnitOfWork, order: Any) -> str | None:
    """Where the shopper completes the payment (a 3-D Secure challenge), from the payments ledger."""
    from merx.payments import public as payments

    return payments.action_url(uow, order.id)


def pricing_minor(amount: str, currency: str) -> int:
    from merx.core.money import Money

    return Money.of(amount, currency).minor
