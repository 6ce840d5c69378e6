"""Pricing routes: price lists, promotions and coupons, shipping rates (back office)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError as PydanticValidationError

from merx.core.auth import Principal, Role
from merx.core.errors import FieldError, ValidationProblem
from merx.core.money import MoneyError, check_currency
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.spreadsheet import table_file
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_uow, require
from merx.pricing import competition, service, strategies
from merx.pricing.schemas import (CompetitorCreate, CompetitorOut, CompetitorPriceImport, CompetitorPriceImportReport,
                                  CompetitorPriceIn, CompetitorPriceOut, PriceListCreate, PriceListOut,
                                  PricePositionOut, PricePositionRow, PriceProposalOut, PricesIn, PricingRuleCreate,
                                  PricingRuleOut, PromotionCreate, PromotionOut, PromotionPatch, ProposalDecisionIn,
                                  RedemptionOut, RuleRunOut, ShippingRateIn, ShippingRateOut)

router = APIRouter(tags=["pricing"])
MANAGERS = (Role.admin, Role.staff)


@router.post("/price-lists", response_model=PriceListOut, status_code=201)
def create_price_list(body: PriceListCreate, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(require(*MANAGERS))) -> PriceListOut:
    return PriceListOut(**service.create_price_list(uow, body))


@router.get("/price-lists", response_model=Page[PriceListOut])
def list_price_lists(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*MANAGERS, Role.sales_rep))) -> Page[PriceListOut]:
    items, nxt = service.price_lists_page(uow, limit=_limit(uow, limit), cursor=cursor)
    return Page[PriceListOut](items=[PriceListOut(**p) for p in items], next_cursor=nxt)


@router.put("/price-lists/{code}/prices", response_model=PriceListOut)
def set_prices(code: str, body: PricesIn, uow: UnitOfWork = Depends(get_uow),
               _: Principal = Depends(require(*MANAGERS))) -> PriceListOut:
    return PriceListOut(**service.set_prices(uow, code, [p.model_dump() for p in body.prices]))


@router.post("/promotions", response_model=PromotionOut, status_code=201)
def create_promotion(body: PromotionCreate, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*MANAGERS))) -> PromotionOut:
    return PromotionOut(**service.create_promotion(uow, body))


@router.get("/promotions", response_model=Page[PromotionOut])
def list_promotions(active: bool | None = None, limit: int | None = Query(None), cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*MANAGERS, Role.sales_rep, Role.support_agent))) -> Page[PromotionOut]:
    items, nxt = service.promotions_page(uow, active=active, limit=_limit(uow, limit), cursor=cursor)
    return Page[PromotionOut](items=[PromotionOut(**p) for p in items], next_cursor=nxt)


@router.get("/promotions/{promotion_id}", response_model=PromotionOut)
def get_promotion(promotion_id: int, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MANAGERS, Role.sales_rep, Role.support_agent))) -> PromotionOut:
    return PromotionOut(**service.get_promotion(uow, promotion_id))


@router.patch("/promotions/{promotion_id}", response_model=PromotionOut)
def update_promotion(promotion_id: int, body: PromotionPatch, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*MANAGERS))) -> PromotionOut:
    return PromotionOut(**service.update_promotion(uow, promotion_id, body))


@router.get("/promotions/{promotion_id}/redemptions", response_model=Page[RedemptionOut])
def list_redemptions(promotion_id: DbId, limit: int | None = Query(None), cursor: str | None = None,
                     uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*MANAGERS, Role.sales_rep, Role.support_agent)),
                     ) -> Page[RedemptionOut]:
    """The orders the promotion discounted, newest first; `released` ones were cancelled."""
    items, nxt = service.redemptions_page(uow, promotion_id, limit=_limit(uow, limit), cursor=cursor)
    return Page[RedemptionOut](items=[RedemptionOut(**r) for r in items], next_cursor=nxt)


@router.put("/shipping-rates/{currency}", response_model=ShippingRateOut)
def set_shipping_rate(currency: str, body: ShippingRateIn, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(require(*MANAGERS))) -> ShippingRateOut:
    try:
        check_currency(currency)
    except MoneyError as e:
        raise ValidationProblem.for_field("currency", str(e)) from None
    return ShippingRateOut(**service.set_shipping_rate(uow, currency, body.amount))


def _limit(uow: UnitOfWork, limit: int | None) -> int:
    return check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max)


# -- competitors, price position, pricing rules and proposals (served under /sales/...) -------
# Competitor prices and the position report are for the back office and reps (no cost in
# them); rules and proposals show costs and margins: admin and staff only.

POSITION_READERS = (Role.admin, Role.staff, Role.sales_rep)


@router.post("/sales/competitors", response_model=CompetitorOut, status_code=201)
def create_competitor(body: CompetitorCreate, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(require(*MANAGERS))) -> CompetitorOut:
    return competition.create_competitor(uow, body)


@router.get("/sales/competitors", response_model=Page[CompetitorOut])
def list_competitors(limit: int | None = Query(None), cursor: str | None = None,
                     uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*POSITION_READERS))) -> Page[CompetitorOut]:
    items, nxt = competition.competitors_page(uow, limit=_limit(uow, limit), cursor=cursor)
    return Page[CompetitorOut](items=items, next_cursor=nxt)


@router.post("/sales/competitor-prices", response_model=CompetitorPriceOut, status_code=201)
def record_competitor_price(body: CompetitorPriceIn, uow: UnitOfWork = Depends(get_uow),
                            _: Principal = Depends(require(*MANAGERS))) -> CompetitorPriceOut:
    """One observed price. In another currency than the shop's it needs `rate`; without one
    it is refused (422 naming `currency`)."""
    return competition.record_competitor_price(uow, body)


@router.post("/sales/competitor-prices/import", response_model=CompetitorPriceImportReport)
async def import_competitor_prices(request: Request, uow: UnitOfWork = Depends(get_uow),
                                   _: Principal = Depends(require(*MANAGERS))) -> CompetitorPriceImportReport:
    """JSON `{"rows": [...], "rates": {"USD": "0.92"}}` or a CSV (text/csv body or multipart
    `file`; columns competitor, sku, amount, currency, observed_at, rate, url, in_stock,
    source; `?rate.USD=0.92` query parameters give rates). Rows are checked one by one."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = CompetitorPriceImport.model_validate_json(await request.body())
        except PydanticValidationError as e:
            raise ValidationProblem("invalid competitor price import", errors=[
                FieldError(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) for err in e.errors()]) from None
        return await run_in_threadpool(competition.import_competitor_prices, uow, body)
    rates = {k[5:]: v for k, v in request.query_params.items() if k.startswith("rate.")}
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationProblem.for_field("file", "send the file in a multipart field named 'file'")
        raw = await upload.read()
    else:
        raw = await request.body()
    return await run_in_threadpool(competition.import_competitor_prices_csv, uow, raw, rates=rates)


@router.get("/sales/competitor-prices", response_model=Page[CompetitorPriceOut])
def list_competitor_prices(sku: str | None = None, competitor: str | None = None, limit: int | None = Query(None),
                           cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                           _: Principal = Depends(require(*POSITION_READERS))) -> Page[CompetitorPriceOut]:
    items, nxt = competition.competitor_prices_page(uow, sku=sku, competitor=competitor, limit=_limit(uow, limit),
                                                    cursor=cursor)
    return Page[CompetitorPriceOut](items=items, next_cursor=nxt)


@router.get("/sales/price-position", response_model=PricePositionOut)
def price_position(max_age_days: int = Query(30, ge=1, le=365), category: str | None = None,
                   format: Literal["json", "csv", "xlsx"] = "json", uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*POSITION_READERS))) -> Any:
    """Per SKU with recent competitor prices: our price, the lowest (and who), the median,
    our rank (1 = cheapest) and index (our price / median x 100). CSV/XLSX with ?format=."""
    report = competition.price_position(uow, max_age_days=max_age_days, category=category)
    if format == "json":
        return report
    rows = [r.model_dump() for r in report.rows]
    return _sheet(f"price-position-{report.currency}", list(PricePositionRow.model_fields), rows, format)


def _sheet(name: str, columns: list[str], rows: list[dict[str, Any]], fmt: str) -> Response:
    """CSV or XLSX of `rows` (core.spreadsheet.table_file) as a download."""
    body, media = table_file(name, columns, rows, fmt)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.post("/sales/pricing-rules", response_model=PricingRuleOut, status_code=201)
def create_pricing_rule(body: PricingRuleCreate, uow: UnitOfWork = Depends(get_uow),
                        _: Principal = Depends(require(*MANAGERS))) -> PricingRuleOut:
    return strategies.create_rule(uow, body)


@router.get("/sales/pricing-rules", response_model=Page[PricingRuleOut])
def list_pricing_rules(limit: int | None = Query(None), cursor: str | None = None,
                       uow: UnitOfWork = Depends(get_read_uow),
                       _: Principal = Depends(require(*MANAGERS))) -> Page[PricingRuleOut]:
    items, nxt = strategies.rules_page(uow, limit=_limit(uow, limit), cursor=cursor)
    return Page[PricingRuleOut](items=items, next_cursor=nxt)


@router.post("/sales/pricing-rules/{code}/run", response_model=RuleRunOut)
def run_pricing_rule(code: str, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*MANAGERS))) -> RuleRunOut:
    """Propose prices for the rule's SKUs (pending until approved); never below cost or floor."""
    return strategies.run_rule(uow, code)


@router.get("/sales/price-proposals", response_model=Page[PriceProposalOut])
def list_price_proposals(status: Literal["pending", "approved", "rejected", "superseded"] | None = None,
                         rule: str | None = None, limit: int | None = Query(None), cursor: str | None = None,
                         format: Literal["json", "csv", "xlsx"] = "json", uow: UnitOfWork = Depends(get_read_uow),
                         _: Principal = Depends(require(*MANAGERS))) -> Any:
    items, nxt = strategies.proposals_page(uow, status=status, rule=rule, limit=_limit(uow, limit), cursor=cursor)
    if format != "json":
        return _sheet("price-proposals", list(PriceProposalOut.model_fields), [p.model_dump() for p in items], format)
    return Page[PriceProposalOut](items=items, next_cursor=nxt)


@router.post("/sales/price-proposals/{proposal_id}/approve", response_model=PriceProposalOut)
def approve_price_proposal(proposal_id: DbId, body: ProposalDecisionIn | None = None,
                           uow: UnitOfWork = Depends(get_uow),
                           _: Principal = Depends(require(*MANAGERS))) -> PriceProposalOut:
    """Apply the proposed price to the rule's price list (checked against today's cost)."""
    return strategies.approve(uow, proposal_id, note=body.note if body else None)


@router.post("/sales/price-proposals/{proposal_id}/reject", response_model=PriceProposalOut)
def reject_price_proposal(proposal_id: DbId, body: ProposalDecisionIn | None = None,
                          uow: UnitOfWork = Depends(get_uow),
                          _: Principal = Depends(require(*MANAGERS))) -> PriceProposalOut:
    return strategies.reject(uow, proposal_id, note=body.note if body else None)
