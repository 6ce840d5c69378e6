"""Search use cases: searching (with logging), merchandising configuration (synonyms, boost
rules, pins), feedback, the zero-result report, and keeping the index current.

The index lives under `<data_dir>/search/index*`, models under `<data_dir>/search/models`.
Other contexts are read only through their public modules (`catalog.public.iter_product_documents`,
`catalog.public.lookup_skus`, `marketplace.public.sellers_by_ids`) and their events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from merx.catalog.public import hidden_product_ids as catalog_hidden_product_ids
from merx.core.auth import Role
from merx.core.db import Database, utcnow
from merx.core.errors import NotFound, ValidationProblem
from merx.core.ids import new_ulid
from merx.core.timings import phase
from merx.core.uow import UnitOfWork
from merx.search import models as m
from merx.search.boosts import DEFAULT_RULES, TARGETED_KINDS, BoostRules, Rule
from merx.search.documents import IndexRecord, ProductSignals, build_record, decay
from merx.search.index import SearchIndex, index_for
from merx.search.model import ModelStore, Ranker
from merx.search.analysis import guess_language
from merx.search.ranking import Engine, Pin, RankConfig, SearchOutcome, SearchRequest, SynonymTable, query_key
from merx.search.schemas import (BoostRuleIn, BoostRuleOut, FeedbackIn, PinIn, PinOut, SynonymIn, SynonymOut,
                                 ZeroResultOut)
from merx.search.semantic import bulk_embedder, embed_records, embedder
from merx.search.vectors import VectorStore
from merx.search.settings import get_search_settings
from merx.search.stock import sync_stock
from merx.search.suggestions import suggest_queries

log = logging.getLogger("merx.search")

HALF_LIFE_DAYS = {"views": 14.0, "carts": 14.0, "favourites": 30.0, "purchases": 30.0, "sales_views": 30.0}
PRICE_WINDOW = dt.timedelta(days=30)

# ----------------------------------------------------------------------------------------------
# Where each database's index lives (handlers get only the database)
# ----------------------------------------------------------------------------------------------

_DATA_DIRS: dict[str, Path] = {}
_CURRENCIES: dict[str, str] = {}


def register_data_dir(db: Database, data_dir: Path, currency: str = "EUR") -> None:
    _DATA_DIRS[db.url] = Path(data_dir)
    _CURRENCIES[db.url] = currency


def data_dir_for(db: Database) -> Path | None:
    return _DATA_DIRS.get(db.url)


def search_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "search"


@dataclass
class SearchStack:
    index: SearchIndex
    models: ModelStore
    engine: Engine
    vectors: VectorStore


_STACKS: dict[str, SearchStack] = {}
_STACKS_LOCK = threading.Lock()


def stack_for(data_dir: Path) -> SearchStack:
    key = str(Path(data_dir).resolve())
    with _STACKS_LOCK:
        stack = _STACKS.get(key)
        if stack is None:
            base = search_dir(data_dir)
            cfg = get_search_settings()
            index = index_for(base / "index")
            models = ModelStore(base / "models")
            vectors = VectorStore(base / "vectors")
            engine = Engine(index, Ranker(), RankConfig(cfg.min_candidates, cfg.depth, cfg.count_cap), vectors=vectors)
            stack = SearchStack(index, models, engine, vectors)
            _STACKS[key] = stack
        return stack


# ----------------------------------------------------------------------------------------------
# Searching
# ----------------------------------------------------------------------------------------------

def load_synonyms(uow: UnitOfWork, lang: str | None = None) -> SynonymTable:
    stmt = sa.select(m.Synonym)
    if lang:
        stmt = stmt.where(m.Synonym.lang == lang)
    return SynonymTable((s.lang, list(s.terms), s.one_way) for s in uow.session.scalars(stmt))


def load_rules(uow: UnitOfWork) -> BoostRules:
    rows = uow.session.scalars(sa.select(m.BoostRule).where(m.BoostRule.active.is_(True)).order_by(m.BoostRule.id))
    return BoostRules(Rule(r.kind, float(r.factor), dict(r.params or {}), r.product_id, r.seller_id, r.id) for r in rows)


def load_pins(uow: UnitOfWork, lang: str, key: str) -> list[Pin]:
    if not key:
        return []
    rows = uow.session.scalars(sa.select(m.Pin).where(m.Pin.lang == lang, m.Pin.query_key == key))
    return [Pin(r.product_id, r.position, r.hidden) for r in rows]


def search(uow: UnitOfWork, req: SearchRequest, *, data_dir: Path,
           log_search: bool = True) -> tuple[SearchOutcome, str]:
    """Runs the pipeline; logs the query and what was shown (under the calling customer, if
    any). Returns (outcome, search_id). A seller's explanations cover its own products only."""
    stack = stack_for(data_dir)
    stack.engine.ranker.model = stack.models.current()
    from merx.search.replica import ensure_current

    if stack.index.needs_rebuild:  # the directory held an index of an older version's schema
        with _REBUILD_LOCK:
            if stack.index.needs_rebuild:
                log.warning("search index was written by an older version: rebuilding it from the catalog")
                rebuild_index(uow.db, data_dir)
    # this replica's index follows the outbox (search/replica.py): every change committed in
    # this process is applied before the search; other replicas' changes within a poll
    ensure_current(uow.db, data_dir)
    index_pending(uow.db, data_dir, wait=True)  # feedback signals queued by this shop's processes
    # early access: products before their launch that this caller may not see are filtered
    # out of the results, suggestions and facet counts at query time
    hidden = catalog_hidden_product_ids(uow)
    if hidden:
        req = dataclasses.replace(req, filters=dataclasses.replace(
            req.filters, exclude_ids=sorted({*req.filters.exclude_ids, *hidden})))
    lang = req.lang or guess_language(req.q, stack.engine.default_lang)
    key = query_key(req.q, lang) if req.q else ""
    outcome = stack.engine.search(req, synonyms=load_synonyms(uow, lang), rules=load_rules(uow),
                                  pins=load_pins(uow, lang, key))
    if outcome.total == 0 and req.q.strip() and req.page == 1:
        outcome.suggestions = suggest_queries(uow, req.q, lang)
    if req.explain and uow.actor.role == Role.seller:
        # a seller learns why its own products rank where they do, not its competitors'
        for item in outcome.page_items:
            if item.get("seller_id") != uow.actor.seller_id:
                item.pop("explain", None)
    search_id = new_ulid()
    if log_search:
        shown = [item["product_id"] for item in outcome.page_items]
        # The feature rows of what was shown: the training data of stage 3.
        features = {str(pid): row for pid, row in outcome.page_features.items()} or None
        # Its own short write transaction: the search itself only reads (on SQLite a write
        # transaction would serialise every search behind the database's single writer).
        with UnitOfWork(uow.db, uow.actor, request_id=uow.request_id) as w:
            w.session.add(m.SearchLog(
                id=search_id, query_text=req.q[:500], query_key=outcome.query_key, lang=outcome.lang,
                mode=outcome.mode, total=outcome.total, page=req.page, shown=shown, features=features,
                filters=_filters_json(req), customer_id=uow.actor.customer_id, user_id=uow.actor.user_id,
                # browsing a category (no words) that shows nothing is not a search that failed
                zero_results=outcome.total == 0 and bool(outcome.query_key)))
            w.commit()
    return outcome, search_id


_REBUILD_LOCK = threading.Lock()


def _filters_json(req: SearchRequest) -> dict[str, Any] | None:
    f = req.filters
    out = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in f.__dict__.items()
           if v not in (None, [], False) and k != "exclude_ids"}  # who may see what is not the shopper's filter
    return out or None


# ----------------------------------------------------------------------------------------------
# Merchandising configuration
# ----------------------------------------------------------------------------------------------

def add_synonym(uow: UnitOfWork, data: SynonymIn) -> SynonymOut:
    row = m.Synonym(lang=data.lang, terms=data.terms, one_way=data.one_way)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("create", "search_synonym", row.id, after=data.model_dump())
    uow.commit()
    return SynonymOut.model_validate(row, from_attributes=True)


def list_synonyms(uow: UnitOfWork, lang: str | None = None) -> list[SynonymOut]:
    stmt = sa.select(m.Synonym).order_by(m.Synonym.id)
    if lang:
        stmt = stmt.where(m.Synonym.lang == lang)
    return [SynonymOut.model_validate(r, from_attributes=True) for r in uow.session.scalars(stmt)]


def delete_synonym(uow: UnitOfWork, synonym_id: int) -> None:
    row = uow.session.get(m.Synonym, synonym_id)
    if row is None:
        raise NotFound(f"synonym {synonym_id} does not exist")
    before = {"lang": row.lang, "terms": row.terms, "one_way": row.one_way}
    uow.session.delete(row)
    uow.audit("delete", "search_synonym", synonym_id, before=before)
    uow.commit()


def _rule_out(r: m.BoostRule) -> BoostRuleOut:
    return BoostRuleOut(id=r.id, kind=r.kind, factor=format(Decimal(r.factor), "f"), params=dict(r.params or {}),
                        product_id=r.product_id, seller_id=r.seller_id, active=r.active)


def set_boost_rule(uow: UnitOfWork, data: BoostRuleIn) -> BoostRuleOut:
    """Global kinds have one rule each (setting it again replaces it); paid promotion rules
    name a product or a seller and may be many."""
    targeted = data.product_id is not None or data.seller_id is not None
    if data.kind in TARGETED_KINDS and not targeted:
        raise ValidationProblem.for_field("product_id", f"a {data.kind} rule needs a product_id or a seller_id")
    if data.kind not in TARGETED_KINDS and targeted:
        raise ValidationProblem.for_field("kind", f"{data.kind} is a global rule; only paid_promotion targets a product or seller")
    if data.product_id is not None and data.seller_id is not None:
        raise ValidationProblem.for_field("seller_id", "give a product_id or a seller_id, not both")
    allowed = set(DEFAULT_RULES[data.kind][1])
    unknown = sorted(set(data.params) - allowed)
    if unknown:
        raise ValidationProblem.for_field(f"params.{unknown[0]}", f"not a parameter of {data.kind}; known: {sorted(allowed)}")
    for name, value in data.params.items():
        if name == "regions":
            if not isinstance(value, dict) or not all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                                      for v in value.values()):
                raise ValidationProblem.for_field("params.regions", "must map region codes to lists of location codes")
        elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationProblem.for_field(f"params.{name}", "must be a number")
        else:
            try:
                float(value)
            except ValueError:
                raise ValidationProblem.for_field(f"params.{name}", "must be a number") from None
    row = None
    if not targeted:
        row = uow.session.scalars(sa.select(m.BoostRule).where(
            m.BoostRule.kind == data.kind, m.BoostRule.product_id.is_(None), m.BoostRule.seller_id.is_(None))).first()
    before = _rule_out(row).model_dump() if row is not None else None
    if row is None:
        row = m.BoostRule(kind=data.kind, product_id=data.product_id, seller_id=data.seller_id)
        uow.session.add(row)
    row.factor, row.params, row.active = Decimal(data.factor), dict(data.params), data.active
    uow.session.flush()
    out = _rule_out(row)
    uow.audit("update" if before else "create", "search_boost_rule", row.id, before=before, after=out.model_dump())
    uow.commit()
    return out


def list_boost_rules(uow: UnitOfWork) -> list[BoostRuleOut]:
    return [_rule_out(r) for r in uow.session.scalars(sa.select(m.BoostRule).order_by(m.BoostRule.id))]


def delete_boost_rule(uow: UnitOfWork, rule_id: int) -> None:
    row = uow.session.get(m.BoostRule, rule_id)
    if row is None:
        raise NotFound(f"boost rule {rule_id} does not exist")
    before = _rule_out(row).model_dump()
    uow.session.delete(row)
    uow.audit("delete", "search_boost_rule", rule_id, before=before)
    uow.commit()


def _pin_out(r: m.Pin) -> PinOut:
    return PinOut(id=r.id, query=r.query_text, query_key=r.query_key, lang=r.lang, product_id=r.product_id,
                  position=r.position, hidden=r.hidden)


def add_pin(uow: UnitOfWork, data: PinIn) -> PinOut:
    if data.hidden == (data.position is not None):
        raise ValidationProblem.for_field("position", "give a position to pin, or hidden=true to hide, not both")
    key = query_key(data.query, data.lang)
    if not key:
        raise ValidationProblem.for_field("query", "has no searchable words")
    row = uow.session.scalars(sa.select(m.Pin).where(m.Pin.lang == data.lang, m.Pin.query_key == key,
                                                     m.Pin.product_id == data.product_id)).first()
    if row is None:
        row = m.Pin(lang=data.lang, query_key=key, product_id=data.product_id)
        uow.session.add(row)
    row.query_text, row.position, row.hidden = data.query, data.position, data.hidden
    uow.session.flush()
    out = _pin_out(row)
    uow.audit("create", "search_pin", row.id, after=out.model_dump())
    uow.commit()
    return out


def list_pins(uow: UnitOfWork) -> list[PinOut]:
    return [_pin_out(r) for r in uow.session.scalars(sa.select(m.Pin).order_by(m.Pin.id))]


def delete_pin(uow: UnitOfWork, pin_id: int) -> None:
    row = uow.session.get(m.Pin, pin_id)
    if row is None:
        raise NotFound(f"pin {pin_id} does not exist")
    before = _pin_out(row).model_dump()
    uow.session.delete(row)
    uow.audit("delete", "search_pin", pin_id, before=before)
    uow.commit()


# ----------------------------------------------------------------------------------------------
# Analytics: feedback and reports
# ----------------------------------------------------------------------------------------------

_COUNTER_OF = {"click": "views", "cart": "carts", "favourite": "favourites", "purchase": "purchases"}


def bump_signal(uow: UnitOfWork, product_id: int, counter: str, amount: float = 1.0, *,
                now: dt.datetime | None = None, queue: bool = True, flush: bool = True) -> None:
    """Add to one of a product's decaying counters. `flush=False` is for a caller bumping
    each product at most once per transaction and flushing once at the end."""
    now = now or utcnow()
    row = uow.session.get(m.ProductSignal, product_id)
    if row is None:
        row = m.ProductSignal(product_id=product_id, views=0.0, carts=0.0, favourites=0.0, purchases=0.0,
                              sales_views=0.0, rating_count=0, decayed_at=now)
        uow.session.add(row)
    else:
        _decay_row(row, now)
    setattr(row, counter, getattr(row, counter) + amount)
    if counter == "views":
        row.sales_views += amount
    if flush:
        uow.session.flush()  # a second bump of the same product in this transaction finds the row
    if queue:
        queue_products(uow, [product_id])


def _decay_row(row: m.ProductSignal, now: dt.datetime) -> None:
    days = (now - row.decayed_at).total_seconds() / 86400
    if days > 0:
        for name, half_life in HALF_LIFE_DAYS.items():
            setattr(row, name, decay(getattr(row, name) or 0.0, days, half_life))
        row.decayed_at = now


def set_product_rating(uow: UnitOfWork, product_id: int, average: Decimal | float | None, count: int, *,
                       queue: bool = True) -> None:
    """For a reviews owner: the product's current rating (stage 3 rating group and the
    low-rating deboost). Does not commit: the caller's unit of work does."""
    row = uow.session.get(m.ProductSignal, product_id)
    if row is None:
        row = m.ProductSignal(product_id=product_id, views=0.0, carts=0.0, favourites=0.0, purchases=0.0,
                              sales_views=0.0, rating_count=0, decayed_at=utcnow())
        uow.session.add(row)
    row.rating_avg = float(average) if average is not None else None
    row.rating_count = int(count)
    if queue:
        queue_products(uow, [product_id])


# Purchases reach the ranking only from real orders (search/handlers.py reads `order.placed`):
# a purchase posted as feedback is kept as a training label but moves no counter.
_FEEDBACK_MOVES_RANKING = frozenset({"click", "cart", "favourite"})


def record_feedback(uow: UnitOfWork, data: FeedbackIn) -> None:
    """Feedback from an open endpoint, so it counts only for what the search actually showed
    and once per (search, product, action): replaying one search id cannot pile up signals."""
    logged = uow.session.get(m.SearchLog, data.search_id)
    if logged is None:
        raise ValidationProblem.for_field("search_id", "is not a search this service answered")
    if data.product_id not in {int(p) for p in (logged.shown or [])}:
        raise ValidationProblem.for_field("product_id", "was not shown by this search")
    seen = uow.session.scalar(sa.select(m.SearchFeedback.id).where(
        m.SearchFeedback.search_id == data.search_id, m.SearchFeedback.product_id == data.product_id,
        m.SearchFeedback.action == data.action).limit(1))
    if seen is not None:
        return
    uow.session.add(m.SearchFeedback(search_id=data.search_id, product_id=data.product_id, action=data.action,
                                     position=data.position))
    if data.action in _FEEDBACK_MOVES_RANKING:
        bump_signal(uow, data.product_id, _COUNTER_OF[data.action])
    uow.commit()


def zero_result_report(uow: UnitOfWork, *, since: dt.datetime | None = None, limit: int = 100) -> list[ZeroResultOut]:
    stmt = (sa.select(m.SearchLog.query_key, m.SearchLog.lang, sa.func.count().label("n"),
                      sa.func.max(m.SearchLog.created_at).label("last"), sa.func.min(m.SearchLog.query_text).label("text"))
            .where(m.SearchLog.zero_results.is_(True), m.SearchLog.page == 1, m.SearchLog.query_key != "")
            .group_by(m.SearchLog.query_key, m.SearchLog.lang)
            .order_by(sa.desc("n"), sa.desc("last")).limit(limit))
    if since is not None:
        stmt = stmt.where(m.SearchLog.created_at >= since)
    out = []
    for row in uow.session.execute(stmt):
        last = row.last if row.last.tzinfo else row.last.replace(tzinfo=dt.timezone.utc)
        out.append(ZeroResultOut(query=row.text, lang=row.lang, searches=row.n, last_searched_at=last))
    return out


# ----------------------------------------------------------------------------------------------
# Keeping the index current
# ----------------------------------------------------------------------------------------------

def queue_products(uow: UnitOfWork, product_ids: Iterable[int]) -> None:
    for pid in set(int(p) for p in product_ids):
        uow.session.add(m.IndexQueue(product_id=pid))


def _price_ratio(points: list[m.PricePoint], current: Decimal | None, now: dt.datetime) -> float:
    """Current price over its time-weighted average of the last 30 days (1.0 without history)."""
    if current is None or not points:
        return 1.0
    start = now - PRICE_WINDOW
    total, weighted = 0.0, 0.0
    ordered = sorted(points, key=lambda p: p.at)
    for i, p in enumerate(ordered):
        begin = max(p.at, start)
        end = ordered[i + 1].at if i + 1 < len(ordered) else now
        if end <= start or p.amount is None:
            continue
        span = (end - begin).total_seconds()
        if span > 0:
            total += span
            weighted += span * float(p.amount)
    if total <= 0 or weighted <= 0:
        return 1.0
    return float(current) / (weighted / total)


def build_signals(uow: UnitOfWork, docs: list[Any], currency: str, *, now: dt.datetime | None = None) -> dict[int, ProductSignals]:
    now = now or utcnow()
    ids = [int(d.product_id) for d in docs]
    if not ids:
        return {}
    signals = {pid: ProductSignals() for pid in ids}
    for row in uow.session.scalars(sa.select(m.ProductSignal).where(m.ProductSignal.product_id.in_(ids))):
        days = max((now - row.decayed_at).total_seconds() / 86400, 0.0)
        s = signals[row.product_id]
        s.pop_views = decay(row.views, days, HALF_LIFE_DAYS["views"])
        s.pop_carts = decay(row.carts, days, HALF_LIFE_DAYS["carts"])
        s.pop_favourites = decay(row.favourites, days, HALF_LIFE_DAYS["favourites"])
        s.sales_purchases = decay(row.purchases, days, HALF_LIFE_DAYS["purchases"])
        sales_views = decay(row.sales_views, days, HALF_LIFE_DAYS["sales_views"])
        s.sales_conversion = min(s.sales_purchases / sales_views, 1.0) if sales_views > 0 else 0.0
        s.rating_avg = float(row.rating_avg or 0.0)
        s.rating_count = float(row.rating_count or 0)
    stocked: dict[int, set[str]] = {}
    known: set[int] = set()
    for row in uow.session.scalars(sa.select(m.StockPoint).where(m.StockPoint.product_id.in_(ids))):
        known.add(row.product_id)
        if row.available > 0:
            stocked.setdefault(row.product_id, set()).add(row.location)
    for pid in known:
        signals[pid].in_stock = bool(stocked.get(pid))
        signals[pid].stock_locations = sorted(stocked.get(pid, ()))
    history: dict[int, list[m.PricePoint]] = {}
    for p in uow.session.scalars(sa.select(m.PricePoint).where(
            m.PricePoint.product_id.in_(ids), m.PricePoint.currency == currency, m.PricePoint.at >= now - PRICE_WINDOW * 2)):
        history.setdefault(p.product_id, []).append(p)
    seller_ids = {int(d.seller_id) for d in docs if getattr(d, "seller_id", None)}
    sellers: dict[int, Any] = {}
    if seller_ids:
        from merx.marketplace.public import sellers_by_ids

        sellers = sellers_by_ids(uow, seller_ids)
    for d in docs:
        s = signals[int(d.product_id)]
        low_sku, low = None, None
        for v in d.variants or []:
            price = (v.get("prices") or {}).get(currency)
            if price is not None and (low is None or Decimal(price) < low):
                low_sku, low = v.get("sku"), Decimal(price)
        points = [p for p in history.get(int(d.product_id), []) if p.sku == low_sku]
        s.price_ratio = _price_ratio(points, low, now)
        s.price_discount = max(0.0, 1.0 - s.price_ratio)
        info = sellers.get(int(d.seller_id)) if getattr(d, "seller_id", None) else None
        if info is not None:
            s.seller_premium = bool(info.premium)
            s.seller_rating = float(info.rating) if info.rating is not None else 0.0
            s.seller_violations = float(info.violations or 0)
    return signals


def _records(uow: UnitOfWork, docs: list[Any], currency: str) -> list[IndexRecord]:
    signals = build_signals(uow, docs, currency)
    return [build_record(d, signals[int(d.product_id)], currency=currency) for d in docs]


def _catalog_documents(uow: UnitOfWork, product_ids: Iterable[int] | None, batch_size: int = 1000) -> Iterable[Any]:
    from merx.catalog.public import iter_product_documents

    return iter_product_documents(uow, batch_size=batch_size, product_ids=product_ids)


_DRAIN_LOCK = threading.Lock()


def index_pending(db: Database, data_dir: Path | None = None, *, wait: bool = False, max_products: int = 5000) -> int:
    """Re-indexes queued products; cheap when nothing is queued (one indexed query).
    `wait`: block until a drain running in another thread finished (a search must see every
    committed change); otherwise return 0 at once when one is running."""
    data_dir = data_dir or data_dir_for(db)
    if data_dir is None:
        return 0

    def pending() -> list[int]:
        with UnitOfWork(db, readonly=True) as uow:
            return sorted(set(uow.session.scalars(sa.select(m.IndexQueue.product_id).where(
                m.IndexQueue.indexed_at.is_(None)).limit(max_products))))

    if not pending():
        return 0
    if not _DRAIN_LOCK.acquire(timeout=30 if wait else 0):
        return 0
    try:
        ids = pending()
        return _index_products(db, data_dir, ids) if ids else 0
    finally:
        _DRAIN_LOCK.release()


def index_products(uow: UnitOfWork, data_dir: Path, ids: Iterable[int]) -> int:
    """Re-index these products into this replica's index, reading through `uow` (the index
    follower's transaction); products the catalog no longer has are removed."""
    ids = sorted(set(int(i) for i in ids))
    if not ids:
        return 0
    currency = _CURRENCIES.get(uow.db.url, "EUR")
    stack = stack_for(data_dir)
    with phase("catalog_read"):
        docs = list(_catalog_documents(uow, ids))
        records = _records(uow, docs, currency)
    found = {r.product_id for r in records}
    n = stack.index.upsert(records, deleted_ids=[pid for pid in ids if pid not in found])
    model = embedder()
    if model is not None:  # the semantic stage's vectors follow the index
        with phase("embed"):
            vectors = embed_records(records, model, stack.vectors)
        with phase("vectors_save"):
            stack.vectors.upsert(vectors, deleted=[pid for pid in ids if pid not in found])
    return n


def _index_products(db: Database, data_dir: Path, ids: list[int], *, target: Any = None) -> int:
    currency = _CURRENCIES.get(db.url, "EUR")
    stack = stack_for(data_dir)
    started = utcnow()
    # Read in a read-only transaction and write the index outside any database transaction:
    # the database's write lock is held only for the short queue update at the end.
    with UnitOfWork(db, readonly=True) as uow:
        docs = list(_catalog_documents(uow, ids))
        records = _records(uow, docs, currency)
    found = {r.product_id for r in records}
    gone = [pid for pid in ids if pid not in found]
    n = stack.index.upsert(records, deleted_ids=gone, index=target)
    model = embedder()
    if model is not None:  # the semantic stage's vectors follow the index
        stack.vectors.upsert(embed_records(records, model, stack.vectors), deleted=gone)
    if target is None:
        with UnitOfWork(db) as uow:
            uow.session.execute(sa.update(m.IndexQueue).where(
                m.IndexQueue.product_id.in_(ids), m.IndexQueue.indexed_at.is_(None),
                m.IndexQueue.queued_at <= started).values(indexed_at=utcnow()))
            uow.session.execute(sa.delete(m.IndexQueue).where(
                m.IndexQueue.indexed_at.is_not(None), m.IndexQueue.indexed_at < started - dt.timedelta(days=1)))
            uow.commit()
    return n


def rebuild_index(db: Database, data_dir: Path, *, batch_size: int = 1000,
                  on_progress: Callable[[int, int], None] | None = None, reconcile_stock: bool = True) -> dict[str, Any]:
    """Builds a fresh index from the whole catalog next to the live one and swaps to it.
    Searches keep answering from the old index meanwhile; changes queued during the build
    are replayed into the new index before the swap. Availability is reconciled with
    inventory first (`sync_stock`), so store filters and logistics boosts are right even
    when stock was loaded without search's event handlers."""
    currency = _CURRENCIES.get(db.url, "EUR")
    stack = stack_for(data_dir)
    try:
        # a replica building its own index reads the shared table as `search.signals` keeps it
        stock = sync_stock(db) if reconcile_stock else {"written": 0, "removed": 0}
    except ImportError:  # a deployment without inventory: availability stays unknown
        stock = {"written": 0, "removed": 0}
    started = utcnow()
    with UnitOfWork(db, readonly=True) as uow:
        total = 0  # unknown up front: the catalog is streamed, not counted

        model = bulk_embedder()  # the whole catalog: every core
        vectors: list[tuple[int, str, Any]] = []

        def embedded(recs: list[IndexRecord]) -> list[IndexRecord]:
            if model is not None:  # unchanged texts keep their vectors (embed_records)
                vectors.extend(embed_records(recs, model, stack.vectors))
            return recs

        def all_records() -> Iterable[IndexRecord]:
            batch: list[Any] = []
            for d in _catalog_documents(uow, None, batch_size):
                batch.append(d)
                if len(batch) >= batch_size:
                    yield from embedded(_records(uow, batch, currency))
                    batch = []
            if batch:
                yield from embedded(_records(uow, batch, currency))

        done = {"n": 0}

        def progress(i: int) -> None:
            done["n"] = i
            if on_progress is not None:
                on_progress(i, total)

        def replay(new_index: Any) -> None:
            with UnitOfWork(db, readonly=True) as q:
                changed = sorted(set(q.session.scalars(sa.select(m.IndexQueue.product_id).where(
                    m.IndexQueue.queued_at >= started))))
            if changed:
                _index_products(db, data_dir, changed, target=new_index)

        def swap(new_index: Any) -> None:
            if model is not None:
                # a batch job: the HNSW graph (above the threshold) is built on every core
                stack.vectors.upsert(vectors, replace_all=True, threads=os.cpu_count() or 1)
            replay(new_index)

        name = stack.index.rebuild(all_records(), on_progress=progress, before_swap=swap)
    return {"index": name, "products": done["n"], "seconds": round((utcnow() - started).total_seconds(), 2),
            "stock_rows_synced": stock["written"]}
