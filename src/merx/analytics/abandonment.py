"""Cart and browse abandonment, and the revenue recovered after a reminder.

- A cart is the add-to-cart activity of one person and cart id (or of one person, when the
  events carry no cart id). It is abandoned when its last cart activity (add/remove to cart,
  checkout started) is at least `hours` old and the person made no purchase since, and net
  items (adds minus removes) are positive.
- Browse abandonment: a known customer viewed products and neither added to cart nor bought
  in the `hours` after their last view (anonymous browsers cannot be reminded, so they are
  left out).
- Each abandonment is recorded once (analytics_abandoned_carts) and emitted once as
  `cart.abandoned` / `browse.abandoned`, for marketing to send its reminder. The orders
  context's own `cart.abandoned` (a lapsed checkout hold) is recorded too (handlers.py).
- Attribution: the first order a customer placed (from the sales history) within
  `attribution_days` after the abandonment was detected (when the reminder goes out) is
  credited to it; for anonymous carts, the first purchase event with a value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import sqlalchemy as sa

from merx.analytics.events import BrowseAbandoned
from merx.analytics.models import AbandonedCart
from merx.analytics.scope import aware, naive_utc
from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.money import CURRENCY_EXPONENTS, minor_to_str
from merx.core.uow import UnitOfWork
from merx.orders.events import CartAbandoned

# The orders context declares `cart.abandoned` (a lapsed checkout hold); the scan emits the same
# type with detected_by="analytics" and its own fields (cart_key, anonymous_id, items,
# last_activity_at), so marketing handles both alike.

CART_TYPES = ("add_to_cart", "remove_from_cart", "checkout_started")
PURCHASE_TYPES = ("purchase", "order_placed")


def find_abandoned(con: duckdb.DuckDBPyConnection, *, hours: float, now: dt.datetime) -> list[dict[str, Any]]:
    cutoff = naive_utc(now) - dt.timedelta(hours=hours)
    carts = con.execute(f"""
        WITH ev AS (
            SELECT COALESCE('c:' || CAST(customer_id AS VARCHAR), 'a:' || anonymous_id) AS person,
                   customer_id, anonymous_id, type, occurred_at, cart_id, value, currency
            FROM events WHERE customer_id IS NOT NULL OR anonymous_id IS NOT NULL
        ),
        carts AS (
            SELECT person, COALESCE(cart_id, '') AS cart, max(customer_id) AS customer_id,
                   max(anonymous_id) AS anonymous_id, max(occurred_at) AS last_at,
                   count(*) FILTER (WHERE type = 'add_to_cart') - count(*) FILTER (WHERE type = 'remove_from_cart') AS items,
                   sum(value) FILTER (WHERE type = 'add_to_cart') AS value, max(currency) AS currency
            FROM ev WHERE type IN {CART_TYPES} GROUP BY person, COALESCE(cart_id, '')
        ),
        bought AS (SELECT person, max(occurred_at) AS last_purchase FROM ev WHERE type IN {PURCHASE_TYPES} GROUP BY person)
        SELECT 'cart' AS kind, c.person || '|' || c.cart AS cart_key, c.person, c.customer_id, c.anonymous_id,
               c.items, c.value, c.currency, c.last_at
        FROM carts c LEFT JOIN bought b USING (person)
        WHERE c.items > 0 AND c.last_at <= ? AND (b.last_purchase IS NULL OR b.last_purchase < c.last_at)
        UNION ALL
        SELECT 'browse', 'browse|' || v.person || '|' || strftime(v.last_view, '%Y%m%dT%H%M%S'), v.person, v.customer_id,
               NULL, v.views, NULL, NULL, v.last_view
        FROM (SELECT person, max(customer_id) AS customer_id, max(occurred_at) AS last_view, count(*) AS views
              FROM ev WHERE type = 'product_view' AND customer_id IS NOT NULL GROUP BY person) v
        WHERE v.last_view <= ?
          AND NOT EXISTS (SELECT 1 FROM ev e WHERE e.person = v.person AND e.occurred_at >= v.last_view
                          AND e.type IN ('add_to_cart', 'checkout_started', 'purchase', 'order_placed'))
    """, [cutoff, cutoff]).fetchall()
    out = []
    for kind, key, person, customer_id, anonymous_id, items, value, currency, last_at in carts:
        out.append({"kind": kind, "cart_key": key[:120], "person": person, "customer_id": customer_id,
                    "anonymous_id": anonymous_id, "items": int(items or 0), "value": value,
                    "currency": currency if currency in CURRENCY_EXPONENTS else None,
                    "last_activity_at": aware(last_at)})
    return out


def detect(uow: UnitOfWork, con: duckdb.DuckDBPyConnection, *, hours: float = 24, now: dt.datetime | None = None,
           include_browse: bool = True) -> dict[str, int]:
    """Record and emit every abandonment not seen before. Idempotent: a second scan emits nothing new."""
    if not 0 < hours <= 24 * 90:
        raise ValidationProblem.for_field("hours", "must be between 0 and 2160")
    now = now or utcnow()
    found = [f for f in find_abandoned(con, hours=hours, now=now) if include_browse or f["kind"] == "cart"]
    known = set()
    keys = [f["cart_key"] for f in found]
    for start in range(0, len(keys), 1000):
        known.update(uow.session.scalars(sa.select(AbandonedCart.cart_key).where(
            AbandonedCart.cart_key.in_(keys[start:start + 1000]))))
    new = {"cart": 0, "browse": 0}
    for f in found:
        if f["cart_key"] in known:
            continue
        exp = CURRENCY_EXPONENTS.get(f["currency"] or "", 2)
        value_minor = int(round((f["value"] or 0) * 10 ** exp))
        uow.session.add(AbandonedCart(
            cart_key=f["cart_key"], kind=f["kind"], person_key=f["person"], customer_id=f["customer_id"],
            anonymous_id=f["anonymous_id"], items=f["items"], value_minor=value_minor, currency=f["currency"],
            last_activity_at=f["last_activity_at"], detected_at=now))
        last_at = aware(f["last_activity_at"])
        if f["kind"] == "cart":
            uow.emit(CartAbandoned(
                cart_id=f["cart_key"], cart_key=f["cart_key"], customer_id=f["customer_id"], email=None,
                anonymous_id=f["anonymous_id"], items=f["items"], last_activity_at=last_at, detected_by="analytics",
                currency=f["currency"], total=minor_to_str(value_minor, f["currency"]) if f["currency"] else None))
        else:
            uow.emit(BrowseAbandoned(cart_key=f["cart_key"], customer_id=f["customer_id"], items=f["items"],
                                     last_activity_at=last_at))
        new[f["kind"]] += 1
    if new["cart"] or new["browse"]:
        uow.audit("analytics.abandonment.detected", "analytics_abandoned_carts", "scan", after=new)
    uow.commit()
    return new


def attribute(uow: UnitOfWork, con: duckdb.DuckDBPyConnection, *, attribution_days: int = 7) -> int:
    """Credit abandoned carts with the first order placed after their reminder. Returns how many
    were newly credited."""
    pending = uow.session.scalars(sa.select(AbandonedCart).where(AbandonedCart.recovered_at.is_(None))).all()
    if not pending:
        return 0
    credited = 0
    for cart in pending:
        start = naive_utc(aware(cart.detected_at))
        end = start + dt.timedelta(days=attribution_days)
        row = None
        if cart.customer_id is not None:
            row = con.execute("""
                SELECT order_ref, min(occurred_at) AS placed_at, sum(line_total_minor) FROM sales
                WHERE customer_id = ? AND kind = 'sale' AND occurred_at >= ? AND occurred_at < ?
                GROUP BY source, order_ref ORDER BY placed_at LIMIT 1
            """, [cart.customer_id, start, end]).fetchall()
            row = row[0] if row else None
        if row is None and cart.anonymous_id is not None:
            event = con.execute(f"""
                SELECT COALESCE(event_id, 'event'), occurred_at, value, currency FROM events
                WHERE anonymous_id = ? AND type IN {PURCHASE_TYPES} AND occurred_at >= ? AND occurred_at < ?
                ORDER BY occurred_at LIMIT 1
            """, [cart.anonymous_id, start, end]).fetchall()
            event = event[0] if event else None
            if event is not None:
                exp = CURRENCY_EXPONENTS.get(event[3] or cart.currency or "", 2)
                row = (event[0], event[1], int(round((event[2] or 0) * 10 ** exp)))
        if row is None:
            continue
        cart.recovered_order_ref = str(row[0])[:80]
        cart.recovered_at = aware(row[1])
        cart.recovered_revenue_minor = int(row[2] or 0)
        credited += 1
    if credited:
        uow.audit("analytics.abandonment.attributed", "analytics_abandoned_carts", "scan", after={"credited": credited})
    uow.commit()
    return credited


def summary(uow: UnitOfWork, *, kind: str | None = None, limit: int = 100) -> dict[str, Any]:
    stmt = sa.select(AbandonedCart)
    if kind is not None:
        if kind not in ("cart", "browse"):
            raise ValidationProblem.for_field("kind", "must be cart or browse")
        stmt = stmt.where(AbandonedCart.kind == kind)
    rows = uow.session.scalars(stmt.order_by(AbandonedCart.id.desc())).all()
    by_currency: dict[str, dict[str, int]] = {}
    for r in rows:
        c = by_currency.setdefault(r.currency or "", {"abandoned_value_minor": 0, "recovered_revenue_minor": 0})
        c["abandoned_value_minor"] += r.value_minor or 0
        c["recovered_revenue_minor"] += r.recovered_revenue_minor or 0
    recovered = [r for r in rows if r.recovered_at is not None]

    def money(minor: int, currency: str) -> str | None:
        if not currency:
            return None
        exp = CURRENCY_EXPONENTS[currency]
        return format(minor / 10 ** exp, f".{exp}f")

    return {
        "abandoned": len(rows),
        "carts": sum(1 for r in rows if r.kind == "cart"),
        "browse": sum(1 for r in rows if r.kind == "browse"),
        "recovered": len(recovered),
        "recovery_rate": round(len(recovered) / len(rows), 6) if rows else 0.0,
        "by_currency": [{"currency": c or None, "abandoned_value": money(v["abandoned_value_minor"], c),
                         "recovered_revenue": money(v["recovered_revenue_minor"], c)} for c, v in sorted(by_currency.items())],
        "items": [{"cart_key": r.cart_key, "kind": r.kind, "customer_id": r.customer_id, "anonymous_id": r.anonymous_id,
                   "items": r.items, "value": money(r.value_minor, r.currency or ""), "currency": r.currency,
                   "last_activity_at": aware(r.last_activity_at).isoformat(),
                   "detected_at": aware(r.detected_at).isoformat(),
                   "recovered_order_ref": r.recovered_order_ref,
                   "recovered_revenue": money(r.recovered_revenue_minor or 0, r.currency or "") if r.recovered_at else None}
                  for r in rows[:limit]],
    }
