"""Events of the marketplace context (aggregate "seller")."""

from __future__ import annotations

from typing import ClassVar

from merx.core.events import Event


class _SellerEvent(Event):
    aggregate_type: ClassVar[str] = "seller"
    aggregate_field: ClassVar[str] = "seller_id"

    seller_id: int


class SellerCreated(_SellerEvent):
    """A marketplace seller was registered."""

    event_type: ClassVar[str] = "seller.created"

    code: str
    name: str


class SellerUpdated(_SellerEvent):
    """A seller's name, premium flag, rating, violations, status or company data changed
    (`changes`: the field names); a computed rating (sellers context) is one too."""

    event_type: ClassVar[str] = "seller.updated"

    changes: list[str]
