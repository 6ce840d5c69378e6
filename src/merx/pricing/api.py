"""Pricing routes: price lists, promotions and coupons, shipping rates (back office)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from merx.core.auth import Principal, Role
from merx.core.errors import ValidationProblem
from merx.core.money import MoneyError, check_currency
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.pricing import service
from merx.pricing.schemas import (PriceListCreate, PriceListOut, PricesIn, PromotionCreate, PromotionOut,
                                  PromotionPatch, ShippingRateIn, ShippingRateOut)

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
