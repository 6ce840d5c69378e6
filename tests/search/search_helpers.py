"""Catalog-shaped documents built in the test (no database needed for the pipeline tests)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from merx.catalog.service import ProductDocument

_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_ids = itertools.count(1)


def make_doc(name: str, *, product_id: int | None = None, sku: str | None = None, price: str = "10.00",
             locale: str = "en", brand: str | None = None, category: str | None = None,
             category_path: list[str] | None = None, attributes: dict[str, Any] | None = None,
             description: str | None = None, translations: dict[str, dict[str, Any]] | None = None,
             status: str = "active", seller_id: int | None = None, ean: str | None = None) -> ProductDocument:
    pid = product_id or next(_ids)
    return ProductDocument(
        product_id=pid, status=status, name=name, description=description, category=category,
        category_path=category_path or [], brand=brand, seller_id=seller_id, default_locale=locale,
        translations=translations or {}, attributes=attributes or {},
        variants=[{"variant_id": pid, "sku": sku or f"SKU-{pid}", "ean": ean, "options": {},
                   "prices": {"EUR": Decimal(price)}}],
        channels=["web"], updated_at=_NOW, created_at=_NOW)


