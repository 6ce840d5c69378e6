"""API shapes of the orders context (orders, returns, carts)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from merx.core.money import MoneyError, check_currency
from merx.core.schemas import StrictModel
from merx.core.validation import DbId

Channel = Literal["web", "store", "marketplace", "b2b"]


def _currency_value(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        return check_currency(v)
    except MoneyError as e:
        raise PydanticCustomError("currency", str(e)) from None


def _email_value(v: str | None) -> str | None:
    if v is None:
        return v
    v = v.strip().lower()
    local, _, domain = v.partition("@")
    if not local or "." not in domain or " " in v or v.count("@") != 1:
        raise PydanticCustomError("email", "is not an email address")
    return v


class LineIn(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0, le=10_000)
    offer_id: DbId | None = None  # a marketplace seller's offer for this SKU (orders/seller_lines.py)


class CustomerIn(StrictModel):
    id: int | None = None  # back office: an existing customer
    email: str | None = Field(None, max_length=320)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    group: str | None = Field(None, max_length=64)  # price-list customer group (honoured for back-office callers)
    # the shopper's language (a supported locale): kept on a new guest's record, so the order's
    # notifications are written in it
    locale: str | None = Field(None, max_length=8)
    # A business buyer's VAT id: a valid one of another EU country on a b2b order is reverse charged
    vat_id: str | None = Field(None, max_length=20, pattern=r"^[A-Za-z]{2}[0-9A-Za-z .-]{2,16}$")

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _email_value(v)


class AddressIn(StrictModel):
    name: str | None = Field(None, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    country: str = Field(min_length=2, max_length=2)


class FulfilmentIn(StrictModel):
    type: Literal["ship", "pickup"]
    location: str | None = Field(None, max_length=64)  # the pickup store
    address: AddressIn | None = None
    strategy: Literal["priority", "most_stock"] | None = None  # back office may override the allocation strategy
    shipping_method: str | None = Field(None, max_length=32)  # a method code of the zone; default: the cheapest

    @model_validator(mode="after")
    def _pickup_needs_store(self) -> "FulfilmentIn":
        if self.type == "pickup" and not self.location:
            raise PydanticCustomError("pickup", "fulfilment.location: a pickup order names its store")
        return self


class PaymentIn(StrictModel):
    provider: str = Field(min_length=1, max_length=32)
    behaviour: Literal["succeed", "decline", "timeout"] | None = None  # the test provider only
    # The test provider only: a test card number (digits, spaces allowed); the provider derives
    # the card fingerprint the order events carry from it. Never stored.
    card: str | None = Field(None, pattern=r"^[0-9 ]{12,23}$")
    capture: bool = True  # capture right after a successful authorisation


class OrderCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "channel": "web", "currency": "EUR",
        "customer": {"email": "anna.nowak@example.pl", "first_name": "Anna", "last_name": "Nowak"},
        "lines": [{"sku": "LIG-00048", "quantity": 1}, {"sku": "KIT-00012", "quantity": 2}],
        "fulfilment": {"type": "pickup", "location": "ST-WAW"},
        "payment": {"provider": "manual"}, "coupon": "WELCOME10"}]})

    channel: Channel = "web"
    currency: str | None = None
    customer: CustomerIn
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    fulfilment: FulfilmentIn = FulfilmentIn(type="ship")
    payment: PaymentIn = PaymentIn(provider="manual")
    coupon: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return _currency_value(v)


class MoneyStr(BaseModel):
    amount: str
    currency: str


class AllocationOut(BaseModel):
    line: int
    sku: str
    location: str | None
    quantity: int


class OrderLineOut(BaseModel):
    line: int
    sku: str
    product_id: int | None
    name: str
    category: str | None
    quantity: int
    unit_price: str
    subtotal: str
    discount: str
    total: str
    returned_quantity: int
    unit_cost: str | None = Field(None, description="The unit cost landed at the time of sale, in the order's "
                                  "currency (null: the catalog had no cost for it then). Back office only.")


class AppliedPromotionOut(BaseModel):
    promotion_id: int
    name: str
    kind: str
    coupon_code: str | None
    amount: str


class TotalsOut(BaseModel):
    currency: str
    subtotal: str
    discount: str
    shipping: str
    shipping_discount: str
    total: str
    refunded: str
    tax: str = "0.00"


class TaxLineOut(BaseModel):
    country: str
    tax_class: str
    rate: str
    net: str
    tax: str
    currency: str
    reverse_charge: bool


class OrderPreviewLine(BaseModel):
    sku: str
    quantity: int
    unit_price: str
    discount: str
    total: str


class OrderPreviewOut(BaseModel):
    currency: str
    lines: list[OrderPreviewLine]
    totals: TotalsOut
    prices_include_tax: bool
    tax_lines: list[TaxLineOut]
    coupon_problem: str | None


class PaymentOut(BaseModel):
    provider: str
    status: str
    reference: str | None
    action_url: str | None = Field(None, description="where the shopper completes the payment (3-D Secure), while "
                                   "the payment status is action_required")


class FulfilmentOut(BaseModel):
    type: str
    location: str | None
    address: dict[str, Any] | None
    tracking: dict[str, Any] | None


class OrderOut(BaseModel):
    id: int
    number: str
    status: str
    channel: str
    customer_id: int | None
    email: str | None
    currency: str
    lines: list[OrderLineOut]
    allocations: list[AllocationOut]
    promotions: list[AppliedPromotionOut]
    totals: TotalsOut
    tax_lines: list[TaxLineOut] = []
    fulfilment: FulfilmentOut
    payment: PaymentOut
    coupon: str | None
    cancel_reason: str | None
    hold_expires_at: dt.datetime | None = Field(
        None, description="A guest's pay-later order is cancelled at this time unless staff accept it first.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CancelIn(StrictModel):
    reason: str | None = Field(None, max_length=500)


class FulfilIn(StrictModel):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=100)
    tracking_url: str | None = Field(None, max_length=500)


class PickedUpIn(StrictModel):
    location: str = Field(min_length=1, max_length=64)  # the store confirming the handover
    payment_collected: bool = False  # pay-in-store orders: the money was taken at the counter


class ReturnLineIn(StrictModel):
    line: int = Field(ge=1)  # the order line number
    quantity: int = Field(gt=0, le=10_000)
    reason: Literal["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed", "too_small",
                    "too_large", "late_delivery", "other"]
    note: str | None = Field(None, max_length=500)
    restock: bool = True


class ReturnCreate(StrictModel):
    location: str | None = Field(None, max_length=64)  # the store where it is handed in (none: sent back online)
    reason: str | None = Field(None, max_length=500)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)


class ReceiveReturnIn(StrictModel):
    location: str | None = Field(None, max_length=64)  # required when the return did not name one


class ReturnLineOut(BaseModel):
    line: int
    sku: str
    quantity: int
    reason: str
    note: str | None
    restock: bool


class ReturnOut(BaseModel):
    id: int
    order_id: int
    status: str
    reason: str | None
    started_channel: str
    location: str | None
    refund: str
    currency: str
    lines: list[ReturnLineOut]
    created_at: dt.datetime
    received_at: dt.datetime | None
    refunded_at: dt.datetime | None


# --------------------------------------------------------------------------------------------- carts


class CartCreate(StrictModel):
    currency: str | None = None
    channel: Channel = "web"
    email: str | None = Field(None, max_length=320)
    lines: list[LineIn] = Field(default_factory=list, max_length=200)
    fulfilment: FulfilmentIn | None = None
    coupon: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return _currency_value(v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _email_value(v)


class CartLineSet(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=0, le=10_000)  # 0 removes the line


class CartPatch(StrictModel):
    email: str | None = Field(None, max_length=320)
    fulfilment: FulfilmentIn | None = None
    coupon: str | None = Field(None, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _email_value(v)


class CartLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: str
    total: str


class CartOut(BaseModel):
    id: int
    token: str | None = None  # shown once, when an anonymous cart is created
    status: str
    currency: str
    channel: str
    customer_id: int | None
    email: str | None
    fulfilment: dict[str, Any] | None
    coupon: str | None
    lines: list[CartLineOut]
    totals: TotalsOut
    promotions: list[AppliedPromotionOut]
    coupon_problem: str | None
    hold_expires_at: dt.datetime | None
    holds: list[dict[str, Any]]
    order_id: int | None
    version: int


class CartOrderIn(StrictModel):
    payment: PaymentIn = PaymentIn(provider="manual")
    customer: CustomerIn | None = None
