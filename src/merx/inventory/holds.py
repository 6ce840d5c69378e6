"""Holds: allocate, release, consume, expire (called by orders and carts in their own unit of work)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict
from merx.core.uow import UnitOfWork
from merx.inventory import rules
from merx.inventory.locations import locations_by_ids
from merx.inventory.models import Reservation
from merx.inventory.settings import get_inventory_settings
from merx.inventory.writes import (InsufficientStock, _apply, _Changes, _emit_changes, _known_thresholds,
                                   _lock_rows)


_INSERT_HOLDS = sa.insert(Reservation.__table__)
_EXPIRE_HOLDS = (sa.update(Reservation)
                 .where(Reservation.state == "active", Reservation.expires_at.is_not(None),
                        Reservation.expires_at <= sa.bindparam("now"),
                        Reservation.sku.in_(sa.bindparam("skus", expanding=True)))
                 .values(state="expired")
                 .returning(Reservation.owner, Reservation.sku, Reservation.location_id, Reservation.quantity))


def _expire_locked(uow: UnitOfWork, changes: _Changes, skus: Sequence[str], now: dt.datetime) -> list[str]:
    """Release expired holds of these SKUs; their stock rows must already be locked."""
    expired = uow.session.connection().execute(_EXPIRE_HOLDS, {"now": now, "skus": list(skus)}).all()
    for r in sorted(expired, key=lambda r: (r.sku, r.location_id)):
        _apply(uow, changes, r.sku, r.location_id, reason="release", reserved=-r.quantity, reference=r.owner,
               note="hold expired")
    return sorted({r.owner for r in expired})


def allocate(uow: UnitOfWork, owner: str, lines: Sequence[rules.LineRequest], *,
             location_ids: Sequence[int] | None = None, strategy: str | None = None, allow_split: bool | None = None,
             expires_at: dt.datetime | None = None, release_owner: str | None = None,
             ship_only: bool = False, location_codes: dict[int, str] | None = None) -> list[rules.PlannedAllocation]:
    """Reserve stock for every line (all or nothing) and record the holds under `owner`.

    `location_ids` restricts the candidates (pickup: just the store). `release_owner` first
    releases another owner's holds in the same transaction (a cart's checkout hold becoming
    the order's). Raises InsufficientStock naming every short line. `location_codes`, when
    given, is filled with the codes of the candidate locations. Does not commit."""
    cfg = get_inventory_settings()
    strategy = strategy or cfg.allocation_strategy
    allow_split = cfg.allocation_split if allow_split is None else allow_split
    skus = sorted({line.sku for line in lines})
    now = utcnow()
    locked = _lock_rows(uow, skus)
    changes = _Changes()
    if release_owner:
        _release_locked(uow, changes, release_owner, reason="release", note="converted")
    expired = _expire_locked(uow, changes, skus, now) if any(r.has_expired_holds for r in locked) else []
    if expired or release_owner:
        locked = _lock_rows(uow, skus)  # re-read the quantities the releases changed
    allowed = set(location_ids) if location_ids is not None else None
    candidates: dict[str, list[rules.StockRow]] = {s: [] for s in skus}
    for r in locked:
        if not r.active or (allowed is not None and r.location_id not in allowed) or (ship_only and not r.ships):
            continue
        candidates[r.sku].append(rules.StockRow(r.location_id, r.on_hand - r.reserved, r.priority))
    planned, shortages = rules.plan_allocation(lines, candidates, strategy=strategy, allow_split=allow_split)
    if shortages:
        raise InsufficientStock(shortages)
    merged: dict[tuple[str, int], int] = {}
    for p in planned:
        merged[(p.sku, p.location_id)] = merged.get((p.sku, p.location_id), 0) + p.quantity
    holds = []
    for (sku, loc_id), qty in sorted(merged.items()):
        if not _apply(uow, changes, sku, loc_id, reason="reservation", reserved=qty, reference=owner):
            # Cannot happen while the rows are locked (PostgreSQL) or writers serialised
            # (SQLite); if it ever does, the guard has kept the row intact.
            raise InsufficientStock([rules.Shortage(p.key, p.sku, p.quantity, 0) for p in planned if p.sku == sku])
        holds.append({"owner": owner, "sku": sku, "location_id": loc_id, "quantity": qty, "state": "active",
                      "expires_at": expires_at, "created_at": now})
    if holds:
        uow.session.connection().execute(_INSERT_HOLDS, holds)
    known = _known_thresholds(locked)
    if location_codes is not None:
        location_codes.update(known[1])
    _emit_changes(uow, changes, known=known)
    return planned


def _release_locked(uow: UnitOfWork, changes: _Changes, owner: str, *, reason: str, note: str | None) -> int:
    released = uow.session.connection().execute(
        sa.update(Reservation).where(Reservation.owner == owner, Reservation.state == "active")
        .values(state="released")
        .returning(Reservation.sku, Reservation.location_id, Reservation.quantity)).all()
    for r in sorted(released, key=lambda r: (r.sku, r.location_id)):
        _apply(uow, changes, r.sku, r.location_id, reason=reason, reserved=-r.quantity, reference=owner, note=note)
    return sum(r.quantity for r in released)


def _owner_skus(uow: UnitOfWork, owner: str) -> list[str]:
    return sorted(set(uow.session.scalars(sa.select(Reservation.sku).where(
        Reservation.owner == owner, Reservation.state == "active"))))


def release(uow: UnitOfWork, owner: str, *, note: str | None = None) -> int:
    """Give back every active hold of `owner` (cancelled order, abandoned cart). Idempotent:
    a second call finds nothing active. Does not commit."""
    skus = _owner_skus(uow, owner)
    if not skus:
        return 0
    _lock_rows(uow, skus)
    changes = _Changes()
    n = _release_locked(uow, changes, owner, reason="release", note=note)
    _emit_changes(uow, changes)
    return n


def consume(uow: UnitOfWork, owner: str, *, note: str | None = None) -> list[tuple[str, int, int]]:
    """The held units leave the building (shipped, picked up): on_hand and reserved both go
    down, ledger reason `sale`. Returns (sku, location_id, quantity). Does not commit."""
    skus = _owner_skus(uow, owner)
    if not skus:
        return []
    _lock_rows(uow, skus)
    consumed = uow.session.execute(
        sa.update(Reservation).where(Reservation.owner == owner, Reservation.state == "active")
        .values(state="consumed")
        .returning(Reservation.sku, Reservation.location_id, Reservation.quantity)
        .execution_options(synchronize_session=False)).all()
    changes = _Changes()
    out = []
    for r in sorted(consumed, key=lambda r: (r.sku, r.location_id)):
        if not _apply(uow, changes, r.sku, r.location_id, reason="sale", on_hand=-r.quantity, reserved=-r.quantity,
                      reference=owner, note=note):
            raise Conflict(f"stock of {r.sku} is inconsistent with its reservation")
        out.append((r.sku, r.location_id, r.quantity))
    _emit_changes(uow, changes)
    return out


def holds_of(uow: UnitOfWork, owner: str, *, active_only: bool = True) -> list[dict[str, Any]]:
    stmt = sa.select(Reservation).where(Reservation.owner == owner)
    if active_only:
        stmt = stmt.where(Reservation.state == "active")
    rows = list(uow.session.scalars(stmt.order_by(Reservation.id)))
    codes = {loc.id: loc.code for loc in locations_by_ids(uow, {r.location_id for r in rows}).values()}
    return [{"sku": r.sku, "location": codes.get(r.location_id), "location_id": r.location_id, "quantity": r.quantity,
             "state": r.state, "expires_at": r.expires_at.isoformat() if r.expires_at else None} for r in rows]


def sweep_expired(uow: UnitOfWork, *, now: dt.datetime | None = None, batch_skus: int = 200) -> list[str]:
    """Release every hold whose time is up; returns the owners affected. Commits per batch."""
    now = now or utcnow()
    owners: list[str] = []
    while True:
        skus = sorted(set(uow.session.scalars(
            sa.select(Reservation.sku).where(Reservation.state == "active", Reservation.expires_at.is_not(None),
                                             Reservation.expires_at <= now).limit(batch_skus))))
        if not skus:
            break
        _lock_rows(uow, skus)
        changes = _Changes()
        owners.extend(_expire_locked(uow, changes, skus, now))
        _emit_changes(uow, changes)
        uow.audit("sweep", "reservation", "expired", after={"skus": len(skus)})
        uow.commit()
    return sorted(set(owners))
