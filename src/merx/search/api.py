"""Search routes: the public search, merchandising (synonyms, boost rules, pins; admin and
staff), feedback from shop fronts, and the zero-result report."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, AsyncIterator, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from merx.core.auth import Principal, Role
from merx.core.errors import Forbidden, Unauthorized, ValidationProblem
from merx.core.pagination import check_limit, page_list
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.ratelimit import rate_limited
from merx.core.validation import DbId
from merx.core.web import get_principal, get_read_uow, get_uow, require
from merx.search import service
from merx.search.analysis import SUPPORTED
from merx.search.ranking import Filters, SearchRequest
from merx.search.schemas import (BoostRuleIn, BoostRuleOut, FeedbackIn, PinIn, PinOut, SearchOut, SynonymIn,
                                 SynonymOut, ZeroResultOut)

MAX_PAGE_SIZE = 100
MERCHANDISERS = (Role.admin, Role.staff)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _register(app)
    follower = None
    from merx.core.events import bus

    if bus.background:  # `merx serve`: this replica's index follows the outbox on a thread
        from merx.search.replica import follower_for

        follower = follower_for(app.state.db, app.state.settings.data_dir)
        follower.start()
    try:
        yield
    finally:
        if follower is not None:
            follower.stop()


router = APIRouter(tags=["search"], lifespan=_lifespan)


def _register(app: Any) -> None:
    settings = app.state.settings
    service.register_data_dir(app.state.db, settings.data_dir, settings.default_currency)


def search_data_dir(request: Request) -> Any:
    _register(request.app)
    return request.app.state.settings.data_dir


def _decimal(name: str, value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise ValidationProblem.for_field(name, "must be a decimal amount such as \"19.99\"") from None
    if not d.is_finite() or d < 0:
        raise ValidationProblem.for_field(name, "must be a non-negative amount")
    return d


def _attributes(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        code, sep, value = v.partition(":")
        if not sep or not code.strip() or not value.strip():
            raise ValidationProblem.for_field("attr", f"{v!r} must look like code:value (e.g. color:red)")
        out.append((code.strip(), value.strip()))
    return out


@router.get("/search", response_model=SearchOut, response_model_exclude_none=True)
def search(
    q: str = Query("", max_length=500, description="What the shopper typed; empty with filters browses."),
    lang: str | None = Query(None, description="Query language; guessed from the script when absent."),
    page: int = Query(1, ge=1, le=1000),
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
    category: str | None = None, brand: str | None = None,
    price_min: str | None = None, price_max: str | None = None,
    attr: list[str] = Query([], description="Attribute filter code:value, repeatable."),
    store: str | None = Query(None, description="Only products available at this location."),
    seller_id: DbId | None = None,  # a tantivy u64 field: a negative id is refused here, not there
    region: str | None = Query(None, description="Shopper's region, for next-day local delivery."),
    near: str | None = Query(None, description="Location code nearest the shopper."),
    explain: bool = False,
    facets: bool = True,
    include_inactive: bool = False,
    complete: bool = Query(False, description="Suggestions while typing: the last word may be unfinished "
                                              "(\"lam\" finds lamps)."),
    retrieval: Literal["lexical", "semantic", "hybrid"] | None = Query(
        None, description="Stages 1-2: lexical (BM25), semantic (embeddings) or hybrid (both, fused). "
                          "Default: hybrid when the semantic extra is installed, else lexical."),
    uow: UnitOfWork = Depends(get_read_uow),
    principal: Principal = Depends(get_principal),
    data_dir: Any = Depends(search_data_dir),
) -> SearchOut:
    """Anyone may search active products. `explain=true` (admin, staff; a seller for its own
    products) adds to each item its stage 2 score, stage 3 probability with features, every
    boost with its factor and the final score (= probability x factors)."""
    if lang is not None:
        lang = lang.strip().lower()
        if lang not in SUPPORTED:
            raise ValidationProblem.for_field("lang", f"unsupported; one of {', '.join(sorted(SUPPORTED))}")
    if explain and principal.is_anonymous:
        raise Unauthorized("explain=true needs an API key (admin, staff or seller)")
    if explain and not principal.has(Role.admin, Role.staff, Role.seller):
        raise Forbidden("explain=true is for admin, staff and sellers")
    if include_inactive and not principal.has(Role.admin, Role.staff):
        raise Forbidden("include_inactive=true is for admin and staff")
    if not q.strip() and not (category or brand or attr or store or seller_id is not None):
        raise ValidationProblem.for_field("q", "give a query or at least one filter")
    if retrieval in ("semantic", "hybrid"):
        from merx.search.semantic import retrieval_mode

        running, why = retrieval_mode()
        if running != "hybrid":
            raise ValidationProblem.for_field("retrieval", f"{retrieval} search is not available here: {why}")
    lo, hi = _decimal("price_min", price_min), _decimal("price_max", price_max)
    if lo is not None and hi is not None and lo > hi:
        raise ValidationProblem.for_field("price_max", "must not be below price_min")
    req = SearchRequest(
        q=q, lang=lang, page=page, limit=limit, region=region, near=near, explain=explain, facets=facets,
        retrieval=retrieval, complete=complete,
        filters=Filters(category=category, brand=brand, price_min=lo, price_max=hi, attributes=_attributes(attr),
                        store=store, seller_id=seller_id, include_inactive=include_inactive))
    outcome, search_id = service.search(uow, req, data_dir=data_dir)
    return SearchOut(search_id=search_id, query=q, lang=outcome.lang, mode=outcome.mode, total=outcome.total,
                     page=page, limit=limit, items=outcome.page_items, facets=outcome.facets, model=outcome.model,
                     suggestions=outcome.suggestions or None, retrieval=outcome.retrieval,
                     timings_ms=outcome.timings_ms if explain else None)


@router.post("/search/feedback", status_code=204)
def feedback(body: FeedbackIn, uow: UnitOfWork = Depends(get_uow),
             _: None = Depends(rate_limited("search_feedback", per="principal"))) -> None:
    """A click, cart add, favourite or purchase on a product shown by a search (search_id
    from the search response). Open to shop fronts without a key, like search itself, and
    rate limited per address. It counts once per search, product and action, only for a
    product that search showed; purchases move rankings only through real orders."""
    service.record_feedback(uow, body)


@router.post("/search/synonyms", response_model=SynonymOut, status_code=201)
def add_synonym(body: SynonymIn, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(require(*MERCHANDISERS))) -> SynonymOut:
    """Applied at query time: no reindex needed."""
    return service.add_synonym(uow, body)


@router.get("/search/synonyms", response_model=Page[SynonymOut])
def list_synonyms(lang: str | None = None, limit: int | None = None, cursor: str | None = None,
                  uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MERCHANDISERS))) -> Page[SynonymOut]:
    items, nxt = page_list(service.list_synonyms(uow, lang), lambda s: s.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[SynonymOut](items=items, next_cursor=nxt)


@router.delete("/search/synonyms/{synonym_id}", status_code=204)
def delete_synonym(synonym_id: int, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MERCHANDISERS))) -> None:
    service.delete_synonym(uow, synonym_id)


@router.post("/search/boost-rules", response_model=BoostRuleOut, status_code=201)
def set_boost_rule(body: BoostRuleIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MERCHANDISERS))) -> BoostRuleOut:
    return service.set_boost_rule(uow, body)


@router.get("/search/boost-rules", response_model=Page[BoostRuleOut])
def list_boost_rules(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*MERCHANDISERS))) -> Page[BoostRuleOut]:
    items, nxt = page_list(service.list_boost_rules(uow), lambda r: r.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[BoostRuleOut](items=items, next_cursor=nxt)


@router.delete("/search/boost-rules/{rule_id}", status_code=204)
def delete_boost_rule(rule_id: int, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(require(*MERCHANDISERS))) -> None:
    service.delete_boost_rule(uow, rule_id)


@router.post("/search/pins", response_model=PinOut, status_code=201)
def add_pin(body: PinIn, uow: UnitOfWork = Depends(get_uow),
            _: Principal = Depends(require(*MERCHANDISERS))) -> PinOut:
    """Pin a product to a position for a query, or hide it (hidden=true)."""
    return service.add_pin(uow, body)


@router.get("/search/pins", response_model=Page[PinOut])
def list_pins(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(require(*MERCHANDISERS))) -> Page[PinOut]:
    items, nxt = page_list(service.list_pins(uow), lambda p: p.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[PinOut](items=items, next_cursor=nxt)


@router.delete("/search/pins/{pin_id}", status_code=204)
def delete_pin(pin_id: int, uow: UnitOfWork = Depends(get_uow),
               _: Principal = Depends(require(*MERCHANDISERS))) -> None:
    service.delete_pin(uow, pin_id)


@router.get("/search/reports/zero-results", response_model=list[ZeroResultOut])
def zero_results(days: int = Query(30, ge=1, le=365), limit: int = Query(100, ge=1, le=1000),
                 uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(Role.admin, Role.staff))) -> list[ZeroResultOut]:
    """Queries that found nothing, most frequent first."""
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    return service.zero_result_report(uow, since=since, limit=limit)
