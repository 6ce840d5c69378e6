"""Events the inventory context publishes."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Event


class StockChanged(Event):
    """The on-hand quantity of a SKU at a location changed, or a hold/release changed its
    availability status (aggregate id '<sku>@<location>'). Holds that leave the status
    unchanged are not announced. `reason` is the ledger reason of the change."""

    event_type: ClassVar[str] = "inventory.stock_changed"
    aggregate_type: ClassVar[str] = "stock"

    sku: str
    location: str  # location code
    on_hand: int
    reserved: int
    available: int
    status: Literal["in_stock", "low_stock", "out_of_stock"]
    reason: str

    def aggregate_id(self) -> str:
        return f"{self.sku}@{self.location}"


class _LocationEvent(Event):
    aggregate_type: ClassVar[str] = "location"
    aggregate_field: ClassVar[str] = "location_id"

    location_id: int
    code: str


class LocationCreated(_LocationEvent):
    """A warehouse or store was added."""

    event_type: ClassVar[str] = "location.created"

    kind: Literal["warehouse", "store"]


class LocationUpdated(_LocationEvent):
    """A location's settings changed (`changed`: the field names)."""

    event_type: ClassVar[str] = "location.updated"

    changed: list[str]
