"""Tax and shipping routes: rates (by country, with effective dates), channel tax modes,
shipping zones and their methods. Reading is open to the back office; changes to staff."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query

from merx.core.auth import Principal, Role
from merx.core.pagination import check_limit, page_list
from merx.core.schemas import Page, StrictModel
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.fiscal import service
from merx.fiscal.schemas import (ChannelTaxModeIn, ChannelTaxModeOut, MethodIn, MethodOut, MethodPatch, TaxRateIn,
                                 TaxRateOut, ZoneIn, ZoneOut, ZonePatch)

router = APIRouter(tags=["taxes and shipping"])
STAFF = (Role.admin, Role.staff)
BACK_OFFICE = (Role.admin, Role.staff, Role.support_agent, Role.sales_rep)


class EndRateIn(StrictModel):
    valid_to: dt.date


@router.get("/taxes/rates", response_model=Page[TaxRateOut])
def rates(country: str | None = Query(None, pattern=r"^[A-Za-z]{2}$"), limit: int | None = None, cursor: str | None = None,
          uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*BACK_OFFICE))) -> Page[TaxRateOut]:
    """In the order they were added (a page at a time); the console groups them by country."""
    items, nxt = page_list(sorted(service.list_rates(uow, country), key=lambda r: r.id), lambda r: r.id,
                           limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[TaxRateOut](items=items, next_cursor=nxt)


@router.post("/taxes/rates", response_model=TaxRateOut, status_code=201)
def add_rate(body: TaxRateIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> TaxRateOut:
    """A rate for a country and tax class from `valid_from` (409 when it overlaps another)."""
    return service.add_rate(uow, body)


@router.post("/taxes/rates/{rate_id}/end", response_model=TaxRateOut)
def end_rate(rate_id: int, body: EndRateIn, uow: UnitOfWork = Depends(get_uow),
             _: Principal = Depends(require(*STAFF))) -> TaxRateOut:
    return service.end_rate(uow, rate_id, body.valid_to)


@router.get("/taxes/channels", response_model=list[ChannelTaxModeOut])
def channel_modes(uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*BACK_OFFICE))) -> list[ChannelTaxModeOut]:
    return service.list_channel_modes(uow)


@router.put("/taxes/channels/{channel}", response_model=ChannelTaxModeOut)
def set_channel_mode(channel: str, body: ChannelTaxModeIn, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*STAFF))) -> ChannelTaxModeOut:
    return service.set_channel_mode(uow, channel, body.prices_include_tax)


@router.get("/shipping/zones", response_model=Page[ZoneOut])
def zones(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
          _: Principal = Depends(require(*BACK_OFFICE))) -> Page[ZoneOut]:
    items, nxt = page_list(service.list_zones(uow), lambda z: z.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[ZoneOut](items=items, next_cursor=nxt)


@router.post("/shipping/zones", response_model=ZoneOut, status_code=201)
def create_zone(body: ZoneIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> ZoneOut:
    return service.create_zone(uow, body)


@router.post("/shipping/zones/{code}/methods", response_model=MethodOut, status_code=201)
def add_method(code: str, body: MethodIn, uow: UnitOfWork = Depends(get_uow),
               _: Principal = Depends(require(*STAFF))) -> MethodOut:
    """A method with its rate table: `basis` weight (kg, product attribute weight), subtotal,
    items or flat; `brackets` [{"from", "price"}]; `free_over` a subtotal from which it is free."""
    return service.add_method(uow, code, body)


@router.patch("/shipping/zones/{code}", response_model=ZoneOut)
def update_zone(code: str, body: ZonePatch, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(require(*STAFF))) -> ZoneOut:
    """Rename the zone or change the countries / postcode prefixes it covers."""
    return service.update_zone(uow, code, body)


@router.patch("/shipping/zones/{code}/methods/{method_id}", response_model=MethodOut)
def update_method(code: str, method_id: int, body: MethodPatch, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*STAFF))) -> MethodOut:
    """Change the name, `basis`, `brackets`, `free_over` (null: never free) or `active` (an
    inactive method is no longer offered at checkout). Code and currency do not change."""
    return service.update_method(uow, code, method_id, body)
