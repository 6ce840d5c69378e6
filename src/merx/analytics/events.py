"""Events analytics emits (its abandonment scan also emits the orders context's `cart.abandoned`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Event, Timestamp


class BrowseAbandoned(Event):
    """A known customer viewed products (`items`) and did not add to cart or buy within the
    configured hours."""

    event_type: ClassVar[str] = "browse.abandoned"
    aggregate_type: ClassVar[str] = "cart"
    aggregate_field: ClassVar[str] = "cart_key"

    cart_key: str
    customer_id: int
    items: int
    last_activity_at: Timestamp
    detected_by: Literal["analytics"] = "analytics"
