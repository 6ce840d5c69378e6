"""Each replica's own index, fed from the outbox: the index follower.

Replicas share the database and nothing else. The tantivy index (and the semantic vector
file) live in each replica's MERX_DATA_DIR, so every replica must apply every change to its
own copy. The follower is a durable subscriber whose cursor is named by the replica
(`search.index@<replica id>`, core/replica.py), run by that replica's own processes only:
it is not registered on the process-wide bus, so `merx worker` never runs it and no other
replica can advance it.

* Order. It never reads past an event that `search.signals` or `search.ratings`
  (search/handlers.py), the shared subscribers that write search's rows in the database
  (stock, price history, sales counters, ratings), have yet to apply: when it re-indexes a
  product for event N, those rows already hold what event N changed. Events they do not
  take (a rename) do not wait for them. When one is pending, its pass runs those two first
  (one runner per subscriber across processes: the cursor row is locked), so a replica never
  waits on a worker's poll; when another process holds them, it tries again 10 ms later.
  One outbox horizon (core/outbox.py) serves the whole pass.
* At least once. The handler re-indexes the products the events touch (an idempotent
  upsert), then the cursor advances; a crash in between re-indexes them again.
* Start. A replica whose data dir holds no index for this cursor and database (new, wiped,
  pointed at another database, or whose cursor row is gone) records the position it starts
  from (the outbox head, as far as the shared subscribers have applied it), builds its index
  from the catalog, sets its cursor there and catches up from it. A replica that was down
  keeps its marker and cursor and catches up on start.
* Freshness. `merx serve` runs it on a thread woken by its own process's commits and, on
  PostgreSQL, by every other process's (NOTIFY on commit, core/outbox.py OutboxListener);
  it also polls every `MERX_SEARCH_FOLLOW_POLL_SECONDS` (0.1 s). A pass is one index commit
  (products whose only change was a sale join it once per signal interval); its own cursor
  commits without waiting for the WAL flush. MERX_SEARCH_FOLLOW_TIMINGS logs each pass's
  phases. A search does not wait for it (waiting
  for a pass cost seconds per search under load); MERX_SEARCH_OWN_WRITES_WAIT_SECONDS > 0 makes
  it wait that long at most for this process's own commits. Inline (tests, CLI) a search
  catches it up in the searching thread.
* Gone replicas. A cursor of a replica that no longer runs blocks nothing (nothing waits
  for it; the outbox is not kept for it): `merx search replicas` lists the cursors with their
  lag, `merx search forget-replica ID` deletes one."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from merx.catalog.events import (BrandUpdated, ProductArchived, ProductCreated, ProductDeleted, ProductPriceChanged,
                                 ProductUpdated)
from merx.core.db import Database, utcnow
from merx.core.events import DomainEvent, MessageBus, bus as default_bus
from merx.core.models import OutboxEvent, SubscriberCursor
from merx.core.outbox import OutboxListener, settled_horizon
from merx.core.replica import replica_id
from merx.core.subscribers import SubscriberRunner, event_type_filter
from merx.core.timings import phase, recording
from merx.core.uow import UnitOfWork
from merx.inventory.events import StockChanged
from merx.marketplace.events import SellerUpdated
from merx.orders.events import OrderPlaced
from merx.search import models as m
from merx.search import service
from merx.support.events import ProductRatingChanged

log = logging.getLogger("merx.search.replica")
# MERX_SEARCH_FOLLOW_TIMINGS: one INFO line per pass, whatever MERX_LOG_LEVEL says (IndexFollower)
timings_log = logging.getLogger("merx.search.replica.timings")

FOLLOWED = (ProductCreated, ProductUpdated, ProductPriceChanged, ProductArchived, ProductDeleted, StockChanged,
            OrderPlaced, SellerUpdated, ProductRatingChanged, BrandUpdated)
UPSTREAM = ("search.signals", "search.ratings")
CURSOR_PREFIX = "search.index@"
MARKER = "replica.json"
# A pass the shared subscribers held back (another process was applying their events) is
# tried again this soon, not a poll interval later; up to this many times in a row (one of
# them failing and waiting for its retry must not make the follower spin).
BEHIND_RETRY_SECONDS = 0.01
BEHIND_RETRIES = 20


def cursor_name(replica: str) -> str:
    return f"{CURSOR_PREFIX}{replica}"


def _database_identity(db: Database) -> str:
    return sa.engine.make_url(db.url).render_as_string(hide_password=True)


def _set_cursor(db: Database, name: str, seq: int) -> None:
    with UnitOfWork(db) as uow:
        row = uow.session.get(SubscriberCursor, name)
        if row is None:
            uow.session.add(SubscriberCursor(name=name, last_seq=seq, attempts=0, updated_at=utcnow()))
        else:
            row.last_seq, row.attempts, row.retry_at, row.last_error, row.updated_at = seq, 0, None, None, utcnow()
        uow.commit()


class IndexFollower:
    """One replica's index follower for one database and data dir (one per process)."""

    def __init__(self, db: Database, data_dir: Path, replica: str, bus: MessageBus | None = None) -> None:
        self.db, self.data_dir, self.replica = db, Path(data_dir), replica
        self.name = cursor_name(replica)
        self.bus = bus or default_bus
        self._own_bus = MessageBus()  # private: the worker and other replicas never run it
        handler = self._apply  # one bound method: the bus checks a name keeps one handler
        for event_class in FOLLOWED:
            self._own_bus.subscribe(event_class, handler, batch=True, durable=self.name)
        self._runner = SubscriberRunner(db, self._own_bus)
        self._upstream = SubscriberRunner(db, self.bus)
        self._pass_lock = threading.Lock()
        self._cond = threading.Condition()
        self._generation = 0  # this process's commits the follower was told of
        self._applied = 0  # ... and how many of them a finished pass covers
        self._sold: set[int] = set()
        self._sold_due = 0.0
        self._behind = False  # the last pass stopped short of the horizon (see _pass)
        # MERX_SEARCH_FOLLOW_TIMINGS: what the passes' phases took (see _log_timings)
        self._upstream_seconds: dict[str, float] = {}
        self._batch_oldest: dt.datetime | None = None
        self._batch_newest: dt.datetime | None = None
        self._ready = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listener = OutboxListener(db, self._wake.set)

    # -- position ----------------------------------------------------------------------------
    def _upstream_names(self) -> list[str]:
        return [s.name for s in self.bus.durable_subscribers() if s.name in UPSTREAM]

    def ceiling(self) -> int:
        """How far the follower may read: up to the first event one of the shared subscribers
        has yet to apply. Events they do not take (a rename, say) are no reason to wait: their
        cursors advance past those only on their next run, which another process may be in
        the middle of. The caller bounds it by the outbox horizon (nothing unseen below it)."""
        subs = [s for s in self.bus.durable_subscribers() if s.name in UPSTREAM]
        if not subs:
            return 1 << 62
        limit = 1 << 62
        with self.db.read_sessions() as s:
            seqs = dict(s.execute(sa.select(SubscriberCursor.name, SubscriberCursor.last_seq)
                                  .where(SubscriberCursor.name.in_([sub.name for sub in subs]))).all())
            for sub in subs:
                applied = int(seqs.get(sub.name, 0))
                pending = s.scalar(sa.select(OutboxEvent.seq).where(OutboxEvent.seq > applied,
                                                                    event_type_filter(sub.patterns))
                                   .order_by(OutboxEvent.seq).limit(1))
                if pending is not None:
                    limit = min(limit, int(pending) - 1)
        return limit

    @property
    def marker_path(self) -> Path:
        return service.search_dir(self.data_dir) / MARKER

    def _marker_matches(self) -> bool:
        try:
            info = json.loads(self.marker_path.read_text())
        except (FileNotFoundError, ValueError):
            return False
        if info.get("cursor") != self.name or info.get("database") != _database_identity(self.db):
            return False
        with self.db.read_sessions() as s:
            return s.get(SubscriberCursor, self.name) is not None

    # -- start ---------------------------------------------------------------------------------
    def rebuild(self, **kwargs: Any) -> dict[str, Any]:
        """Build this replica's index from the catalog and start its cursor where the build
        started: events after it are applied again on top (idempotent)."""
        with self._pass_lock:
            return self._rebuild(**kwargs)

    def _rebuild(self, **kwargs: Any) -> dict[str, Any]:
        self._run_upstream()
        head = min(settled_horizon(self.db, self._runner.settings.outbox_gap_timeout_seconds), self.ceiling())
        result = service.rebuild_index(self.db, self.data_dir, **kwargs)
        _set_cursor(self.db, self.name, head)
        self.marker_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.marker_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"replica": self.replica, "cursor": self.name, "database": _database_identity(self.db),
                                   "started_at_seq": head, "built_at": utcnow().isoformat()}))
        tmp.replace(self.marker_path)
        from merx.search.settings import get_search_settings

        self._sold.clear()  # the build read every sale: the next sold-only re-index is an interval away
        self._sold_due = time.monotonic() + get_search_settings().signal_reindex_seconds
        self._ready = True
        log.info("search index of replica %s built from the catalog; following the outbox from seq %d",
                 self.replica, head)
        return result

    def _ensure_ready(self) -> None:
        if self._ready and self.marker_path.exists():
            return
        if self._marker_matches():
            self._ready = True
            return
        self._rebuild(reconcile_stock=False)

    # -- passes ---------------------------------------------------------------------------------
    def _run_upstream(self, horizon: int | None = None) -> None:
        names = self._upstream_names()
        if names:
            self._upstream.catch_up(names, horizon=horizon)

    def run_pass(self) -> int:
        """Apply what the outbox holds beyond this replica's cursor; returns events handled."""
        from merx.search.settings import get_search_settings

        if not get_search_settings().follow_timings:
            return self._pass()
        started = time.perf_counter()
        with recording() as seconds:
            n = self._pass()
        if n:
            self._log_timings(n, time.perf_counter() - started, seconds)
        return n

    def _pass(self) -> int:
        with phase("pass_lock"):
            self._pass_lock.acquire()
        try:
            generation = self._generation
            with phase("ensure_ready"):
                self._ensure_ready()
            # One horizon for the whole pass (the shared subscribers', then this replica's):
            # computing it takes a lock every runner of every replica contends for.
            with phase("horizon"):
                horizon = settled_horizon(self.db, self._runner.settings.outbox_gap_timeout_seconds)
            with phase("ceiling"):
                limit = min(horizon, self.ceiling())
            self._upstream_seconds = {}
            if limit < horizon:  # the shared subscribers have events of theirs to apply first
                with phase("upstream"), recording() as upstream:  # their own phases kept apart
                    self._run_upstream(horizon)
                self._upstream_seconds = upstream
                with phase("ceiling"):
                    limit = min(horizon, self.ceiling())
            # still short: another process is applying them right now; the thread comes back
            # at once rather than after a poll interval
            self._behind = limit < horizon
            n = self._runner.catch_up([self.name], horizon=limit)
            with phase("index_sold"):
                self._index_sold(force=False)
        finally:
            self._pass_lock.release()
        with self._cond:
            self._applied = max(self._applied, generation)
            self._cond.notify_all()
        return n

    def _log_timings(self, events: int, total: float, seconds: dict[str, float]) -> None:
        """One line per pass that applied events: milliseconds per phase, and how old the
        oldest and newest event it applied were when it finished (commit-to-indexed)."""
        now = utcnow()

        def age(at: dt.datetime | None) -> float | None:
            if at is None:
                return None
            at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
            return round((now - at).total_seconds() * 1000, 1)

        ms = {k: round(v * 1000, 1) for k, v in seconds.items()}
        ms.update({f"upstream.{k}": round(v * 1000, 1) for k, v in self._upstream_seconds.items()})
        timings_log.info("follower pass %s", json.dumps({
            "replica": self.replica, "events": events, "total_ms": round(total * 1000, 1),
            "oldest_event_age_ms": age(self._batch_oldest), "newest_event_age_ms": age(self._batch_newest),
            "phases_ms": ms}, sort_keys=True))
        self._batch_oldest = self._batch_newest = None

    def _apply(self, events: list[DomainEvent], uow: UnitOfWork) -> None:
        from merx.search.handlers import noted_from
        from merx.search.settings import get_search_settings

        stamps = [e.occurred_at for e in events if e.occurred_at is not None]
        if stamps:
            self._batch_oldest = min([*stamps, *([self._batch_oldest] if self._batch_oldest else [])])
            self._batch_newest = max([*stamps, *([self._batch_newest] if self._batch_newest else [])])

        if uow.dialect == "postgresql":
            # This transaction writes nothing but this replica's own cursor: should a database
            # crash lose its last advance, the events are applied again (an idempotent upsert).
            # So it need not wait for the WAL flush at its commit.
            uow.session.execute(sa.text("SET LOCAL synchronous_commit = off"))
        noted = noted_from(events)
        products = set(noted.products)
        if noted.stock:
            skus = {sku for sku, _ in noted.stock}
            known = dict(uow.session.execute(sa.select(m.StockPoint.sku, m.StockPoint.product_id)
                                             .where(m.StockPoint.sku.in_(sorted(skus)))).all())
            products.update(pid for pid in known.values() if pid is not None)
            missing = skus - {s for s, pid in known.items() if pid is not None}
            if missing:
                from merx.catalog.public import lookup_skus

                products.update(v.product_id for v in lookup_skus(uow, missing).values())
        if noted.sellers:
            from merx.catalog.public import list_products_stmt

            for seller_id in sorted(noted.sellers):
                owned = list_products_stmt(uow, seller_id=seller_id).subquery()
                products.update(uow.session.scalars(sa.select(owned.c.id)))
        sold_only = noted.sold - products
        if sold_only:
            if get_search_settings().signal_reindex_seconds <= 0:
                products |= sold_only
            else:
                self._sold |= sold_only
        self._sold -= products
        due = set(self._sold) if self._sold and time.monotonic() >= self._sold_due else set()
        # sold-only products that are due ride along in this batch's index commit (one commit,
        # not a second one after it: a commit is the costliest step of a pass)
        service.index_products(uow, self.data_dir, products | due)
        if due:
            self._sold -= due
            self._sold_due = time.monotonic() + get_search_settings().signal_reindex_seconds

    def _index_sold(self, *, force: bool) -> None:
        """Products whose only change was a sale: re-indexed once per signal interval."""
        from merx.search.settings import get_search_settings

        if not self._sold or (not force and time.monotonic() < self._sold_due):
            return
        sold, self._sold = set(self._sold), set()
        self._sold_due = time.monotonic() + get_search_settings().signal_reindex_seconds
        with UnitOfWork(self.db, readonly=True) as uow:
            service.index_products(uow, self.data_dir, sold)

    # -- this process's commits ------------------------------------------------------------------
    def note_local(self) -> None:
        with self._cond:
            self._generation += 1
        self._wake.set()

    def wait_local(self, timeout: float) -> bool:
        """Wait until a pass has covered every commit of this process noted so far."""
        with self._cond:
            target = self._generation
            if self._applied >= target:
                return True
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: self._applied >= target, timeout)

    # -- the thread of `merx serve` -----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        from merx.search.settings import get_search_settings

        if self.running:
            return
        if get_search_settings().follow_timings:
            timings_log.setLevel(logging.INFO)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="merx-search-follower", daemon=True)
        self._thread.start()
        self._listener.start()  # PostgreSQL: other replicas' commits wake it, no poll delay

    def stop(self, timeout: float = 30.0) -> None:
        self._listener.stop()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        from merx.search.settings import get_search_settings

        poll = get_search_settings().follow_poll_seconds
        behind_streak = 0
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception:  # the database restarting, say: the next pass tries again
                log.exception("search index follower pass failed (replica %s)", self.replica)
                self._stop.wait(1.0)
            behind_streak = behind_streak + 1 if self._behind else 0
            self._wake.wait(BEHIND_RETRY_SECONDS if 0 < behind_streak <= BEHIND_RETRIES else poll)
            self._wake.clear()


# -- one follower per (database, data dir) in this process ------------------------------------------
_FOLLOWERS: dict[tuple[str, str], IndexFollower] = {}
_FOLLOWERS_LOCK = threading.Lock()


def _replica_of(data_dir: Path) -> str:
    from merx.core.settings import get_settings

    return replica_id(Path(data_dir), get_settings().replica_id)


def follower_for(db: Database, data_dir: Path) -> IndexFollower:
    key = (db.url, str(Path(data_dir).resolve()))
    with _FOLLOWERS_LOCK:
        f = _FOLLOWERS.get(key)
        if f is None or f.db is not db:
            if f is not None:
                f.stop()
            f = IndexFollower(db, data_dir, _replica_of(data_dir))
            _FOLLOWERS[key] = f
        return f


def ensure_current(db: Database, data_dir: Path) -> None:
    """Before a search: this process's changes are in the index."""
    f = follower_for(db, data_dir)
    if f.running:
        from merx.search.settings import get_search_settings

        wait = get_search_settings().own_writes_wait_seconds
        if wait > 0 and not f.wait_local(timeout=wait):
            log.info("search index follower is behind this process's commits; searching anyway")
    else:
        f.run_pass()


def note_local_change(event: DomainEvent, db: Any) -> None:
    """Eager bus handler: this process committed a change its followers must apply."""
    if db is None:
        return
    for (url, _), f in list(_FOLLOWERS.items()):
        if url == getattr(db, "url", None):
            f.note_local()


def rebuild_index(db: Database, data_dir: Path, **kwargs: Any) -> dict[str, Any]:
    """`merx search reindex`, the demo: this replica's index from the catalog, and its cursor
    set to where the build started."""
    return follower_for(db, data_dir).rebuild(**kwargs)


def forget_followers() -> None:
    """Stop and drop this process's followers (tests start from empty tables)."""
    with _FOLLOWERS_LOCK:
        followers = list(_FOLLOWERS.values())
        _FOLLOWERS.clear()
    for f in followers:
        f.stop()
        with f._pass_lock:  # a pass in progress finishes first
            pass


# -- operators: the cursors of every replica ------------------------------------------------------
def replica_cursors(db: Database) -> list[dict[str, Any]]:
    """Every replica's index cursor: position, lag behind the outbox, last move."""
    from merx.core.outbox import max_outbox_seq

    with db.read_sessions() as s:
        newest = max_outbox_seq(s)
        rows = s.scalars(sa.select(SubscriberCursor).where(SubscriberCursor.name.like(CURSOR_PREFIX + "%"))
                         .order_by(SubscriberCursor.name)).all()
        return [{"replica": r.name[len(CURSOR_PREFIX):], "cursor": r.name, "last_seq": r.last_seq,
                 "lag": max(0, newest - r.last_seq), "updated_at": r.updated_at, "last_error": r.last_error}
                for r in rows]


def forget_replica(db: Database, replica: str) -> bool:
    """Delete a gone replica's cursor (a replica started again with that id rebuilds)."""
    with UnitOfWork(db) as uow:
        row = uow.session.get(SubscriberCursor, cursor_name(replica))
        if row is None:
            return False
        uow.session.delete(row)
        uow.audit("search.replica_forgotten", "subscriber", cursor_name(replica), before={"last_seq": row.last_seq})
        uow.commit()
        return True
