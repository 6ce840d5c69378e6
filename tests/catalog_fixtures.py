"""Products for tests that move stock: inventory refuses SKUs the catalog does not know."""

from __future__ import annotations

from typing import Any, Iterable


def catalogue_skus(db: Any, skus: Iterable[str], price: str = "10.00") -> None:
    """One active product per SKU, priced in EUR, created through the catalog's public calls."""
    from merx.catalog.public import ProductCreate, bulk_create_products
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        bulk_create_products(uow, [ProductCreate(sku=sku, name=f"Product {sku}",
                                                 price={"currency": "EUR", "amount": price})
                                   for sku in dict.fromkeys(skus)])
