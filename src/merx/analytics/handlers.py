"""Analytics reacts to other contexts' events: orders feed the sales history, stock changes
feed inventory health, lapsed checkout holds join the abandonment records. Every handler is
idempotent (line keys, primary keys, unique cart keys), so a redelivered event changes nothing."""

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


def on_orders_placed(events: list[DomainEvent], db: Database) -> None:
    """A batch of placed orders becomes sales lines in one transaction (one snapshot bump)."""
    with UnitOfWork(db) as uow:
        reps = _sales_reps(uow, {e.payload.get("customer_id") for e in events})
        lines = []
        for event in events:
            p = event.payload
            order_id = p["order_id"]
            when = _when(p.get("placed_at"), event.occurred_at)
            customer_id = p.get("customer_id")
            lines += [SalesLineIn(
                source=SOURCE, line_key=f"{order_id}:{n}", order_ref=str(order_id), kind="sale",
                sku=ln.get("sku"), product_id=ln.get("product_id"), customer_id=customer_id,
                quantity=int(ln["quantity"]), unit_price=Decimal(str(ln["unit_price"])), currency=p["currency"],
                occurred_at=when, channel=p.get("channel"), location=ln.get("location"), category=ln.get("category"),
                sales_rep_user_id=reps.get(customer_id),
            ) for n, ln in enumerate(p.get("lines") or [], start=1)]
        record_sales_lines(uow, lines)


def on_order_placed(event: DomainEvent, db: Database) -> None:
    on_orders_placed([event], db)


def _order_lines(uow: UnitOfWork, order_id: Any) -> list[Any]:
    return uow.session.scalars(sa.select(SalesLine).where(
        SalesLine.source == SOURCE, SalesLine.order_ref == str(order_id), SalesLine.kind == "sale")
        .order_by(SalesLine.id)).all()


def _negated(line: Any, *, key: str, kind: str, quantity: int, when: dt.datetime) -> SalesLineIn:
    return SalesLineIn(
        source=SOURCE, line_key=key, order_ref=line.order_ref, kind=kind, sku=line.sku, product_id=line.product_id,
        customer_id=line.customer_id, quantity=-quantity, unit_price=line.unit_price, currency=line.currency,
        occurred_at=when, channel=line.channel, location=line.location, category=line.category, brand=line.brand,
        sales_rep_user_id=line.sales_rep_user_id, country=line.country, region=line.region,
        product_name=line.product_name)


def on_order_cancelled(event: DomainEvent, db: Database) -> None:
    order_id = event.payload["order_id"]
    with UnitOfWork(db) as uow:
        lines = _order_lines(uow, order_id)
        record_sales_lines(uow, [_negated(ln, key=f"{order_id}:cancel:{i}", kind="cancellation", quantity=ln.quantity,
                                          when=event.occurred_at) for i, ln in enumerate(lines, start=1)])


def on_order_returned(event: DomainEvent, db: Database) -> None:
    returned: OrderReturned = event.data  # type: ignore[assignment]
    order_id, return_id = returned.order_id, returned.return_id
    with UnitOfWork(db) as uow:
        by_sku: dict[str, Any] = {}
        for ln in _order_lines(uow, order_id):
            by_sku.setdefault(ln.sku, ln)
        out = []
        for i, rl in enumerate(returned.lines, start=1):
            original = by_sku.get(rl.sku)
            if original is None:
                continue
            out.append(_negated(original, key=f"{order_id}:return:{return_id}:{i}", kind="return",
                                quantity=rl.quantity, when=event.occurred_at))
        record_sales_lines(uow, out)


def on_stock_changes(events: list[DomainEvent], db: Database) -> None:
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
    with UnitOfWork(db) as uow:
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
        uow.commit()


def on_stock_changed(event: DomainEvent, db: Database) -> None:
    on_stock_changes([event], db)


def on_checkout_hold_lapsed(event: DomainEvent, db: Database) -> None:
    """The orders context's own `cart.abandoned` (a checkout hold expired): record it so the
    recovery attribution covers it too. Our own scan's events carry `detected_by`."""
    p = event.payload
    if p.get("detected_by") == "analytics" or p.get("cart_id") is None:
        return
    key = f"checkout:{p['cart_id']}"
    with UnitOfWork(db) as uow:
        if uow.session.scalar(sa.select(AbandonedCart.id).where(AbandonedCart.cart_key == key)) is not None:
            return
        currency = p.get("currency") if p.get("currency") in CURRENCY_EXPONENTS else None
        value_minor = 0
        if currency and p.get("total") is not None:
            value_minor = int(Decimal(str(p["total"])).scaleb(CURRENCY_EXPONENTS[currency]))
        customer_id = p.get("customer_id")
        uow.session.add(AbandonedCart(
            cart_key=key, kind="cart", person_key=f"c:{customer_id}" if customer_id else key, customer_id=customer_id,
            items=0, value_minor=value_minor, currency=currency, last_activity_at=event.occurred_at, detected_at=utcnow()))
        uow.commit()


def register(bus: MessageBus) -> None:
    bus.subscribe(OrderPlaced, on_orders_placed, batch=True)
    bus.subscribe(OrderCancelled, on_order_cancelled)
    bus.subscribe(OrderReturned, on_order_returned)
    bus.subscribe(StockChanged, on_stock_changes, batch=True)
    bus.subscribe(CartAbandoned, on_checkout_hold_lapsed)
