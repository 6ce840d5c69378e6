"""The marketplace on the storefront: the sellers' offers of a product page (the buy-box
winner first, then the other offers) and what the cart needs to sell a chosen offer.

The cart keeps one line per SKU (checkout refuses a SKU bought from two sources); a line bought
from a seller carries the offer's id (`[sku, quantity, offer_id]` in the signed cart cookie),
is priced at the seller's price and goes to checkout with `offer_id`, so the order gets a
sub-order for that seller. The buy-box rule itself lives in sellers/rules.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from merx.sellers import public as sellers

CONDITIONS = {"new": "New", "used": "Used", "refurbished": "Refurbished"}


def delivery_text(lead_time_days: int) -> str:
    if lead_time_days <= 0:
        return "ships today"
    return "ships in 1 day" if lead_time_days == 1 else f"ships in {lead_time_days} days"


def product_offers(uow: Any, sku: str) -> list[dict[str, Any]]:
    """A SKU's offers a shopper can buy, the buy-box winner first (`winner` True)."""
    box = sellers.buy_box(uow, sku)
    out = []
    for i, e in enumerate(box.offers):
        o = e.offer
        out.append({"offer_id": o.id, "seller_name": e.seller_name, "seller_rating": e.seller_rating,
                    "price": Decimal(o.price.amount), "shipping": Decimal(o.shipping.amount),
                    "landed": Decimal(e.landed_price.amount), "currency": o.price.currency,
                    "quantity": o.quantity, "delivery": delivery_text(o.lead_time_days),
                    "lead_time_days": o.lead_time_days, "condition": CONDITIONS.get(o.condition, o.condition),
                    "terms": o.shipping_terms, "winner": i == 0, "score": e.score})
    return out


def cart_offers(uow: Any, offer_ids: list[int]) -> dict[int, Any]:
    """The cart's chosen offers that can still be bought, by id (sellers.ShopOffer)."""
    return sellers.shop_offers(uow, offer_ids)
