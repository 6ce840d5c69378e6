"""Inventory use cases: locations, adjustments, transfers, availability, holds and allocation.

Concurrency rules (the reason this module looks the way it does):
- Stock rows change only through conditional UPDATEs whose WHERE clause re-checks the
  invariant (`on_hand - reserved >= q`...), and the rowcount is checked. Nothing is read,
  decided in Python and written back without that guard.
- On PostgreSQL the rows an operation touches are first locked with SELECT ... FOR UPDATE
  in one global order (sku, location_id), then reservation rows; every code path follows
  that order, so concurrent checkouts queue instead of deadlocking. On SQLite the write
  unit of work begins IMMEDIATE, so writers are serialised anyway.
- CHECK constraints on the table refuse any negative or over-reserved row at commit.
- Every change writes a ledger movement in the same transaction; the ledger sums to the row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, Problem, ValidationProblem
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.inventory import events as ev
from merx.inventory import rules
from merx.inventory.models import Location, Reservation, StockLevel, StockMovement, StockThreshold, Transfer
from merx.inventory.settings import get_inventory_settings

ADJUSTMENT_REASONS = ("adjustment", "receipt", "count", "return", "damage")


_sqlite_write_locks: dict[int, threading.Lock] = {}
_sqlite_write_locks_guard = threading.Lock()


@contextlib.contextmanager
def serialised(uow: UnitOfWork) -> Iterator[None]:
    """On SQLite, queue this process's writers on a lock instead of SQLite's busy handler,
    which polls with sleeps and lets an unlucky writer starve past its timeout when many
    checkouts arrive at once. The transaction is finished (committed by the body, or rolled
    back here) before the next writer goes. PostgreSQL needs none of this: row locks."""
    if uow.dialect != "sqlite":
        yield
        return
    if uow.session.in_transaction():
        # Never wait for the queue while holding SQLite's file lock (a read since the last
        # commit took it): the writer ahead of us would wait for us, and we for it.
        uow.rollback()
    with _sqlite_write_locks_guard:
        lock = _sqlite_write_locks.setdefault(id(uow.db), threading.Lock())
    with lock:
        try:
            yield
        finally:
            if uow.session.in_transaction():
                uow.rollback()


class InsufficientStock(Conflict):
    """409 naming each line short of stock; `shortages` lists what was asked and what is there."""

    type_slug = "insufficient-stock"
    title = "Insufficient stock"

    def __init__(self, shortages: Sequence[rules.Shortage]) -> None:
        self.shortages = list(shortages)
        errors = [FieldError(f"{s.key}.sku" if s.key else "sku",
                             f"{s.sku}: {s.requested} requested, {s.available} available", "insufficient_stock")
                  for s in self.shortages]
        detail = "Not enough stock for " + ", ".join(s.sku for s in self.shortages)
        super().__init__(detail, errors=errors, extra={"shortages": [
            {"field": f"{s.key}.sku" if s.key else "sku", "sku": s.sku, "requested": s.requested,
             "available": s.available} for s in self.shortages]})


# ---------------------------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------------------------

LOCATION_FIELDS = ("name", "kind", "lat", "lon", "address", "pickup", "accepts_returns", "ships", "priority",
                   "low_stock_threshold", "opening_hours", "timezone", "active")


def location_out(loc: Location, *, at: dt.datetime | None = None) -> dict[str, Any]:
    return {"id": loc.id, "code": loc.code, "name": loc.name, "kind": loc.kind, "lat": loc.lat, "lon": loc.lon,
            "address": loc.address, "pickup": loc.pickup, "accepts_returns": loc.accepts_returns, "ships": loc.ships,
            "priority": loc.priority, "low_stock_threshold": loc.low_stock_threshold,
            "opening_hours": loc.opening_hours or {}, "timezone": loc.timezone, "active": loc.active,
            "open_now": rules.is_open(loc.opening_hours, loc.timezone, at or utcnow()), "version": loc.version}


def _check_hours(hours: dict | None) -> None:
    if hours:
        problems = rules.validate_opening_hours(hours)
        if problems:
            raise ValidationProblem("; ".join(f"{f}: {m}" for f, m in problems),
                                    errors=[FieldError(f, m) for f, m in problems])


def create_location(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    _check_hours(data.get("opening_hours"))
    if uow.session.scalar(sa.select(Location.id).where(Location.code == data["code"])) is not None:
        raise Conflict(f"A location with code {data['code']} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    loc = Location(code=data["code"], **{k: data[k] for k in LOCATION_FIELDS if data.get(k) is not None})
    uow.session.add(loc)
    uow.session.flush()
    out = location_out(loc)
    uow.audit("create", "location", loc.id, after=out)
    uow.emit(ev.LocationCreated(location_id=loc.id, code=loc.code, kind=loc.kind), version=loc.version)
    uow.commit()
    return out


def update_location(uow: UnitOfWork, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    loc = get_location_by_code(uow, code, for_update=True)
    if "opening_hours" in changes:
        _check_hours(changes["opening_hours"])
    before = location_out(loc)
    changed = []
    for key, value in changes.items():
        if key in LOCATION_FIELDS and getattr(loc, key) != value:
            setattr(loc, key, value)
            changed.append(key)
    if changed:
        loc.version += 1
        uow.session.flush()
        uow.audit("update", "location", loc.id, before=before, after=location_out(loc))
        uow.emit(ev.LocationUpdated(location_id=loc.id, code=loc.code, changed=changed), version=loc.version)
        uow.commit()
    return location_out(loc)


def get_location_by_code(uow: UnitOfWork, code: str, *, field: str | None = None,
                         for_update: bool = False) -> Location:
    stmt = sa.select(Location).where(Location.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    loc = uow.session.scalar(stmt)
    if loc is None:
        if field:
            raise ValidationProblem.for_field(field, f"no location with code {code!r}", "unknown_location")
        raise NotFound(f"Location {code} does not exist")
    return loc


def get_location(uow: UnitOfWork, location_id: int) -> Location | None:
    return uow.session.get(Location, location_id)


def locations_by_ids(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, Location]:
    ids = set(ids)
    if not ids:
        return {}
    return {loc.id: loc for loc in uow.session.scalars(sa.select(Location).where(Location.id.in_(ids)))}


def list_locations(uow: UnitOfWork, *, kind: str | None = None, pickup: bool | None = None,
                   limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    stmt = sa.select(Location)
    if kind:
        stmt = stmt.where(Location.kind == kind)
    if pickup is not None:
        stmt = stmt.where(Location.pickup == pickup)
    now = utcnow()
    return paginate(uow.session, stmt, Location.id, limit=limit, cursor=cursor,
                    convert=lambda loc: location_out(loc, at=now))


# ---------------------------------------------------------------------------------------------
# Low-level stock writes (guarded UPDATEs + ledger)
# ---------------------------------------------------------------------------------------------


def _insert_ignore(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    values = [{"on_hand": 0, "reserved": 0, "incoming": 0, "version": 1, "updated_at": now, **r} for r in rows]
    uow.session.execute(insert(StockLevel).values(values).on_conflict_do_nothing(index_elements=["sku", "location_id"]))


_LOCK_COLUMNS = (StockLevel.sku, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
                 StockLevel.incoming, Location.priority, Location.pickup, Location.ships, Location.active,
                 Location.code, StockLevel.low_stock_threshold.label("row_threshold"),
                 Location.low_stock_threshold.label("loc_threshold"),
                 StockThreshold.low_stock.label("product_threshold"),
                 # whether a hold on this row has run out: only then does a checkout release holds first
                 sa.exists().where(Reservation.sku == StockLevel.sku, Reservation.location_id == StockLevel.location_id,
                                   Reservation.state == "active", Reservation.expires_at.is_not(None),
                                   Reservation.expires_at <= sa.bindparam("now")).label("has_expired_holds"))
_lock_statements: dict[tuple[bool, bool], Any] = {}


def _lock_statement(with_locations: bool, for_update: bool) -> Any:
    """Built once per shape: every checkout runs it, and a reused statement keeps its cache key."""
    key = (with_locations, for_update)
    if key not in _lock_statements:
        stmt = (sa.select(*_LOCK_COLUMNS)
                .join(Location, Location.id == StockLevel.location_id)
                .outerjoin(StockThreshold, StockThreshold.sku == StockLevel.sku)
                .where(StockLevel.sku.in_(sa.bindparam("skus", expanding=True)))
                .order_by(StockLevel.sku, StockLevel.location_id))
        if with_locations:
            stmt = stmt.where(StockLevel.location_id.in_(sa.bindparam("locations", expanding=True)))
        if for_update:
            stmt = stmt.with_for_update(of=StockLevel)
        _lock_statements[key] = stmt
    return _lock_statements[key]


def _lock_rows(uow: UnitOfWork, skus: Iterable[str], location_ids: Iterable[int] | None = None) -> list[Any]:
    """Lock the stock rows (global order: sku, location) and return them with their location
    and the inputs of their low-stock threshold (so a hold needs no second query for them)."""
    skus = sorted(set(skus))
    if not skus:
        return []
    stmt = _lock_statement(location_ids is not None, uow.dialect == "postgresql")
    params: dict[str, Any] = {"skus": skus, "now": utcnow()}
    if location_ids is not None:
        params["locations"] = sorted(set(location_ids))
    # Core on the session's connection: these rows are read, not loaded as ORM objects
    return list(uow.session.connection().execute(stmt, params))


def _known_thresholds(rows: Iterable[Any]) -> tuple[dict[tuple[str, int], int], dict[int, str]]:
    default = get_inventory_settings().default_low_stock_threshold
    thresholds, codes = {}, {}
    for r in rows:
        thresholds[(r.sku, r.location_id)] = rules.effective_threshold(r.row_threshold, r.loc_threshold,
                                                                       r.product_threshold, default)
        codes[r.location_id] = r.code
    return thresholds, codes


class _Changes:
    """Rows changed in this unit of work: (on_hand, reserved) before the first change and
    after the last one, for the `inventory.stock_changed` events."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[int, int, int, int, str]] = {}
        self.movements: list[dict[str, Any]] = []  # ledger rows, written together by _emit_changes

    def record(self, key: tuple[str, int], before: tuple[int, int], after: tuple[int, int], reason: str) -> None:
        first = self.rows.get(key)
        start = (first[0], first[1]) if first else before
        self.rows[key] = (start[0], start[1], after[0], after[1], reason)


_guarded_updates: dict[tuple[bool, ...], Any] = {}


def _guarded_update(guards: tuple[bool, ...]) -> Any:
    """The conditional UPDATE of one stock row for this combination of guards, built once:
    the guard is in the WHERE clause, so a change that would break an invariant updates no
    row instead of being checked in Python first."""
    if guards not in _guarded_updates:
        t = StockLevel
        d_on_hand, d_reserved, d_incoming = sa.bindparam("d_on_hand"), sa.bindparam("d_reserved"), \
            sa.bindparam("d_incoming")
        conds = [t.sku == sa.bindparam("k_sku"), t.location_id == sa.bindparam("k_location")]
        available, on_hand_floor, reserved_floor, incoming_floor, compare = guards
        if available:
            conds.append((t.on_hand + d_on_hand) - (t.reserved + d_reserved) >= 0)
        if on_hand_floor:
            conds.append(t.on_hand + d_on_hand >= 0)
        if reserved_floor:
            conds.append(t.reserved + d_reserved >= 0)
        if incoming_floor:
            conds.append(t.incoming + d_incoming >= 0)
        if compare:
            conds.append(t.on_hand == sa.bindparam("expect"))
        _guarded_updates[guards] = (
            sa.update(t).where(*conds)
            .values(on_hand=t.on_hand + d_on_hand, reserved=t.reserved + d_reserved,
                    incoming=t.incoming + d_incoming, version=t.version + 1, updated_at=sa.bindparam("now"))
            .returning(t.on_hand, t.reserved))
    return _guarded_updates[guards]


def _apply(uow: UnitOfWork, changes: _Changes, sku: str, location_id: int, *, reason: str, on_hand: int = 0,
           reserved: int = 0, incoming: int = 0, reference: str | None = None, note: str | None = None,
           expect_on_hand: int | None = None) -> bool:
    """One guarded change of a stock row plus its ledger movement. False when the guard
    refused it (nothing written)."""
    guards = (bool(on_hand < 0 or reserved > 0 or (on_hand and reserved)), on_hand < 0, reserved < 0, incoming < 0,
              expect_on_hand is not None)
    params = {"k_sku": sku, "k_location": location_id, "d_on_hand": on_hand, "d_reserved": reserved,
              "d_incoming": incoming, "now": utcnow(), "expect": expect_on_hand}
    row = uow.session.connection().execute(_guarded_update(guards), params).first()
    if row is None:
        return False
    changes.movements.append({"sku": sku, "location_id": location_id, "reason": reason, "on_hand_delta": on_hand,
                              "reserved_delta": reserved, "incoming_delta": incoming, "reference": reference,
                              "note": note, "actor_user_id": uow.actor.user_id, "at": utcnow()})
    changes.record((sku, location_id), (row.on_hand - on_hand, row.reserved - reserved), (row.on_hand, row.reserved),
                   reason)
    return True


def _thresholds(uow: UnitOfWork, pairs: Iterable[tuple[str, int]], *,
                codes: dict[int, str] | None = None) -> dict[tuple[str, int], int]:
    """Effective low-stock threshold per (sku, location) in one query; fills `codes` with
    the location codes on the way (callers emitting events need both)."""
    pairs = list(pairs)
    if not pairs:
        return {}
    default = get_inventory_settings().default_low_stock_threshold
    rows = uow.session.execute(
        sa.select(StockLevel.sku, StockLevel.location_id, StockLevel.low_stock_threshold,
                  Location.low_stock_threshold.label("loc_threshold"), Location.code,
                  StockThreshold.low_stock.label("product_threshold"))
        .join(Location, Location.id == StockLevel.location_id)
        .outerjoin(StockThreshold, StockThreshold.sku == StockLevel.sku)
        .where(StockLevel.sku.in_({s for s, _ in pairs}), StockLevel.location_id.in_({loc for _, loc in pairs})))
    found = {}
    for r in rows:
        found[(r.sku, r.location_id)] = rules.effective_threshold(r.low_stock_threshold, r.loc_threshold,
                                                                  r.product_threshold, default)
        if codes is not None:
            codes[r.location_id] = r.code
    return {pair: found.get(pair, default) for pair in pairs}


def _emit_changes(uow: UnitOfWork, changes: _Changes, *,
                  known: tuple[dict[tuple[str, int], int], dict[int, str]] | None = None) -> None:
    """Write the ledger movements `_apply` collected, then emit `inventory.stock_changed`
    when the on-hand quantity changed, or when a hold or its release moved the availability
    status (in/low/out of stock). Holds that leave the status as it was are not broadcast:
    every checkout would otherwise wake every subscriber (search re-indexing, analytics) for
    nothing they show; exact quantities are in the API."""
    if changes.movements:
        uow.session.connection().execute(_INSERT_MOVEMENTS, changes.movements)
        changes.movements = []
    if not changes.rows:
        return
    if known is not None and all(k in known[0] for k in changes.rows):
        thresholds, codes = known
    else:
        codes = {}
        thresholds = _thresholds(uow, changes.rows.keys(), codes=codes)
    for (sku, loc_id), (oh0, res0, on_hand, reserved, reason) in sorted(changes.rows.items()):
        available = on_hand - reserved
        threshold = thresholds[(sku, loc_id)]
        status = rules.stock_status(available, threshold)
        if on_hand == oh0 and status == rules.stock_status(oh0 - res0, threshold):
            continue
        code = codes.get(loc_id, str(loc_id))
        uow.emit(ev.StockChanged(sku=sku, location=code, on_hand=on_hand, reserved=reserved, available=available,
                                 status=status, reason=reason))
    changes.rows.clear()


def _current(uow: UnitOfWork, sku: str, location_id: int) -> StockLevel | None:
    return uow.session.scalar(sa.select(StockLevel).where(StockLevel.sku == sku, StockLevel.location_id == location_id)
                              .execution_options(populate_existing=True))


def stock_row_out(row: StockLevel, code: str, threshold: int) -> dict[str, Any]:
    available = row.on_hand - row.reserved
    return {"sku": row.sku, "location": code, "on_hand": row.on_hand, "reserved": row.reserved,
            "available": available, "incoming": row.incoming, "status": rules.stock_status(available, threshold),
            "low_stock_threshold": threshold, "version": row.version}


# ---------------------------------------------------------------------------------------------
# Adjustments and transfers
# ---------------------------------------------------------------------------------------------


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


def transfer(uow: UnitOfWork, *, sku: str, from_location: str, to_location: str, quantity: int,
             in_transit: bool = False, note: str | None = None) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------
# Reads: stock, availability, ledger
# ---------------------------------------------------------------------------------------------


def stock_levels(uow: UnitOfWork, *, sku: str | None = None, location: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(StockLevel, Location.code).join(Location, Location.id == StockLevel.location_id)
    if sku:
        stmt = stmt.where(StockLevel.sku == sku)
    if location:
        stmt = stmt.where(Location.code == location)
    rows = uow.session.execute(stmt.order_by(StockLevel.sku, Location.code).limit(5000)).all()
    thresholds = _thresholds(uow, [(r.StockLevel.sku, r.StockLevel.location_id) for r in rows])
    return [stock_row_out(r.StockLevel, r.code, thresholds[(r.StockLevel.sku, r.StockLevel.location_id)])
            for r in rows]


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


# ---------------------------------------------------------------------------------------------
# Holds: allocate, release, consume, expire (called by orders and carts in their own UoW)
# ---------------------------------------------------------------------------------------------


_INSERT_MOVEMENTS = sa.insert(StockMovement.__table__)
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


def set_stock_levels(uow: UnitOfWork, rows: Sequence[dict[str, Any]], *, reason: str = "count",
                     note: str | None = None) -> list[Any]:
    """Counted stock for many (sku, location) rows in one transaction, each `{"sku",
    "location", "on_hand"}`: the same guarded change, ledger movement, audit entry and
    `inventory.stock_changed` event as `adjust(set_to=...)` per row, without a transaction
    per row (an ERP feed sends thousands). Returns, per row, "created", "updated" or
    "unchanged", or the Problem that refused it (unknown location, below what is reserved,
    changed meanwhile); refused rows change nothing. Does not commit."""
    if reason not in ADJUSTMENT_REASONS:
        raise ValidationProblem.for_field("reason", f"must be one of {', '.join(ADJUSTMENT_REASONS)}")
    results: list[Any] = [None] * len(rows)
    locations: dict[str, Any] = {}
    for code in {r["location"] for r in rows}:
        try:
            locations[code] = get_location_by_code(uow, code, field="location")
        except Problem as e:
            locations[code] = e
    todo = []
    for i, r in enumerate(rows):
        loc = locations[r["location"]]
        if isinstance(loc, Exception):
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


def ledger_totals(uow: UnitOfWork, sku: str, location_id: int) -> tuple[int, int]:
    """(on_hand, reserved) as the ledger sums them: must equal the stock row."""
    row = uow.session.execute(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.on_hand_delta), 0),
                                        sa.func.coalesce(sa.func.sum(StockMovement.reserved_delta), 0))
                              .where(StockMovement.sku == sku, StockMovement.location_id == location_id)).one()
    return int(row[0]), int(row[1])
