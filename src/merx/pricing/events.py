"""Events of the pricing context (aggregate "promotion")."""

from __future__ import annotations

from typing import ClassVar

from merx.core.events import Event


class _PromotionEvent(Event):
    aggregate_type: ClassVar[str] = "promotion"
    aggregate_field: ClassVar[str] = "promotion_id"

    promotion_id: int


class PromotionCreated(_PromotionEvent):
    """A promotion (rule + reward, optionally with a coupon) was created."""

    event_type: ClassVar[str] = "promotion.created"

    name: str
    kind: str


class PromotionUpdated(_PromotionEvent):
    """A promotion's rule, reward, window, limits or stacking changed (`changed`: the field names)."""

    event_type: ClassVar[str] = "promotion.updated"

    changed: list[str]
