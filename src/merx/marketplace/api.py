"""Routes for marketplace sellers. Staff manage sellers; a seller reads its own record."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from merx.core.auth import Principal, Role
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_uow, require
from merx.marketplace import service
from merx.marketplace.schemas import SellerCreate, SellerOut, SellerStatus, SellerUpdate

router = APIRouter(prefix="/sellers", tags=["marketplace"])
STAFF = (Role.admin, Role.staff)


@router.post("", response_model=SellerOut, status_code=201)
def create_seller(body: SellerCreate, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> SellerOut:
    return service.create_seller(uow, body)


@router.get("", response_model=Page[SellerOut])
def list_sellers(limit: int | None = None, cursor: str | None = None,
                 q: str | None = Query(None, max_length=100, description="code, name, legal name, email or city contains"),
                 status: SellerStatus | None = None, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*STAFF))) -> Page[SellerOut]:
    return service.list_sellers(uow, limit=limit, cursor=cursor, q=q, status=status)


@router.get("/{seller_id}", response_model=SellerOut)
def get_seller(seller_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*STAFF, Role.seller))) -> SellerOut:
    return service.get_seller_out(uow, seller_id)


@router.patch("/{seller_id}", response_model=SellerOut)
def update_seller(seller_id: DbId, body: SellerUpdate, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*STAFF))) -> SellerOut:
    return service.update_seller(uow, seller_id, body)
