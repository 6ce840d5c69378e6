"""Finding the SKU behind a scanned or typed code: a variant's EAN (GTIN) or its SKU."""

from __future__ import annotations

import sqlalchemy as sa

from merx.catalog.models import Variant
from merx.core.uow import UnitOfWork


def skus_for_code(uow: UnitOfWork, code: str) -> list[str]:
    """The SKUs whose EAN equals `code`, or whose SKU equals it (case-insensitive); an EAN
    printed on several variants gives them all, so the caller can show the choice."""
    code = code.strip()
    if not code:
        return []
    rows = uow.session.scalars(sa.select(Variant.sku).where(
        sa.or_(Variant.ean == code, sa.func.upper(Variant.sku) == code.upper())).order_by(Variant.sku).limit(20))
    return list(dict.fromkeys(rows))
