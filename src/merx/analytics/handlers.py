"""Analytics reacts to other contexts' events: orders feed the sales history, stock changes
feed inventory health, lapsed checkout holds join the abandonment records. They are durable
subscribers (core/subscribers.py): fed from the outbox, a batch's writes commit with its
cursor. Every handler is also idempotent (line keys, primary keys, unique cart keys), so an
event handled again (a cursor reset to rebuild) changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.analytics.facts import SalesLineIn, record_sales_lines
from merx.analytics.models import AbandonedCart, SalesLine, StockLevel
from merx.core.db import Database, utcnow
from merx.core.events import DomainEvent, MessageBus
from merx.core.money import CURRENCY_EXPONENTS
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.inventory.events import StockChanged
from merx.orders.events import CartAbandoned, OrderCancelled, OrderPlaced, OrderReturned

log = logging.getLogger("merx.analytics")
SOURCE = "merx"


def _when(value: Any, fallback: dt.datetime) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return fallback


def _sales_reps(uow: UnitOfWork, customer_ids: set[Any]) -> dict[Any, int | None]:
    """Each customer's sales rep, for the rep dimension of the sales lines: one query."""
    ids = {int(c) for c in customer_ids if isinstance(c, int)}
    if not ids:
        return {}
    from merx.customers import service as customers

    return {cid: c.sales_rep_user_id for cid, c in customers.raw_customers(uow, ids).items()}


def on_orders_placed(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """A batch of placed orders becomes sales lines in one transaction (one snapshot bump)."""
    # A customer merged away since the order was placed is counted for the survivor, the
    # same as the merge did to the lines already recorded: live and rebuilt facts agree.
    current = crm.survivors(uow, {int(e.payload["customer_id"]) for e in events
                                  if isinstance(e.payload.get("customer_id"), int)})
    reps = _sales_reps(uow, {current.get(c) or c for c in current})
    lines = []
    for event in events:
        p = event.payload
        order_id = p["order_id"]
        when = _when(p.get("placed_at"), event.occurred_at)
        customer_id = p.get("customer_id")
        customer_id = current.get(customer_id) or customer_id
        common = dict(source=SOURCE, order_ref=str(order_id), kind="sale", customer_id=customer_id,
                      currency=p["currency"], occurred_at=when, channel=p.get("channel"),
                      sales_rep_user_id=reps.get(customer_id))
        line_discounts = Decimal(0)
        for n, ln in enumerate(p.get("lines") or [], start=1):
            quantity, unit_price = int(ln["quantity"]), Decimal(str(ln["unit_price"]))
            where = dict(sku=ln.get("sku"), product_id=ln.get("product_id"), location=ln.get("location"),
                         category=ln.get("category"))
            # gross at list price; what a coupon or promotion took off the line is a discount line
            # the cost landed on the order line at checkout (null: unknown; reports say so)
            cost = ln.get("unit_cost")
            lines.append(SalesLineIn(line_key=f"{order_id}:{n}", quantity=quantity, unit_price=unit_price,
                                     unit_cost=Decimal(str(cost)) if cost is not None else None, **where, **common))
            charged = ln.get("line_total")
            discount = Decimal(str(charged)) - quantity * unit_price if charged is not None else Decimal(0)
            if discount < 0:
                line_discounts += discount
                lines.append(SalesLineIn(line_key=f"{order_id}:{n}:discount", line_class="discount", quantity=0,
                                         unit_price=Decimal(0), line_total=discount, **where, **common))
        totals = p.get("totals") or {}
        # an order-level discount not spread over the lines
        rest = -Decimal(str(totals.get("discount") or 0)) - line_discounts
        if rest < 0:
            lines.append(SalesLineIn(line_key=f"{order_id}:discount", line_class="discount", quantity=0,
                                     unit_price=Decimal(0), line_total=rest, **common))
        shipping = Decimal(str(totals.get("shipping") or 0))
        if shipping:
            lines.append(SalesLineIn(line_key=f"{order_id}:shipping", line_class="shipping", quantity=1,
                                     unit_price=shipping, **common))
    record_sales_lines(uow, lines, commit=False)


def _order_lines(uow: UnitOfWork, order_id: Any) -> list[Any]:
    return uow.session.scalars(sa.select(SalesLine).where(
        SalesLine.source == SOURCE, SalesLine.order_ref == str(order_id), SalesLine.kind == "sale")
        .order_by(SalesLine.id)).all()


def _negated(line: Any, *, key: str, kind: str, quantity: int, when: dt.datetime,
             share: Decimal = Decimal(1)) -> SalesLineIn:
    """The line reversed: `quantity` units of it, or `share` of a line without units (a discount)."""
    stated = None
    exp = CURRENCY_EXPONENTS.get(line.currency, 2)
    if line.quantity == 0:
        stated = -(Decimal(line.line_total_minor) * share).scaleb(-exp)
    unit_cost = None
    if line.line_cost_minor is not None and line.quantity:
        # the returned or cancelled units take back the cost they were sold at
        unit_cost = Decimal(line.line_cost_minor).scaleb(-exp) / Decimal(line.quantity)
    return SalesLineIn(
        source=SOURCE, line_key=key, order_ref=line.order_ref, kind=kind, line_class=line.line_class, sku=line.sku,
        product_id=line.product_id, customer_id=line.customer_id, quantity=-quantity, unit_price=line.unit_price,
        currency=line.currency, occurred_at=when, channel=line.channel, location=line.location,
        category=line.category, brand=line.brand, sales_rep_user_id=line.sales_rep_user_id, country=line.country,
        region=line.region, product_name=line.product_name, line_total=stated, unit_cost=unit_cost)


def on_orders_cancelled(events: list[DomainEvent], uow: UnitOfWork) -> None:
    out = []
    for event in events:
        order_id = event.payload["order_id"]
        out += [_negated(ln, key=f"{order_id}:cancel:{i}", kind="cancellation", quantity=ln.quantity,
                         when=event.occurred_at) for i, ln in enumerate(_order_lines(uow, order_id), start=1)]
    record_sales_lines(uow, out, commit=False)


def on_orders_returned(events: list[DomainEvent], uow: UnitOfWork) -> None:
    out = []
    for event in events:
        returned: OrderReturned = event.data  # type: ignore[assignment]
        order_id, return_id = returned.order_id, returned.return_id
        by_sku: dict[str, Any] = {}
        discount_by_sku: dict[str, Any] = {}
        for ln in _order_lines(uow, order_id):
            if ln.line_class == "product":
                by_sku.setdefault(ln.sku, ln)
            elif ln.line_class == "discount" and ln.sku:
                discount_by_sku.setdefault(ln.sku, ln)
        for i, rl in enumerate(returned.lines, start=1):
            original = by_sku.get(rl.sku)
            if original is None:
                continue
            out.append(_negated(original, key=f"{order_id}:return:{return_id}:{i}", kind="return",
                                quantity=rl.quantity, when=event.occurred_at))
            discount = discount_by_sku.get(rl.sku)
            if discount is not None and original.quantity:
                # the discount given on the returned units goes back too
                out.append(_negated(discount, key=f"{order_id}:return:{return_id}:{i}:discount", kind="return",
                                    quantity=0, when=event.occurred_at,
                                    share=Decimal(rl.quantity) / Decimal(original.quantity)))
    record_sales_lines(uow, out, commit=False)


def on_stock_changes(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Keep the latest figures per SKU and location: upserts that ignore an event older than
    the stored one, so concurrent or late deliveries cannot race each other. A batch keeps
    the newest event per row and writes them in (sku, location) order."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        p = event.payload
        on_hand = int(p.get("on_hand") or 0)
        reserved = int(p.get("reserved") or 0)
        key = (p["sku"], p["location"])
        if key not in latest or latest[key]["updated_at"] <= event.occurred_at:
            latest[key] = {"sku": p["sku"], "location": p["location"], "on_hand": on_hand, "reserved": reserved,
                           "available": int(p.get("available", on_hand - reserved)), "updated_at": event.occurred_at}
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(StockLevel)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sku", "location"],
        set_={k: stmt.excluded[k] for k in ("on_hand", "reserved", "available", "updated_at")},
        where=StockLevel.__table__.c.updated_at <= stmt.excluded.updated_at)
    uow.session.connection().execute(stmt, [latest[k] for k in sorted(latest)])


def on_stock_changed(event: DomainEvent, db: Database) -> None:
    """One event outside a subscriber run (a late delivery in a test)."""
    with UnitOfWork(db) as uow:
        on_stock_changes([event], uow)
        uow.commit()


def on_checkout_holds_lapsed(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """The orders context's own `cart.abandoned` (a checkout hold expired): record it so the
    recovery attribution covers it too. Our own scan's events carry `detected_by`."""
    for event in events:
        p = event.payload
        if p.get("detected_by") == "analytics" or p.get("cart_id") is None:
            continue
        key = f"checkout:{p['cart_id']}"
        if uow.session.scalar(sa.select(AbandonedCart.id).where(AbandonedCart.cart_key == key)) is not None:
            continue
        currency = p.get("currency") if p.get("currency") in CURRENCY_EXPONENTS else None
        value_minor = 0
        if currency and p.get("total") is not None:
            value_minor = int(Decimal(str(p["total"])).scaleb(CURRENCY_EXPONENTS[currency]))
        customer_id = p.get("customer_id")
        uow.session.add(AbandonedCart(
            cart_key=key, kind="cart", person_key=f"c:{customer_id}" if customer_id else key, customer_id=customer_id,
            items=0, value_minor=value_minor, currency=currency, last_activity_at=event.occurred_at, detected_at=utcnow()))
        uow.session.flush()  # a second event for the same cart in this batch sees the first


_SALES_HANDLERS = {"order.placed": on_orders_placed, "order.cancelled": on_orders_cancelled,
                   "order.returned": on_orders_returned}
_SALES_EVENTS = (OrderPlaced, OrderCancelled, OrderReturned)


def on_sales_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Orders' events in commit order, each run of one type handled together: a cancellation
    or a return then finds the sales lines its order's placement wrote earlier in the batch."""
    run: list[DomainEvent] = []
    for event in events:
        if run and run[-1].type != event.type:
            _SALES_HANDLERS[run[0].type](run, uow)
            run = []
        run.append(event)
    if run:
        _SALES_HANDLERS[run[0].type](run, uow)


def register(bus: MessageBus) -> None:
    for event_class in _SALES_EVENTS:
        bus.subscribe(event_class, on_sales_events, batch=True, durable="analytics.sales")
    bus.subscribe(StockChanged, on_stock_changes, batch=True, durable="analytics.stock")
    bus.subscribe(CartAbandoned, on_checkout_holds_lapsed, batch=True, durable="analytics.abandoned_carts")
