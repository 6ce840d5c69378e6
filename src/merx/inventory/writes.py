"""Low-level stock writes (guarded UPDATEs + ledger) that every inventory use case goes through,
the SQLite writer queue and the insufficient-stock refusal.

Concurrency rules (the reason this module looks the way it does):
- Stock rows change only through conditional UPDATEs whose WHERE clause re-checks the
  invariant (`on_hand - reserved >= q`...), and the rowcount is checked. Nothing is read,
  decided in Python and written back without that guard.
- On PostgreSQL the rows an operation touches are first locked with SELECT ... FOR UPDATE
  in one global order (sku, location_id), then reservation rows; every code path follows
  that order, so concurrent checkouts queue instead of deadlocking. On SQLite the write
  unit of work begins IMMEDIATE, so writers are serialised anyway.
- CHECK constraints on the table refuse any negative or over-reserved row at commit.
- Every change writes a ledger movement in the same transaction; the ledger sums to the row."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError
from merx.core.uow import UnitOfWork
from merx.inventory import events as ev
from merx.inventory import rules
from merx.inventory.models import Location, Reservation, StockLevel, StockMovement, StockThreshold
from merx.inventory.settings import get_inventory_settings

_INSERT_MOVEMENTS = sa.insert(StockMovement.__table__)

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


def _insert_ignore(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    # in the global lock order (sku, location): two writers creating the same rows in opposite
    # orders (a transfer A->B and one B->A of a new SKU) would otherwise deadlock on the key
    values = [{"on_hand": 0, "reserved": 0, "incoming": 0, "version": 1, "updated_at": now, **r}
              for r in sorted(rows, key=lambda r: (r["sku"], r["location_id"]))]
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
