"""Who may see which sellers' records: a seller only its own (another seller's is as absent
as a missing one: 404), staff everyone. Every sellers use case goes through these."""

from __future__ import annotations

from merx.core.auth import Role
from merx.core.errors import FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.marketplace import public as marketplace

STAFF = (Role.admin, Role.staff)


def is_staff(uow: UnitOfWork) -> bool:
    return uow.actor.role in STAFF


def own_seller_id(uow: UnitOfWork) -> int | None:
    """The seller the caller is scoped to (None for staff: every seller)."""
    actor = uow.actor
    if actor.role in STAFF:
        return None
    if actor.role == Role.seller and actor.seller_id is not None:
        return actor.seller_id
    raise Forbidden("Only staff and sellers may do this")


def check_visible(uow: UnitOfWork, seller_id: int | None, what: str) -> None:
    """404 unless the caller is staff or the record's seller."""
    own = own_seller_id(uow)
    if own is not None and seller_id != own:
        raise NotFound(f"{what} does not exist")


def require_staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in STAFF:
        raise Forbidden("Only staff may do this")


def seller_for_write(uow: UnitOfWork, requested: int | None, *, field: str = "seller_id") -> int:
    """The seller a write is for: a seller's own (naming another is a 404 like any other
    seller's record), or the one staff name. The seller must exist."""
    own = own_seller_id(uow)
    if own is not None:
        if requested is not None and requested != own:
            raise NotFound(f"Seller {requested} does not exist")
        seller_id = own
    elif requested is None:
        raise ValidationProblem.for_field(field, "staff must name the seller", "required")
    else:
        seller_id = requested
    if marketplace.get_seller(uow, seller_id) is None:
        raise ValidationProblem(f"Seller {seller_id} does not exist",
                                errors=[FieldError(field, "no such seller", "unknown_seller")])
    return seller_id
