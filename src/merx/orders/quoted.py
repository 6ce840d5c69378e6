"""Orders at prices agreed beforehand (a B2B quote the buyer accepted), and the payment facts
of a set of customers (for the sales context's contract risk).

`place_order_at_prices` is checkout (stock reserved, events, audit) with the agreed unit prices
instead of the price lists and no automatic promotion, placed in the b2b channel on behalf of the
person who agreed them (the quote's owner: the order counts as theirs). Payment is `manual`:
the buyer pays on their terms and staff record it (`capture_payment`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.auth import Principal, Role
from merx.core.db import UTCDateTime
from merx.core.errors import Forbidden
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.orders.checkout import place_order
from merx.orders.models import Order, PaymentTransaction
from merx.orders.schemas import CustomerIn, FulfilmentIn, LineIn, OrderCreate


@dataclass(frozen=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: Decimal


def place_order_at_prices(uow: UnitOfWork, *, customer_id: int, currency: str, lines: list[PricedLine],
                          placed_by: Principal, customer_group: str | None = None,
                          fulfilment: FulfilmentIn | None = None) -> dict[str, Any]:
    """Place a b2b order for `customer_id` at exactly these unit prices; `placed_by` (a sales rep
    or staff member) is the order's author. Same answers as checkout (409 insufficient stock
    naming each line, 422 unknown SKU); it commits."""
    if placed_by.role not in (Role.sales_rep, Role.staff, Role.admin):
        raise Forbidden("Only a sales rep or staff places an order at agreed prices")
    data = OrderCreate(channel="b2b", currency=currency,
                       customer=CustomerIn(id=customer_id, group=customer_group),
                       lines=[LineIn(sku=ln.sku, quantity=ln.quantity) for ln in lines],
                       fulfilment=fulfilment or FulfilmentIn(type="ship"))
    prices = {ln.sku: ln.unit_price for ln in lines}
    caller = uow.actor
    uow.actor = placed_by
    try:
        return place_order(uow, data, price_overrides=prices, promotions=False)
    finally:
        uow.actor = caller


@dataclass(frozen=True)
class PaymentFact:
    order_id: int
    customer_id: int
    placed_at: dt.datetime
    total: Money
    paid_at: dt.datetime | None  # when the money was collected (first successful capture)
    status: str


_p = PaymentTransaction.__table__
_FIRST_CAPTURE = (sa.select(sa.func.min(_p.c.created_at)).where(_p.c.order_id == Order.__table__.c.id,
                                                                 _p.c.kind == "capture", _p.c.status == "succeeded")
                  .correlate(Order.__table__).scalar_subquery())
_PAID_AT = sa.type_coerce(_FIRST_CAPTURE, UTCDateTime()).label("paid_at")  # aware datetimes on SQLite too


def payment_facts(uow: UnitOfWork, customer_ids: Iterable[int]) -> list[PaymentFact]:
    """Every order of these customers that was not cancelled, with when it was paid."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    o = Order.__table__
    rows = uow.session.execute(sa.select(o.c.id, o.c.customer_id, o.c.created_at, o.c.total_minor, o.c.currency,
                                         o.c.status, _PAID_AT)
                               .where(o.c.customer_id.in_(ids), o.c.status != "cancelled").order_by(o.c.id)).all()
    return [PaymentFact(r.id, r.customer_id, r.created_at, Money.from_minor(r.total_minor, r.currency), r.paid_at,
                        r.status) for r in rows]


def revenue_by_customer(uow: UnitOfWork, *, since: dt.datetime, currency: str) -> dict[int, Money]:
    """Order totals (not cancelled) per customer since `since`, in one currency: the base of a
    customer's share of revenue."""
    o = Order.__table__
    rows = uow.session.execute(sa.select(o.c.customer_id, sa.func.sum(o.c.total_minor))
                               .where(o.c.created_at >= since, o.c.currency == currency, o.c.status != "cancelled",
                                      o.c.customer_id.is_not(None))
                               .group_by(o.c.customer_id)).all()
    return {cid: Money.from_minor(int(total), currency) for cid, total in rows}
