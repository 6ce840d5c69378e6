"""Use cases for marketplace sellers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate, text_search
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
    status: str = "active"


def _info(s: Seller) -> SellerInfo:
    return SellerInfo(id=s.id, code=s.code, name=s.name, premium=s.premium, rating=s.rating,
                      violations=s.violations, active=s.active, status=s.status)


def _out(s: Seller) -> SellerOut:
    return SellerOut.model_validate(s, from_attributes=True)


def _snapshot(s: Seller) -> dict:
    return _out(s).model_dump(mode="json")


def create_seller(uow: UnitOfWork, data: SellerCreate | None = None, **fields: object) -> SellerOut:
    data = data or SellerCreate(**fields)  # type: ignore[arg-type]
    if uow.session.scalar(sa.select(Seller.id).where(Seller.code == data.code)) is not None:
        raise Conflict(f"Seller code {data.code} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    seller = Seller(**data.model_dump(), active=data.status == "active")
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
    reason = changes.pop("reason", None)
    if "active" in changes and "status" not in changes:  # the older flag: active <-> suspended
        changes["status"] = "active" if changes["active"] else "suspended"
    status = changes.pop("status", None)
    changes.pop("active", None)
    for key, value in changes.items():
        setattr(seller, key, value)
    if status is not None and status != seller.status:
        _check_status_change(seller, status)
        seller.status, seller.active = status, status == "active"
        changes["status"] = status
    if _snapshot(seller) != before:
        seller.version += 1
        uow.session.flush()
        after = _snapshot(seller) | ({"reason": reason} if reason else {})
        uow.audit("update", "seller", seller.id, before=before, after=after)
        uow.emit(SellerUpdated(seller_id=seller.id, changes=list(changes)), version=seller.version)
    uow.commit()
    return _out(seller)


# Onboarding: which status may follow which (pending is only the first).
STATUS_CHANGES = {"pending": {"active", "suspended"}, "active": {"suspended"}, "suspended": {"active"}}


def _check_status_change(seller: Seller, status: str) -> None:
    if status not in STATUS_CHANGES.get(seller.status, set()):
        raise ValidationProblem.for_field("status", f"a {seller.status} seller cannot become {status}",
                                          "invalid_transition")
    if status == "active" and seller.status == "pending" and seller.kyc_status != "verified":
        raise ValidationProblem.for_field("status", f"activation needs verified KYC (kyc_status is "
                                                    f"{seller.kyc_status})", "kyc_not_verified")


def record_rating(uow: UnitOfWork, seller_id: int, *, rating: Decimal | None, parts: dict, violations: int,
                  computed_at: dt.datetime) -> bool:
    """Store a computed rating (sellers/rating.py) in the caller's transaction (no commit).
    Emits seller.updated when the rating or the violation count changed, so search re-ranks
    the seller's products. Returns whether anything search reads changed."""
    seller = uow.session.get(Seller, seller_id)
    if seller is None:
        raise NotFound(f"Seller {seller_id} does not exist")
    changed = [k for k, v in (("rating", rating), ("violations", violations)) if getattr(seller, k) != v]
    seller.rating, seller.violations = rating, violations
    seller.rating_parts, seller.rating_computed_at = parts, computed_at
    if changed:
        seller.version += 1
        uow.emit(SellerUpdated(seller_id=seller.id, changes=changed), version=seller.version)
        uow.audit("rate", "seller", seller.id, after={"rating": str(rating) if rating is not None else None,
                                                      "violations": violations})
    uow.session.flush()
    return bool(changed)


def all_seller_ids(uow: UnitOfWork) -> list[int]:
    return list(uow.session.scalars(sa.select(Seller.id).order_by(Seller.id)))


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


def list_sellers(uow: UnitOfWork, *, limit: int | None = None, cursor: str | None = None, q: str | None = None,
                 status: str | None = None) -> Page[SellerOut]:
    """One page of sellers, oldest first (staff only: the route says who may call it); `q`:
    only those whose code, name, legal name, contact email or city contain it; `status`: only
    those in that onboarding status."""
    stmt = text_search(sa.select(Seller), q, Seller.code, Seller.name, Seller.legal_name, Seller.contact_email,
                       Seller.city)
    if status is not None:
        stmt = stmt.where(Seller.status == status)
    items, nxt = paginate(uow.session, stmt, Seller.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda s: SellerOut.model_validate(s, from_attributes=True))
    return Page[SellerOut](items=items, next_cursor=nxt)


def seller_id_by_code(uow: UnitOfWork, code: str) -> int | None:
    """A seller's id from its code (feeds and connectors name sellers by code)."""
    return uow.session.scalar(sa.select(Seller.id).where(Seller.code == code))
