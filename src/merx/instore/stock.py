"""Stock in the associate's own store: the quantities on its shelf for a SKU, and a shelf
count that corrects them. Other stores' quantities are read on the product card (for
selling); only a store's own associates may change its stock."""

from __future__ import annotations

from typing import Any

from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.instore.access import Store, acting_for_store
from merx.inventory import public as inventory


def store_stock(uow: UnitOfWork, store: Store, sku: str) -> dict[str, Any]:
    avail = inventory.availability(uow, sku, with_quantities=True)
    here = next((loc for loc in avail["locations"] if loc["location"] == store.code), None)
    return {"sku": sku, "store": store.code, "on_hand": here["on_hand"] if here else 0,
            "reserved": here["reserved"] if here else 0, "available": max(0, here["available"]) if here else 0,
            "status": here["status"] if here else "out_of_stock"}


def count_shelf(uow: UnitOfWork, store: Store, sku: str, counted: int, note: str | None = None) -> dict[str, Any]:
    """The associate counted `counted` units of `sku` on this store's shelf."""
    if counted < 0 or counted > 1_000_000:
        raise ValidationProblem.for_field("counted", "must be between 0 and 1,000,000", "out_of_range")
    with acting_for_store(uow):
        inventory.adjust(uow, sku=sku, location=store.code, set_to=counted, reason="count",
                         note=note or f"shelf count at {store.code}")
    return store_stock(uow, store, sku)
