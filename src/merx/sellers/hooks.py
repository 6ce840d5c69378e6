"""What sellers contributes to hooks of contexts below it (wired by `merx.contexts.wire_hooks`):
checkout's marketplace lines (orders/seller_lines.py)."""

from __future__ import annotations

from merx.orders.seller_lines import contribute_marketplace


def register() -> None:
    from merx.sellers.offers import resolve_offers
    from merx.sellers.seller_orders import split_order

    contribute_marketplace(resolve_offers, split_order)
