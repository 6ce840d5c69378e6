"""API shapes of the in-store context (inputs forbid unknown fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from merx.core.schemas import StrictModel

StoreCode = Field(min_length=1, max_length=64)


class BindStoresIn(StrictModel):
    stores: list[str] = Field(min_length=1, max_length=50)


class ShelfCountIn(StrictModel):
    counted: int = Field(ge=0, le=1_000_000)
    note: str | None = Field(None, max_length=300)


class AssistedLineIn(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0, le=99)


class AddressIn(StrictModel):
    name: str | None = Field(None, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    country: str = Field(min_length=2, max_length=2)


class AssistedOrderCreate(StrictModel):
    customer_id: int | None = None
    email: str | None = Field(None, max_length=320)
    lines: list[AssistedLineIn] = Field(min_length=1, max_length=50)
    fulfilment: Literal["ship", "pickup"]
    pickup_store: str | None = Field(None, max_length=64)
    address: AddressIn | None = None
    payment_mode: Literal["counter", "at_pickup", "link"]


class HeldCartCreate(StrictModel):
    """A cart held for the customer and sent to them as a link (email, else SMS to their phone)."""

    customer_id: int
    lines: list[AssistedLineIn] = Field(min_length=1, max_length=50)
    fulfilment: Literal["ship", "pickup"]
    pickup_store: str | None = Field(None, max_length=64)
    address: AddressIn | None = None


class HandOverIn(StrictModel):
    code: str | None = Field(None, max_length=20)
    name: str | None = Field(None, max_length=200)
    payment_collected: bool = False


class CounterReturnLineIn(StrictModel):
    line: int = Field(ge=1)
    quantity: int = Field(gt=0, le=10_000)
    reason: Literal["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "too_small",
                    "too_large", "late_delivery", "other"]
    restock: bool = True


class CounterReturnCreate(StrictModel):
    order_number: str = Field(min_length=1, max_length=32)
    lines: list[CounterReturnLineIn] = Field(min_length=1, max_length=200)
    condition: Literal["as_new", "opened", "damaged"]
    refund_method: Literal["original_payment", "cash", "none"]
    note: str | None = Field(None, max_length=500)


class PayByLinkIn(StrictModel):
    """The customer pays an order through its payment link: the provider (one of the link's
    `providers`) and, for the test card gateway, the card number."""

    provider: str = Field(min_length=1, max_length=32)
    card: str | None = Field(None, max_length=23)
