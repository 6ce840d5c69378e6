"""What CRM contributes to hooks declared by contexts below it (wired by `merx.contexts.wire_hooks`).

The resolver imports CRM's identity module when called: wiring runs in every process at
start-up, and most never look up an identifier."""

from __future__ import annotations

from typing import Any

from merx.catalog.public import contribute_segments
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers.identifiers import contribute_identifier_resolver
from merx.orders.loyalty_points import contribute_loyalty


def profile_with_identifier(uow: UnitOfWork, kind: str, value: str, field: str) -> int | None:
    """CRM's identity index answers `GET /customers?identifier=kind:value` for every kind it keeps."""
    from merx.crm import identity

    if kind == "customer_id":
        if not value.isdigit():
            raise ValidationProblem.for_field(field, "customer_id must be a whole number")
        return identity.find_profile(uow, kind, value)
    return identity.find_profile(uow, kind, identity.normalise(uow, kind, value, field))


def _standing(uow: UnitOfWork, customer_id: int, currency: str) -> Any:
    from merx.crm import checkout_points

    return checkout_points.standing(uow, customer_id, currency)


def _spend(uow: UnitOfWork, customer_id: int, points: int, **kw: Any) -> None:
    from merx.crm import checkout_points

    checkout_points.spend(uow, customer_id, points, **kw)


def _segment_exists(uow: UnitOfWork, segment_id: int) -> bool:
    from merx.crm.models import Segment

    return uow.session.get(Segment, segment_id) is not None


def _segments_of(uow: UnitOfWork, customer_id: int, segment_ids: Any) -> set[int]:
    """Which of these segments the customer is a member of now (their evaluated membership)."""
    import sqlalchemy as sa

    from merx.crm.models import SegmentMember

    return set(uow.session.scalars(sa.select(SegmentMember.segment_id).where(
        SegmentMember.customer_id == customer_id, SegmentMember.segment_id.in_(sorted(segment_ids)))))


def register() -> None:
    contribute_identifier_resolver("crm", profile_with_identifier)
    # loyalty at checkout: points spent as a discount, tier benefits (orders/loyalty_points.py)
    contribute_loyalty(_standing, _spend)
    # early access: a product before its launch is its segment's members' (catalog/early_access.py)
    contribute_segments(_segment_exists, _segments_of)
