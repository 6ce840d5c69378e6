"""Use cases for marketplace sellers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Conflict, FieldError, NotFound
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.marketplace.events import SellerCreated, SellerUpdated
from merx.marketplace.models import Seller
from merx.marketplace.schemas import SellerCreate, SellerOut, SellerUpdate


@dataclass(frozen=True)
class SellerInfo:
    id: int
    code: str
    name: str
    premium: bool
    rating: Decimal | None
    violations: int
    active: bool = True


def _info(s: Seller) -> SellerInfo:
    return SellerInfo(id=s.id, code=s.code, name=s.name, premium=s.premium, rating=s.rating,
                      violations=s.violations, active=s.active)


def _out(s: Seller) -> SellerOut:
    return SellerOut.model_validate(s, from_attributes=True)


def _snapshot(s: Seller) -> dict:
    return _out(s).model_dump(mode="json")


def create_seller(uow: UnitOfWork, data: SellerCreate | None = None, **fields: object) -> SellerOut:
    data = data or SellerCreate(**fields)  # type: ignore[arg-type]
    if uow.session.scalar(sa.select(Seller.id).where(Seller.code == data.code)) is not None:
        raise Conflict(f"Seller code {data.code} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    seller = Seller(**data.model_dump())
    uow.session.add(seller)
    uow.session.flush()
    uow.audit("create", "seller", seller.id, after=_snapshot(seller))
    uow.emit(SellerCreated(seller_id=seller.id, code=seller.code, name=seller.name), version=seller.version)
    uow.commit()
    return _out(seller)


def update_seller(uow: UnitOfWork, seller_id: int, data: SellerUpdate) -> SellerOut:
    seller = uow.session.get(Seller, seller_id)
    if seller is None:
        raise NotFound(f"Seller {seller_id} does not exist")
    before = _snapshot(seller)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(seller, key, value)
    if _snapshot(seller) != before:
        seller.version += 1
        uow.session.flush()
        uow.audit("update", "seller", seller.id, before=before, after=_snapshot(seller))
        uow.emit(SellerUpdated(seller_id=seller.id, changes=list(changes)), version=seller.version)
    uow.commit()
    return _out(seller)


def get_seller(uow: UnitOfWork, seller_id: int) -> SellerInfo | None:
    seller = uow.session.get(Seller, seller_id)
    return _info(seller) if seller is not None else None


def get_seller_out(uow: UnitOfWork, seller_id: int) -> SellerOut:
    """A seller record; a seller sees only its own (another seller's is as absent as none)."""
    actor = uow.actor
    seller = uow.session.get(Seller, seller_id)
    if seller is None or (actor.role == Role.seller and actor.seller_id != seller_id):
        raise NotFound(f"Seller {seller_id} does not exist")
    return _out(seller)


def sellers_by_ids(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, SellerInfo]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {s.id: _info(s) for s in uow.session.scalars(sa.select(Seller).where(Seller.id.in_(ids)))}


def list_sellers(uow: UnitOfWork, *, limit: int | None = None, cursor: str | None = None) -> Page[SellerOut]:
    """One page of sellers, oldest first (staff only: the route says who may call it)."""
    items, nxt = paginate(uow.session, sa.select(Seller), Seller.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda s: SellerOut.model_validate(s, from_attributes=True))
    return Page[SellerOut](items=items, next_cursor=nxt)
