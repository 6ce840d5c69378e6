"""Reads: stock levels, availability per location, product statuses, the ledger."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.inventory import rules
from merx.inventory.locations import get_location_by_code, locations_by_ids
from merx.inventory.models import Location, StockLevel, StockMovement
from merx.inventory.writes import _thresholds, stock_row_out


MAX_STOCK_ROWS = 5000  # what one stock_levels read returns at most (SKU, then location order)


def stock_levels(uow: UnitOfWork, *, sku: str | None = None, location: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(StockLevel, Location.code).join(Location, Location.id == StockLevel.location_id)
    if sku:
        stmt = stmt.where(StockLevel.sku == sku)
    if location:
        stmt = stmt.where(Location.code == location)
    rows = uow.session.execute(stmt.order_by(StockLevel.sku, Location.code).limit(MAX_STOCK_ROWS)).all()
    thresholds = _thresholds(uow, [(r.StockLevel.sku, r.StockLevel.location_id) for r in rows])
    return [stock_row_out(r.StockLevel, r.code, thresholds[(r.StockLevel.sku, r.StockLevel.location_id)])
            for r in rows]


def stock_page(uow: UnitOfWork, *, sku: str | None, location: str | None, limit: int,
               cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Stock rows for a SKU and/or a location, paged in the order they were first stocked."""
    stmt = sa.select(StockLevel).join(Location, Location.id == StockLevel.location_id)
    if sku:
        stmt = stmt.where(StockLevel.sku == sku)
    if location:
        stmt = stmt.where(Location.code == location)
    rows, nxt = paginate(uow.session, stmt, StockLevel.id, limit=limit, cursor=cursor)
    codes = dict(uow.session.execute(sa.select(Location.id, Location.code)
                                     .where(Location.id.in_({r.location_id for r in rows}))).all()) if rows else {}
    thresholds = _thresholds(uow, [(r.sku, r.location_id) for r in rows])
    return [stock_row_out(r, codes[r.location_id], thresholds[(r.sku, r.location_id)]) for r in rows], nxt


def availability(uow: UnitOfWork, sku: str, *, lat: float | None = None, lon: float | None = None,
                 pickup_only: bool = False, with_quantities: bool = False) -> dict[str, Any]:
    """Per location status (and distance when a position is given, nearest first)."""
    stmt = (sa.select(StockLevel, Location).join(Location, Location.id == StockLevel.location_id)
            .where(StockLevel.sku == sku, Location.active.is_(True)))
    if pickup_only:
        stmt = stmt.where(Location.pickup.is_(True))
    rows = uow.session.execute(stmt).all()
    thresholds = _thresholds(uow, [(r.StockLevel.sku, r.StockLevel.location_id) for r in rows])
    now = utcnow()
    items = []
    for r in rows:
        stock, loc = r.StockLevel, r.Location
        available = stock.on_hand - stock.reserved
        item: dict[str, Any] = {
            "location": loc.code, "name": loc.name, "kind": loc.kind, "pickup": loc.pickup,
            "status": rules.stock_status(available, thresholds[(stock.sku, stock.location_id)]),
            "distance_km": None, "lat": loc.lat, "lon": loc.lon,
            "open_now": rules.is_open(loc.opening_hours, loc.timezone, now),
        }
        if lat is not None and lon is not None and loc.lat is not None and loc.lon is not None:
            item["distance_km"] = round(rules.haversine_km(lat, lon, loc.lat, loc.lon), 3)
        if with_quantities:
            item["available"] = available
            item["on_hand"] = stock.on_hand
            item["reserved"] = stock.reserved
        items.append(item)
    if lat is not None and lon is not None:
        items.sort(key=lambda i: (i["distance_km"] is None, i["distance_km"] or 0.0, i["location"]))
    else:
        items.sort(key=lambda i: i["location"])
    out: dict[str, Any] = {"sku": sku, "status": rules.aggregate_status(i["status"] for i in items),
                           "locations": items}
    if with_quantities:
        out["available"] = sum(max(0, i["available"]) for i in items)
    return out


def aggregate_statuses(uow: UnitOfWork, skus: Iterable[str]) -> dict[str, str]:
    """The status a product page shows per SKU: in stock somewhere, low, or out everywhere."""
    skus = set(skus)
    rows = uow.session.execute(sa.select(StockLevel.sku, StockLevel.location_id, StockLevel.on_hand,
                                         StockLevel.reserved).join(Location, Location.id == StockLevel.location_id)
                               .where(StockLevel.sku.in_(skus), Location.active.is_(True))).all()
    thresholds = _thresholds(uow, [(r.sku, r.location_id) for r in rows])
    per: dict[str, list[str]] = {s: [] for s in skus}
    for r in rows:
        per[r.sku].append(rules.stock_status(r.on_hand - r.reserved, thresholds[(r.sku, r.location_id)]))
    return {s: rules.aggregate_status(v) for s, v in per.items()}


def movements(uow: UnitOfWork, *, sku: str | None = None, location: str | None = None, reference: str | None = None,
              limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    stmt = sa.select(StockMovement)
    if sku:
        stmt = stmt.where(StockMovement.sku == sku)
    if location:
        loc = get_location_by_code(uow, location, field="location")
        stmt = stmt.where(StockMovement.location_id == loc.id)
    if reference:
        stmt = stmt.where(StockMovement.reference == reference)
    items, nxt = paginate(uow.session, stmt, StockMovement.id, limit=limit, cursor=cursor)
    codes = {loc.id: loc.code for loc in locations_by_ids(uow, {m.location_id for m in items}).values()}
    return [{"id": m.id, "sku": m.sku, "location": codes.get(m.location_id), "reason": m.reason,
             "on_hand_delta": m.on_hand_delta, "reserved_delta": m.reserved_delta,
             "incoming_delta": m.incoming_delta, "reference": m.reference, "note": m.note,
             "actor_user_id": m.actor_user_id, "at": m.at.isoformat()} for m in items], nxt


def ledger_totals(uow: UnitOfWork, sku: str, location_id: int) -> tuple[int, int]:
    """(on_hand, reserved) as the ledger sums them: must equal the stock row."""
    row = uow.session.execute(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.on_hand_delta), 0),
                                        sa.func.coalesce(sa.func.sum(StockMovement.reserved_delta), 0))
                              .where(StockMovement.sku == sku, StockMovement.location_id == location_id)).one()
    return int(row[0]), int(row[1])


def available_units(uow: UnitOfWork, *, batch_size: int = 5000) -> Iterable[tuple[str, str, int]]:
    """(sku, location code, units available to sell) for every stock row of an active
    location, in batches: what a consumer that keeps its own copy of availability (search)
    reconciles from when it may have missed `stock.changed` events (a bulk load, a rebuild)."""
    after: tuple[str, int] = ("", 0)
    while True:
        rows = uow.session.execute(
            sa.select(StockLevel.sku, StockLevel.location_id, Location.code, StockLevel.on_hand, StockLevel.reserved)
            .join(Location, Location.id == StockLevel.location_id)
            .where(Location.active.is_(True),
                   sa.tuple_(StockLevel.sku, StockLevel.location_id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
            .order_by(StockLevel.sku, StockLevel.location_id).limit(batch_size)).all()
        for r in rows:
            yield r.sku, r.code, int(r.on_hand - r.reserved)
        if len(rows) < batch_size:
            return
        after = (rows[-1].sku, rows[-1].location_id)
