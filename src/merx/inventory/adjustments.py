"""Adjustments, counts, transfers between locations and low-stock thresholds."""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa

from merx.catalog import public as catalog
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.inventory import rules
from merx.inventory.locations import get_location_by_code, locations_by_ids
from merx.inventory.models import StockLevel, StockThreshold, Transfer
from merx.inventory.writes import (InsufficientStock, _apply, _Changes, _current, _emit_changes, _insert_ignore,
                                   _known_thresholds, _lock_rows, _thresholds, serialised, stock_row_out)


ADJUSTMENT_REASONS = ("adjustment", "receipt", "count", "return", "damage")


def unknown_skus(uow: UnitOfWork, skus: Sequence[str]) -> set[str]:
    """The SKUs the catalog does not know: stock for them would be phantom stock that no
    product page, cart or report can ever reach, so counts and adjustments refuse them."""
    wanted = set(skus)
    return wanted - set(catalog.lookup_skus(uow, wanted))


def _require_known_sku(uow: UnitOfWork, sku: str) -> None:
    if unknown_skus(uow, [sku]):
        raise ValidationProblem.for_field("sku", f"the catalog has no product variant with SKU {sku!r}", "unknown")


def adjust(uow: UnitOfWork, *, sku: str, location: str, delta: int | None = None, set_to: int | None = None,
           expected: int | None = None, reason: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Change on-hand stock by `delta`, or set it to `set_to` (compare-and-set when `expected`
    is given: 409 unless the current on-hand quantity is exactly `expected`)."""
    if (delta is None) == (set_to is None):
        raise ValidationProblem.for_field("delta", "give either delta or set (with optional expected)")
    if set_to is None and expected is not None:
        raise ValidationProblem.for_field("expected", "only applies together with set")
    if set_to is not None and set_to < 0:
        raise ValidationProblem.for_field("set", "must not be negative")
    reason = reason or ("adjustment" if delta is not None else "count")
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationProblem.for_field("reason", f"must be one of {', '.join(ADJUSTMENT_REASONS)}")
    _require_known_sku(uow, sku)
    loc = get_location_by_code(uow, location, field="location")
    _insert_ignore(uow, [{"sku": sku, "location_id": loc.id}])
    locked = _lock_rows(uow, [sku], [loc.id])
    current = locked[0]
    changes = _Changes()
    if delta is not None:
        ok = _apply(uow, changes, sku, loc.id, reason=reason, on_hand=delta, note=note,
                    reference=f"adjustment:{uow.request_id}" if uow.request_id else None)
        if not ok:
            row = _current(uow, sku, loc.id)
            raise Conflict(f"{sku} at {location}: on hand {row.on_hand}, reserved {row.reserved}; "
                           f"a change of {delta} would leave fewer units than are reserved",
                           type_slug="stock-conflict",
                           errors=[FieldError("delta", f"would leave on_hand below reserved ({row.reserved})",
                                              "below_reserved")],
                           extra={"on_hand": row.on_hand, "reserved": row.reserved})
    else:
        assert set_to is not None
        base = current.on_hand if expected is None else expected
        if expected is not None and current.on_hand != expected:
            raise Conflict(f"{sku} at {location} has {current.on_hand} on hand, not the expected {expected}",
                           type_slug="stock-conflict",
                           errors=[FieldError("expected", f"current on_hand is {current.on_hand}", "mismatch")],
                           extra={"on_hand": current.on_hand, "reserved": current.reserved})
        ok = _apply(uow, changes, sku, loc.id, reason=reason, on_hand=set_to - base, note=note, expect_on_hand=base)
        if not ok:
            row = _current(uow, sku, loc.id)
            if row.on_hand != base:
                raise Conflict(f"{sku} at {location} changed meanwhile (now {row.on_hand})", type_slug="stock-conflict",
                               errors=[FieldError("expected", f"current on_hand is {row.on_hand}", "mismatch")])
            raise Conflict(f"{sku} at {location}: {row.reserved} units are reserved; cannot set on hand to {set_to}",
                           type_slug="stock-conflict",
                           errors=[FieldError("set", f"below reserved ({row.reserved})", "below_reserved")],
                           extra={"on_hand": row.on_hand, "reserved": row.reserved})
    row = _current(uow, sku, loc.id)
    threshold = _thresholds(uow, [(sku, loc.id)])[(sku, loc.id)]
    out = stock_row_out(row, loc.code, threshold)
    uow.audit("adjust", "stock", f"{sku}@{loc.code}",
              before={"on_hand": current.on_hand, "reserved": current.reserved},
              after={"on_hand": row.on_hand, "reserved": row.reserved, "reason": reason, "note": note})
    _emit_changes(uow, changes)
    uow.commit()
    return out


def receive_stock(uow: UnitOfWork, sku: str, location_id: int, quantity: int, *, reason: str, reference: str,
                  note: str | None = None) -> None:
    """Add units to on-hand stock (returns restocking, receipts) inside the caller's unit of
    work; the caller commits."""
    _insert_ignore(uow, [{"sku": sku, "location_id": location_id}])
    _lock_rows(uow, [sku], [location_id])
    changes = _Changes()
    if not _apply(uow, changes, sku, location_id, reason=reason, on_hand=quantity, reference=reference, note=note):
        raise Conflict(f"could not add {quantity} of {sku}")  # only a negative quantity can fail
    _emit_changes(uow, changes)


def receive_stock_many(uow: UnitOfWork, receipts: Sequence[tuple[str, int, int]], *, reason: str, reference: str,
                       note: str | None = None) -> int:
    """`receive_stock` for many `(sku, location_id, quantity)` receipts at once (a warehouse's
    delivery of a few hundred lines): the same guarded change, ledger movement and
    `inventory.stock_changed` event per row, with the rows created, locked and their
    thresholds read in one statement each instead of one per receipt. Inside the caller's
    unit of work; the caller commits. A receipt of a SKU the catalog does not know or of no
    units refuses the whole batch (nothing written), naming it. Returns how many were applied."""
    if not receipts:
        return 0
    for i, (sku, _location_id, quantity) in enumerate(receipts):
        if quantity <= 0:
            raise ValidationProblem.for_field(f"receipts[{i}].quantity", f"must be positive (got {quantity} for {sku})")
    unknown = unknown_skus(uow, [sku for sku, _loc, _q in receipts])
    if unknown:
        i, sku = next((i, r[0]) for i, r in enumerate(receipts) if r[0] in unknown)
        raise ValidationProblem.for_field(f"receipts[{i}].sku", f"the catalog has no product variant with SKU {sku!r}",
                                          "unknown")
    pairs = sorted({(sku, location_id) for sku, location_id, _quantity in receipts})
    for start in range(0, len(pairs), 1000):  # within SQLite's bound parameters per statement
        _insert_ignore(uow, [{"sku": sku, "location_id": location_id} for sku, location_id in pairs[start:start + 1000]])
    locked = _lock_rows(uow, [sku for sku, _loc in pairs], [loc for _sku, loc in pairs])
    changes = _Changes()
    for sku, location_id, quantity in receipts:
        if not _apply(uow, changes, sku, location_id, reason=reason, on_hand=quantity, reference=reference, note=note):
            raise Conflict(f"could not add {quantity} of {sku}")  # unreachable for positive quantities
    _emit_changes(uow, changes, known=_known_thresholds(locked))
    return len(receipts)


def transfer(uow: UnitOfWork, *, sku: str, from_location: str, to_location: str, quantity: int,
             in_transit: bool = False, note: str | None = None) -> dict[str, Any]:
    """Move stock between two locations (at once, or `in_transit` until received). It changes
    two stock rows and commits, so it runs in `uow.run_in_transaction`: on PostgreSQL a
    deadlock with a concurrent writer of the same rows runs it again instead of failing; on
    SQLite this process's writers queue (`serialised`), like checkout's."""

    def run() -> dict[str, Any]:
        if quantity <= 0:
            raise ValidationProblem.for_field("quantity", "must be positive")
        src = get_location_by_code(uow, from_location, field="from_location")
        dst = get_location_by_code(uow, to_location, field="to_location")
        if src.id == dst.id:
            raise ValidationProblem.for_field("to_location", "must differ from from_location")
        _insert_ignore(uow, [{"sku": sku, "location_id": src.id}, {"sku": sku, "location_id": dst.id}])
        _lock_rows(uow, [sku], [src.id, dst.id])
        row = Transfer(sku=sku, from_location_id=src.id, to_location_id=dst.id, quantity=quantity,
                       status="in_transit" if in_transit else "completed", actor_user_id=uow.actor.user_id)
        uow.session.add(row)
        uow.session.flush()
        ref = f"transfer:{row.id}"
        changes = _Changes()
        if not _apply(uow, changes, sku, src.id, reason="transfer_out", on_hand=-quantity, reference=ref, note=note):
            cur = _current(uow, sku, src.id)
            available = cur.on_hand - cur.reserved
            raise InsufficientStock([rules.Shortage("", sku, quantity, available)])
        if in_transit:
            _apply(uow, changes, sku, dst.id, reason="transfer_in", incoming=quantity, reference=ref, note=note)
        else:
            _apply(uow, changes, sku, dst.id, reason="transfer_in", on_hand=quantity, reference=ref, note=note)
            row.received_at = utcnow()
        out = transfer_out(row, src.code, dst.code)
        uow.audit("create", "transfer", row.id, after=out)
        _emit_changes(uow, changes)
        uow.commit()
        return out

    return uow.run_in_transaction(run, guard=serialised)


def receive_transfer(uow: UnitOfWork, transfer_id: int) -> dict[str, Any]:
    row = uow.session.scalar(sa.select(Transfer).where(Transfer.id == transfer_id).with_for_update())
    if row is None:
        raise NotFound(f"Transfer {transfer_id} does not exist")
    if row.status != "in_transit":
        raise Conflict(f"Transfer {transfer_id} is {row.status}, not in transit", type_slug="invalid-transition")
    _lock_rows(uow, [row.sku], [row.to_location_id])
    changes = _Changes()
    _apply(uow, changes, row.sku, row.to_location_id, reason="transfer_in", on_hand=row.quantity,
           incoming=-row.quantity, reference=f"transfer:{row.id}", note="received")
    row.status, row.received_at = "received", utcnow()
    locs = locations_by_ids(uow, [row.from_location_id, row.to_location_id])
    out = transfer_out(row, locs[row.from_location_id].code, locs[row.to_location_id].code)
    uow.audit("receive", "transfer", row.id, after=out)
    _emit_changes(uow, changes)
    uow.commit()
    return out


def transfer_out(row: Transfer, src: str, dst: str) -> dict[str, Any]:
    return {"id": row.id, "sku": row.sku, "from_location": src, "to_location": dst, "quantity": row.quantity,
            "status": row.status, "created_at": row.created_at.isoformat() if row.created_at else None,
            "received_at": row.received_at.isoformat() if row.received_at else None}


def set_threshold(uow: UnitOfWork, *, sku: str, low_stock: int, location: str | None = None) -> dict[str, Any]:
    if low_stock < 0:
        raise ValidationProblem.for_field("low_stock", "must not be negative")
    _require_known_sku(uow, sku)  # else a typo would leave a stock row for a SKU nobody sells
    if location:
        loc = get_location_by_code(uow, location, field="location")
        _insert_ignore(uow, [{"sku": sku, "location_id": loc.id}])
        uow.session.execute(sa.update(StockLevel).where(StockLevel.sku == sku, StockLevel.location_id == loc.id)
                            .values(low_stock_threshold=low_stock).execution_options(synchronize_session=False))
    else:
        existing = uow.session.get(StockThreshold, sku)
        if existing is None:
            uow.session.add(StockThreshold(sku=sku, low_stock=low_stock))
        else:
            existing.low_stock = low_stock
    uow.audit("set_threshold", "stock", sku if not location else f"{sku}@{location}", after={"low_stock": low_stock})
    uow.commit()
    return {"sku": sku, "location": location, "low_stock": low_stock}


def set_stock_levels(uow: UnitOfWork, rows: Sequence[dict[str, Any]], *, reason: str = "count",
                     note: str | None = None) -> list[Any]:
    """Counted stock for many (sku, location) rows in one transaction, each `{"sku",
    "location", "on_hand"}`: the same guarded change, ledger movement, audit entry and
    `inventory.stock_changed` event as `adjust(set_to=...)` per row, without a transaction
    per row (an ERP feed sends thousands). Returns, per row, "created", "updated" or
    "unchanged", or the Problem that refused it (SKU the catalog does not know, unknown
    location, below what is reserved, changed meanwhile); refused rows change nothing.
    Does not commit."""
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationProblem.for_field("reason", f"must be one of {', '.join(ADJUSTMENT_REASONS)}")
    results: list[Any] = [None] * len(rows)
    locations: dict[str, Any] = {}
    for code in {r["location"] for r in rows}:
        try:
            locations[code] = get_location_by_code(uow, code, field="location")
        except Problem as e:
            locations[code] = e
    unknown = unknown_skus(uow, [r["sku"] for r in rows])
    todo = []
    for i, r in enumerate(rows):
        loc = locations[r["location"]]
        if r["sku"] in unknown:
            results[i] = ValidationProblem.for_field(
                "sku", f"the catalog has no product variant with SKU {r['sku']!r}", "unknown")
        elif isinstance(loc, Exception):
            results[i] = loc
        else:
            todo.append((i, r["sku"], loc, int(r["on_hand"])))
    if not todo:
        return results
    skus, loc_ids = [t[1] for t in todo], {t[2].id for t in todo}
    existed = {(row.sku, row.location_id) for row in _lock_rows(uow, skus, loc_ids)}
    _insert_ignore(uow, [{"sku": sku, "location_id": loc.id} for _, sku, loc, _ in todo
                         if (sku, loc.id) not in existed])
    current = {(row.sku, row.location_id): (row.on_hand, row.reserved) for row in _lock_rows(uow, skus, loc_ids)}
    changes = _Changes()
    for i, sku, loc, quantity in todo:
        on_hand, reserved = current[(sku, loc.id)]
        was_there = (sku, loc.id) in existed
        if quantity == on_hand:
            results[i] = "unchanged" if was_there else "created"
            existed.add((sku, loc.id))
            continue
        if quantity < reserved:
            results[i] = Conflict(f"{sku} at {loc.code}: {reserved} units are reserved",
                                  errors=[FieldError("quantity", f"below the reserved quantity ({reserved})")])
            continue
        if not _apply(uow, changes, sku, loc.id, reason=reason, on_hand=quantity - on_hand, note=note,
                      expect_on_hand=on_hand):
            results[i] = Conflict(f"{sku} at {loc.code} changed meanwhile")
            continue
        current[(sku, loc.id)] = (quantity, reserved)
        uow.audit("adjust", "stock", f"{sku}@{loc.code}", before={"on_hand": on_hand},
                  after={"on_hand": quantity, "reason": reason, "note": note})
        results[i] = "updated" if was_there else "created"
        existed.add((sku, loc.id))  # a later row for the same place updates what this one made
    _emit_changes(uow, changes)
    return results
