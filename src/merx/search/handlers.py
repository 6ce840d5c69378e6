"""Search's reactions to other contexts' events: two kinds, because replicas share the
database but not their disks.

* `search.signals`, a durable subscriber with ONE cursor for the shop (core/subscribers.py):
  writes what search keeps in the shared database (search_stock, price history, sales
  counters) once per event, in commit order, in the same transaction as its cursor. Whichever
  process runs it (`merx worker`, `merx serve`'s embedded runner, a replica's index follower)
  applies each event exactly once. `search.ratings` does the same for review ratings.
* `search.index@<replica>`, one per replica (search/replica.py): every `merx serve` replica
  re-indexes the products those events touch into its own tantivy directory, following the
  outbox with its own cursor and never running ahead of `search.signals`/`search.ratings`
  (so it reads their rows as they stood after the event).

Purchases change a product's sales counters (stored at once) but not what a shopper sees, and
a busy shop sells the same products many times a second. Writing their documents again on
every pass cost more than the checkout itself, so products whose only change is a sale are
re-indexed at most every `MERX_SEARCH_SIGNAL_REINDEX_SECONDS` (default 30 s) by each replica."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from merx.catalog.events import BrandUpdated, ProductArchived, ProductCreated, ProductDeleted, ProductPriceChanged, ProductUpdated
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
SIGNALS = "search.signals"
RATINGS = "search.ratings"


@dataclass
class _Noted:
    products: set[int] = field(default_factory=set)
    prices: list[tuple[int, str, str, Decimal | None, Decimal | None, dt.datetime]] = field(default_factory=list)
    stock: dict[tuple[str, str], tuple[int, dt.datetime]] = field(default_factory=dict)
    purchases: list[tuple[int, float, dt.datetime]] = field(default_factory=list)
    sellers: set[int] = field(default_factory=set)  # whose products to re-rank (rating, violations, premium)
    sold: set[int] = field(default_factory=set)  # products whose change may be a sale only

    def empty(self) -> bool:
        return not (self.products or self.prices or self.stock or self.purchases or self.sellers)


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def note_event(event: DomainEvent, noted: _Noted) -> None:
    """What one event changes for search, added to `noted`."""
    payload = event.payload or {}
    if event.type.startswith("product.") and event.type != "product.rating_changed":
        try:
            product_id = int(payload.get("product_id") or event.aggregate_id)
        except (TypeError, ValueError):
            return
        noted.products.add(product_id)
        if event.type == "product.price_changed":
            noted.prices.append((product_id, str(payload.get("sku", ""))[:100], str(payload.get("currency", ""))[:3],
                                 _amount(payload.get("old_amount")), _amount(payload.get("new_amount")),
                                 event.occurred_at))
    elif event.type == StockChanged.event_type:
        sku, location = payload.get("sku"), payload.get("location")
        if not sku or not location:
            return
        try:
            available = int(payload.get("available") or 0)
        except (TypeError, ValueError):
            return
        noted.stock[(str(sku)[:100], str(location)[:64])] = (available, event.occurred_at)
    elif event.type == OrderPlaced.event_type:
        # purchases feed the sales group of stage 3 (time-decayed units per product)
        for line in payload.get("lines") or []:
            try:
                noted.purchases.append((int(line["product_id"]), float(line.get("quantity") or 1), event.occurred_at))
                noted.sold.add(int(line["product_id"]))
            except (KeyError, TypeError, ValueError):
                continue
    elif event.type == SellerUpdated.event_type:
        # a seller's rating, violations or premium flag feed its products' boosts
        try:
            noted.sellers.add(int(payload["seller_id"]))
        except (KeyError, TypeError, ValueError):
            return
    elif event.type == BrandUpdated.event_type:
        # a renamed brand or new aliases change its products' documents
        noted.products.update(int(p) for p in payload.get("product_ids") or [])
    elif event.type == ProductRatingChanged.event_type:
        try:
            noted.products.add(int(payload["product_id"]))
        except (KeyError, TypeError, ValueError):
            return


def noted_from(events: list[DomainEvent]) -> _Noted:
    noted = _Noted()
    for event in events:
        note_event(event, noted)
    return noted


def on_signal_events(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Durable subscriber `search.signals`: search's shared rows (price history, stock,
    sales counters), once per event for the whole shop."""
    _write(uow, noted_from(events))


def _write(uow: UnitOfWork, noted: _Noted) -> None:
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
    # one signal update per product, however many orders bought it in this batch
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


def discard_noted() -> None:
    """Forget what this process's index followers hold in memory (tests start from empty
    tables), after any pass already running has finished."""
    from merx.search.replica import forget_followers

    forget_followers()


def on_rating_changed(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Support's review ratings become the product's rating features (stage 3 rating group,
    the low-rating deboost). A durable subscriber: the rating is a row in search's tables,
    shared by every process, so none may be missed; each replica's index follower re-indexes
    the product after it."""
    latest: dict[int, ProductRatingChanged] = {}
    for event in events:
        data = event.data
        assert isinstance(data, ProductRatingChanged)
        latest[data.product_id] = data
    for product_id, data in sorted(latest.items()):
        service.set_product_rating(uow, product_id, data.average, data.count, queue=False)


def register(bus: MessageBus) -> None:
    bus.subscribe(ProductPriceChanged, on_signal_events, batch=True, durable=SIGNALS)
    bus.subscribe(StockChanged, on_signal_events, batch=True, durable=SIGNALS)
    bus.subscribe(OrderPlaced, on_signal_events, batch=True, durable=SIGNALS)
    bus.subscribe(ProductRatingChanged, on_rating_changed, batch=True, durable=RATINGS)
    # Each replica's own index follower is told of this process's commits at once (it wakes
    # and a search in this process waits for it), see search/replica.py.
    from merx.search.replica import FOLLOWED, note_local_change

    for event_class in FOLLOWED:
        if event_class is not OrderPlaced:  # a sale alone re-indexes later (signal interval)
            bus.subscribe(event_class, note_local_change, eager=True)
