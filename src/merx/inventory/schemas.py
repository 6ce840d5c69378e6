"""API shapes of the inventory context."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from merx.core.schemas import StrictModel

SKU = Field(min_length=1, max_length=100)


def _known_timezone(v: str | None) -> str | None:
    """An IANA zone name such as Europe/Warsaw: opening hours are read in it, so a misspelt one
    would silently fall back to UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if v is None:
        return v
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{v!r} is not a time zone such as Europe/Warsaw or UTC") from None
    return v


class LocationCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["warehouse", "store"]
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=500)
    pickup: bool = False
    accepts_returns: bool = False
    ships: bool = True
    priority: int = Field(100, ge=0, le=100000)
    low_stock_threshold: int | None = Field(None, ge=0)
    opening_hours: dict[str, list[list[str]]] | None = None
    timezone: str = Field("UTC", max_length=64)
    active: bool = True

    _timezone = field_validator("timezone")(_known_timezone)


class LocationPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: Literal["warehouse", "store"] | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=500)
    pickup: bool | None = None
    accepts_returns: bool | None = None
    ships: bool | None = None
    priority: int | None = Field(None, ge=0, le=100000)
    low_stock_threshold: int | None = Field(None, ge=0)
    opening_hours: dict[str, list[list[str]]] | None = None
    timezone: str | None = Field(None, max_length=64)
    active: bool | None = None

    _timezone = field_validator("timezone")(_known_timezone)


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    lat: float | None
    lon: float | None
    address: str | None
    pickup: bool
    accepts_returns: bool
    ships: bool
    priority: int
    low_stock_threshold: int | None
    opening_hours: dict[str, Any]
    timezone: str
    active: bool
    open_now: bool | None
    version: int


class AdjustmentIn(StrictModel):
    sku: str = SKU
    location: str = Field(min_length=1, max_length=64)
    delta: int | None = Field(None, ge=-1_000_000, le=1_000_000)
    set: int | None = Field(None, ge=0, le=100_000_000)
    expected: int | None = Field(None, ge=0)
    reason: Literal["adjustment", "receipt", "count", "return", "damage"] | None = None
    note: str | None = Field(None, max_length=500)


class StockOut(BaseModel):
    sku: str
    location: str
    on_hand: int
    reserved: int
    available: int
    incoming: int
    status: str
    low_stock_threshold: int
    version: int


class TransferIn(StrictModel):
    sku: str = SKU
    from_location: str = Field(min_length=1, max_length=64)
    to_location: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1_000_000)
    in_transit: bool = False
    note: str | None = Field(None, max_length=500)


class TransferOut(BaseModel):
    id: int
    sku: str
    from_location: str
    to_location: str
    quantity: int
    status: str
    created_at: str | None
    received_at: str | None


class ThresholdIn(StrictModel):
    sku: str = SKU
    low_stock: int = Field(ge=0, le=1_000_000)
    location: str | None = Field(None, max_length=64)


class AvailabilityLocation(BaseModel):
    location: str
    name: str
    kind: str
    pickup: bool
    status: str
    distance_km: float | None
    lat: float | None
    lon: float | None
    open_now: bool | None
    available: int | None = None
    on_hand: int | None = None
    reserved: int | None = None


class AvailabilityOut(BaseModel):
    sku: str
    status: str
    available: int | None = None
    locations: list[AvailabilityLocation]


class MovementOut(BaseModel):
    id: int
    sku: str
    location: str | None
    reason: str
    on_hand_delta: int
    reserved_delta: int
    incoming_delta: int
    reference: str | None
    note: str | None
    actor_user_id: int | None
    at: str
