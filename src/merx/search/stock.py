"""Search's copy of availability (`search_stock`), reconciled with inventory's: events keep it
current while the service runs; `sync_stock` catches up what was written without search's
handlers (the demo, a bulk load in a script, a process that died before its flush)."""

from __future__ import annotations

import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.uow import UnitOfWork
from merx.search import models as m


def sync_stock(db: Database, *, batch_size: int = 2000) -> dict[str, int]:
    """Makes search's copy of availability (`search_stock`) equal to inventory's, read through
    `inventory.public.available_units`. Events keep it current while the service runs; this
    catches up whatever loaded stock without search's handlers (the demo, a bulk import in a
    script, a process that died between an event and its flush). Returns rows written and
    removed."""
    from merx.catalog.public import lookup_skus
    from merx.inventory.public import available_units

    now = utcnow()
    written = removed = 0
    with UnitOfWork(db) as uow:
        current = {(r.sku, r.location): r for r in uow.session.scalars(sa.select(m.StockPoint))}
        seen: set[tuple[str, str]] = set()
        batch: list[tuple[str, str, int]] = []

        def apply(rows: list[tuple[str, str, int]]) -> None:
            nonlocal written
            unknown = {sku for sku, loc, _ in rows if (sku, loc) not in current or current[(sku, loc)].product_id is None}
            product_of = {k: v.product_id for k, v in lookup_skus(uow, unknown).items()} if unknown else {}
            for sku, loc, available in rows:
                seen.add((sku, loc))
                row = current.get((sku, loc))
                if row is None:
                    row = m.StockPoint(sku=sku, location=loc, product_id=product_of.get(sku), available=available,
                                       updated_at=now)
                    uow.session.add(row)
                    current[(sku, loc)] = row
                    written += 1
                    continue
                if row.product_id is None and sku in product_of:
                    row.product_id = product_of[sku]
                if row.available != available:
                    row.available, row.updated_at = available, now
                    written += 1

        for item in available_units(uow, batch_size=batch_size):
            batch.append(item)
            if len(batch) >= batch_size:
                apply(batch)
                batch = []
        if batch:
            apply(batch)
        for key, row in current.items():
            if key not in seen:  # a location deactivated, a stock row gone
                uow.session.delete(row)
                removed += 1
        uow.commit()
    return {"written": written, "removed": removed}
