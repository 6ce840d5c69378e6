"""Keeps the index current from other contexts' events.

Handlers run in the committing thread (subscribed `eager`: even under `merx serve`'s
background event handling they run at commit, not after the bus's batch window), often
inside another context's critical section (a checkout holding inventory's writer queue). So
they only note what changed in memory and return; a background flush shortly after (`FLUSH_DELAY_SECONDS`) writes everything noted
in ONE transaction of search's own tables (index queue, stock, price history, sales
counters) and re-indexes the affected products in one index commit. A burst of events (a
bulk import emits one per product, a busy checkout one per line) becomes one write. A
search flushes first, so it always sees every change committed in its process; other
worker processes see it after their own flush, well within a second.

Purchases are different: they change a product's sales counters (stored at once) but not
what a shopper sees, and a busy shop sells the same products many times a second. Writing
their documents again on every flush cost more than the checkout itself, so products whose
only change is a sale are re-indexed at most every `MERX_SEARCH_SIGNAL_REINDEX_SECONDS`
(default 30 s): sales rank products with that much delay.

What is noted but not yet flushed is lost if the process dies in that fraction of a second;
`merx search reindex` rebuilds everything the catalog knows.

Why these stay in-process handlers, not durable subscribers (core/subscribers.py): the index
is a tantivy directory local to each process's MERX_DATA_DIR, and every serving process must
update its own. A durable subscriber has ONE cursor in the shared database: whichever process
ran it would update its own index and advance the cursor for all, leaving the other replicas'
indexes stale. A cursor per replica (and per-replica catch-up at start) is its own issue."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from merx.catalog.events import BrandUpdated, ProductArchived, ProductCreated, ProductDeleted, ProductPriceChanged, ProductUpdated
from merx.core.db import Database
from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.inventory.events import StockChanged
from merx.marketplace.events import SellerUpdated
from merx.orders.events import OrderPlaced
from merx.search import models as m
from merx.search import service
from merx.support.events import ProductRatingChanged

log = logging.getLogger("merx.search")

PRODUCT_EVENTS = (ProductCreated, ProductUpdated, ProductPriceChanged, ProductArchived, ProductDeleted)
FLUSH_DELAY_SECONDS = 0.1  # a burst of events within it becomes one index commit


@dataclass
class _Noted:
    products: set[int] = field(default_factory=set)
    prices: list[tuple[int, str, str, Decimal | None, Decimal | None, dt.datetime]] = field(default_factory=list)
    stock: dict[tuple[str, str], tuple[int, dt.datetime]] = field(default_factory=dict)
    purchases: list[tuple[int, float, dt.datetime]] = field(default_factory=list)
    sellers: set[int] = field(default_factory=set)  # whose products to re-rank (rating, violations, premium)

    def empty(self) -> bool:
        return not (self.products or self.prices or self.stock or self.purchases or self.sellers)


_noted: dict[str, tuple[Database, _Noted]] = {}
_timers: dict[str, threading.Timer] = {}
# products whose only change is a sale, waiting for the next signal re-index (per database)
_signal_dirty: dict[str, set[int]] = {}
_signal_due: dict[str, float] = {}
_signal_timers: dict[str, threading.Timer] = {}
_lock = threading.Lock()
_flush_lock = threading.Lock()


def _note(db: Database) -> _Noted:
    entry = _noted.get(db.url)
    if entry is None or entry[0] is not db:
        entry = (db, _Noted())
        _noted[db.url] = entry
    return entry[1]


def _schedule(db: Database) -> None:
    if db.url in _timers:
        return
    timer = threading.Timer(FLUSH_DELAY_SECONDS, _flush_in_background, args=(db,))
    timer.daemon = True
    _timers[db.url] = timer
    timer.start()


def _schedule_signals(db: Database, delay: float) -> None:
    if db.url in _signal_timers:
        return
    timer = threading.Timer(max(delay, 0.0), _signal_timer_fired, args=(db,))
    timer.daemon = True
    _signal_timers[db.url] = timer
    timer.start()


def _signal_timer_fired(db: Database) -> None:
    with _lock:
        _signal_timers.pop(db.url, None)
    _flush_in_background(db)


def _signals_due(url: str) -> bool:
    return bool(_signal_dirty.get(url)) and time.monotonic() >= _signal_due.get(url, 0.0)


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def on_product_changed(event: DomainEvent, db: Database) -> None:
    try:
        product_id = int(event.payload.get("product_id") or event.aggregate_id)
    except (TypeError, ValueError):
        return
    with _lock:
        noted = _note(db)
        noted.products.add(product_id)
        if event.type == "product.price_changed":
            noted.prices.append((product_id, str(event.payload.get("sku", ""))[:100],
                                 str(event.payload.get("currency", ""))[:3], _amount(event.payload.get("old_amount")),
                                 _amount(event.payload.get("new_amount")), event.occurred_at))
        _schedule(db)


def on_stock_changed(event: DomainEvent, db: Database) -> None:
    sku, location = event.payload.get("sku"), event.payload.get("location")
    if not sku or not location:
        return
    try:
        available = int(event.payload.get("available") or 0)
    except (TypeError, ValueError):
        return
    with _lock:
        _note(db).stock[(str(sku)[:100], str(location)[:64])] = (available, event.occurred_at)
        _schedule(db)


def on_order_placed(event: DomainEvent, db: Database) -> None:
    """Purchases feed the sales group of stage 3 (time-decayed units per product)."""
    bought: list[tuple[int, float, dt.datetime]] = []
    for line in event.payload.get("lines") or []:
        try:
            bought.append((int(line["product_id"]), float(line.get("quantity") or 1), event.occurred_at))
        except (KeyError, TypeError, ValueError):
            continue
    if bought:
        with _lock:
            _note(db).purchases.extend(bought)
            _schedule(db)


def on_brand_updated(event: DomainEvent, db: Database) -> None:
    """A renamed brand or new aliases change its products' documents: re-index them."""
    data = event.data
    assert isinstance(data, BrandUpdated)
    if data.product_ids:
        with _lock:
            _note(db).products.update(data.product_ids)
            _schedule(db)


def on_seller_updated(event: DomainEvent, db: Database) -> None:
    """A seller's rating, violations or premium flag feed its products' boosts: re-index them."""
    try:
        seller_id = int(event.payload["seller_id"])
    except (KeyError, TypeError, ValueError):
        return
    with _lock:
        _note(db).sellers.add(seller_id)
        _schedule(db)


def flush(db: Database) -> None:
    """Write what the handlers noted for `db` in one transaction and queue the products."""
    with _flush_lock:
        with _lock:
            entry = _noted.get(db.url)
            noted = entry[1] if entry is not None else _Noted()
            if noted.empty() and not _signals_due(db.url):
                return
            _noted[db.url] = (db, _Noted())
        with UnitOfWork(db) as uow:
            _write(uow, noted)
            uow.commit()


def _write(uow: UnitOfWork, noted: _Noted) -> None:
    products = set(noted.products)
    for product_id, sku, currency, old, new, at in noted.prices:
        known = uow.session.scalar(sa.select(m.PricePoint.id).where(
            m.PricePoint.product_id == product_id, m.PricePoint.sku == sku,
            m.PricePoint.currency == currency).limit(1))
        if known is None and old is not None:
            # The first change search sees: the old price is taken to have held for the
            # whole 30-day window (search was not told when it was set).
            uow.session.add(m.PricePoint(product_id=product_id, sku=sku, currency=currency, amount=old,
                                         at=at - service.PRICE_WINDOW))
        uow.session.add(m.PricePoint(product_id=product_id, sku=sku, currency=currency, amount=new, at=at))
        uow.session.flush()
    if noted.stock:
        unknown = [sku for (sku, loc) in noted.stock if uow.session.get(m.StockPoint, (sku, loc)) is None]
        product_of: dict[str, int] = {}
        if unknown:
            try:
                from merx.catalog.public import lookup_skus

                product_of = {k: v.product_id for k, v in lookup_skus(uow, set(unknown)).items()}
            except ImportError:  # no catalog: stock is kept, its product learnt later
                product_of = {}
        for (sku, location), (available, at) in noted.stock.items():
            row = uow.session.get(m.StockPoint, (sku, location))
            if row is None:
                row = m.StockPoint(sku=sku, location=location, product_id=product_of.get(sku))
                uow.session.add(row)
            row.available, row.updated_at = available, at
            if row.product_id is not None:
                products.add(row.product_id)
    # one signal update per product, however many orders bought it since the last flush
    bought: dict[int, tuple[float, dt.datetime]] = {}
    for product_id, quantity, at in noted.purchases:
        total, latest = bought.get(product_id, (0.0, at))
        bought[product_id] = (total + quantity, max(latest, at))
    # the signal rows in one query, held here (the session's identity map only keeps weak
    # references) so bump_signal finds them without a query; one flush writes them all
    _held = list(uow.session.scalars(
        sa.select(m.ProductSignal).where(m.ProductSignal.product_id.in_(sorted(bought))))) if bought else []
    for product_id, (quantity, at) in sorted(bought.items()):
        service.bump_signal(uow, product_id, "purchases", quantity, now=at, queue=False, flush=False)
    uow.session.flush()
    products |= _signal_products_due(uow.db, set(bought))
    if noted.sellers:
        from merx.catalog.public import list_products_stmt

        for seller_id in sorted(noted.sellers):
            owned = list_products_stmt(uow, seller_id=seller_id).subquery()
            products.update(uow.session.scalars(sa.select(owned.c.id)))
    service.queue_products(uow, products)


def _signal_products_due(db: Database, sold: set[int]) -> set[int]:
    """The sold products to re-index now: all of them once the signal interval has passed
    (the rest wait, and a timer makes sure they are not forgotten)."""
    from merx.search.settings import get_search_settings

    interval = get_search_settings().signal_reindex_seconds
    with _lock:
        dirty = _signal_dirty.setdefault(db.url, set())
        dirty |= sold
        now = time.monotonic()
        if not dirty:
            return set()
        if interval <= 0 or now >= _signal_due.get(db.url, 0.0):
            due, _signal_dirty[db.url] = set(dirty), set()
            _signal_due[db.url] = now + interval
            return due
        _schedule_signals(db, _signal_due[db.url] - now)
        return set()


def _flush_in_background(db: Database) -> None:
    with _lock:
        _timers.pop(db.url, None)
    try:
        flush(db)
        while service.index_pending(db):
            pass
    except Exception:  # logged; a search or the next event retries what is queued
        log.exception("search indexing failed; the change stays queued")


def discard_noted() -> None:
    """Forget unflushed notes and pending timers, after any flush or re-index already
    running has finished (tests start from empty tables)."""
    with _flush_lock, _lock:
        for timer in [*_timers.values(), *_signal_timers.values()]:
            timer.cancel()
        _timers.clear()
        _signal_timers.clear()
        _noted.clear()
        _signal_dirty.clear()
        _signal_due.clear()
    if service._DRAIN_LOCK.acquire(timeout=30):
        service._DRAIN_LOCK.release()


def on_rating_changed(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Support's review ratings become the product's rating features (stage 3 rating group,
    the low-rating deboost). A durable subscriber: the rating is a row in search's tables,
    shared by every process, so none may be missed; the product is queued for re-indexing."""
    latest: dict[int, ProductRatingChanged] = {}
    for event in events:
        data = event.data
        assert isinstance(data, ProductRatingChanged)
        latest[data.product_id] = data
    for product_id, data in sorted(latest.items()):
        service.set_product_rating(uow, product_id, data.average, data.count)


def register(bus: MessageBus) -> None:
    # Eager: these handlers only note ids in memory, so they run at commit time even under
    # `merx serve`'s background event handling; the product is searchable as soon as the next
    # search (or the flush FLUSH_DELAY_SECONDS later) indexes it, without the bus's batch window.
    for event_class in PRODUCT_EVENTS:
        bus.subscribe(event_class, on_product_changed, eager=True)
    bus.subscribe(StockChanged, on_stock_changed, eager=True)
    bus.subscribe(OrderPlaced, on_order_placed, eager=True)
    bus.subscribe(SellerUpdated, on_seller_updated, eager=True)
    bus.subscribe(BrandUpdated, on_brand_updated, eager=True)
    bus.subscribe(ProductRatingChanged, on_rating_changed, batch=True, durable="search.ratings")
