"""Inventory routes: locations, stock adjustments, transfers, thresholds, availability, ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from merx.core.auth import BACK_OFFICE_ROLES, Principal, Role
from merx.core.errors import ValidationProblem
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_principal, get_read_uow, get_uow, require
from merx.inventory import adjustments, locations, reads
from merx.inventory.schemas import (AdjustmentIn, AvailabilityOut, LocationCreate, LocationOut, LocationPatch,
                                    MovementOut, StockOut, ThresholdIn, TransferIn, TransferOut)

router = APIRouter(tags=["inventory"])
MANAGERS = (Role.admin, Role.staff)


@router.post("/locations", response_model=LocationOut, status_code=201)
def create_location(body: LocationCreate, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(Role.admin))) -> LocationOut:
    return LocationOut(**locations.create_location(uow, body.model_dump()))


@router.get("/locations", response_model=Page[LocationOut])
def list_locations(kind: str | None = None, pickup: bool | None = None, limit: int | None = Query(None),
                   cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow)) -> Page[LocationOut]:
    """Public: the storefront lists stores and their opening hours."""
    items, nxt = locations.list_locations(uow, kind=kind, pickup=pickup, limit=check_limit(limit, 50, 500),
                                        cursor=cursor)
    return Page[LocationOut](items=[LocationOut(**i) for i in items], next_cursor=nxt)


@router.get("/locations/{code}", response_model=LocationOut)
def get_location(code: str, uow: UnitOfWork = Depends(get_read_uow)) -> LocationOut:
    return LocationOut(**locations.location_out(locations.get_location_by_code(uow, code)))


@router.patch("/locations/{code}", response_model=LocationOut)
def update_location(code: str, body: LocationPatch, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(Role.admin))) -> LocationOut:
    return LocationOut(**locations.update_location(uow, code, body.model_dump(exclude_unset=True)))


@router.post("/inventory/adjustments", response_model=StockOut)
def adjust(body: AdjustmentIn, uow: UnitOfWork = Depends(get_uow),
           _: Principal = Depends(require(*MANAGERS))) -> StockOut:
    """`{"sku", "location", "delta"}` or compare-and-set `{"sku", "location", "set", "expected"}`
    (409 when the current on-hand quantity is not `expected`)."""
    return StockOut(**adjustments.adjust(uow, sku=body.sku, location=body.location, delta=body.delta, set_to=body.set,
                                     expected=body.expected, reason=body.reason, note=body.note))


@router.post("/inventory/transfers", response_model=TransferOut, status_code=201)
def transfer(body: TransferIn, uow: UnitOfWork = Depends(get_uow),
             _: Principal = Depends(require(*MANAGERS))) -> TransferOut:
    return TransferOut(**adjustments.transfer(uow, sku=body.sku, from_location=body.from_location,
                                          to_location=body.to_location, quantity=body.quantity,
                                          in_transit=body.in_transit, note=body.note))


@router.post("/inventory/transfers/{transfer_id}/receive", response_model=TransferOut)
def receive_transfer(transfer_id: int, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*MANAGERS))) -> TransferOut:
    return TransferOut(**adjustments.receive_transfer(uow, transfer_id))


@router.put("/inventory/thresholds")
def set_threshold(body: ThresholdIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*MANAGERS))) -> dict:
    return adjustments.set_threshold(uow, sku=body.sku, low_stock=body.low_stock, location=body.location)


@router.get("/inventory/stock", response_model=Page[StockOut])
def stock(sku: str | None = None, location: str | None = None, limit: int | None = Query(None),
          cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
          _: Principal = Depends(require(*BACK_OFFICE_ROLES))) -> Page[StockOut]:
    if not sku and not location:
        raise ValidationProblem.for_field("sku", "give sku or location (or both)")
    items, nxt = reads.stock_page(uow, sku=sku, location=location, limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[StockOut](items=[StockOut(**r) for r in items], next_cursor=nxt)


@router.get("/inventory/movements", response_model=Page[MovementOut])
def movements(sku: str | None = None, location: str | None = None, reference: str | None = None,
              limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(require(*MANAGERS))) -> Page[MovementOut]:
    items, nxt = reads.movements(uow, sku=sku, location=location, reference=reference,
                                   limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[MovementOut](items=[MovementOut(**m) for m in items], next_cursor=nxt)


@router.get("/availability", response_model=AvailabilityOut, response_model_exclude_none=False)
def availability(sku: str = Query(min_length=1, max_length=100), lat: float | None = Query(None, ge=-90, le=90),
                 lon: float | None = Query(None, ge=-180, le=180), pickup: bool = False,
                 uow: UnitOfWork = Depends(get_read_uow),
                 principal: Principal = Depends(get_principal)) -> AvailabilityOut:
    """Public: status per location, nearest first when lat/lon are given. Exact quantities are
    shown to back-office callers only."""
    if (lat is None) != (lon is None):
        raise ValidationProblem.for_field("lon" if lon is None else "lat", "give lat and lon together")
    return AvailabilityOut(**reads.availability(uow, sku, lat=lat, lon=lon, pickup_only=pickup,
                                                  with_quantities=principal.role in BACK_OFFICE_ROLES))
