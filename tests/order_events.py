"""The orders context's own event classes, filled in for consumers' tests that need an order
event without placing a real order (tests of how real orders flow place them through the
orders API). Building them through the producer's classes keeps these tests honest: a
payload the orders context could not emit fails here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from merx.orders.events import Fulfilment, OrderPlaced, OrderTotals, PlacedLine


def order_placed(order_id: int, customer_id: int | None, lines: list[dict[str, Any]], *, currency: str = "EUR",
                 placed_at: dt.datetime | None = None, channel: str = "web", status: str = "confirmed",
                 email: str | None = None) -> OrderPlaced:
    """`lines`: dicts with sku, quantity, unit_price and optionally line_total (default
    quantity x unit_price), product_id, category, location."""
    full = []
    for ln in lines:
        line_total = ln.get("line_total") or str(Decimal(str(ln["unit_price"])) * ln["quantity"])
        full.append(PlacedLine(**{"product_id": None, "category": None, "location": None, "locations": [], **ln,
                                  "line_total": line_total}))
    total = str(sum((ln.line_total for ln in full), Decimal(0)))
    return OrderPlaced(
        order_id=order_id, number=f"M-{order_id}", channel=channel, customer_id=customer_id, email=email,
        currency=currency, status=status, total=total, payment_provider="manual", lines=full,
        totals=OrderTotals(subtotal=total, discount="0", shipping="0", total=total),
        fulfilment=Fulfilment(type="ship", location=None), promotions=[],
        placed_at=placed_at or dt.datetime.now(dt.timezone.utc))
