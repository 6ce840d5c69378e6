"""API shapes of the sellers context."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from merx.core.schemas import MoneyIn, MoneyOut, PatchModel, StrictModel
from merx.core.validation import DbId, INT32_MAX

Condition = Literal["new", "used", "refurbished"]


class OfferCreate(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    seller_id: DbId | None = None  # staff name the seller; a seller's own key may omit it
    price: MoneyIn
    shipping: MoneyIn | None = None
    quantity: int = Field(ge=0, le=INT32_MAX)
    lead_time_days: int = Field(default=2, ge=0, le=365)
    condition: Condition = "new"
    shipping_terms: str | None = Field(default=None, max_length=200)


class OfferUpdate(PatchModel):
    NOT_NULL = frozenset({"price", "quantity", "lead_time_days", "condition", "active"})

    price: MoneyIn | None = None
    shipping: MoneyIn | None = None
    quantity: int | None = Field(default=None, ge=0, le=INT32_MAX)
    lead_time_days: int | None = Field(default=None, ge=0, le=365)
    condition: Condition | None = None
    shipping_terms: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class OfferOut(BaseModel):
    id: int
    seller_id: int
    product_id: int
    sku: str
    price: MoneyOut
    shipping: MoneyOut
    quantity: int
    lead_time_days: int
    condition: str
    shipping_terms: str | None
    active: bool
    version: int


class BuyBoxEntry(BaseModel):
    offer: OfferOut
    seller_name: str
    seller_rating: Decimal | None
    landed_price: MoneyOut
    score: Decimal
    parts: dict[str, Decimal]  # price, rating, speed (each 0..1) before the weights


class BuyBoxOut(BaseModel):
    sku: str
    currency: str
    rule: str
    weights: dict[str, Decimal]
    winner: BuyBoxEntry | None
    offers: list[BuyBoxEntry]


class SellerOrderLineOut(BaseModel):
    id: int
    line_no: int
    offer_id: int | None
    sku: str
    name: str
    category: str | None
    quantity: int
    unit_price: MoneyOut
    total: MoneyOut
    commission: MoneyOut
    status: str
    reason: str | None
    refund_status: str


class SellerOrderOut(BaseModel):
    id: int
    order_id: int
    order_number: str
    seller_id: int | None
    status: str
    currency: str
    shipping_address: dict | None
    acceptance_deadline: dt.datetime | None
    ship_by: dt.datetime | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: dt.datetime | None
    shipped_late: bool | None
    version: int
    created_at: dt.datetime
    lines: list[SellerOrderLineOut]


class LineDecisionIn(StrictModel):
    line_id: DbId
    accepted: bool
    reason: str | None = Field(default=None, max_length=500)


class AcceptIn(StrictModel):
    lines: list[LineDecisionIn] = Field(min_length=1, max_length=200)


class ShipIn(StrictModel):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=100)
    tracking_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")


class IncidentIn(StrictModel):
    line_id: DbId
    kind: Literal["not_received", "damaged"]
    note: str | None = Field(default=None, max_length=1000)


class IncidentOut(BaseModel):
    id: int
    seller_order_id: int
    seller_id: int
    line_id: int
    kind: str
    note: str | None
    seller_reply: str | None
    status: str
    created_at: dt.datetime


class CommissionRuleIn(StrictModel):
    category: str | None = Field(default=None, min_length=1, max_length=100)
    seller_id: DbId | None = None
    rate: Decimal = Field(ge=0, le=1, max_digits=6, decimal_places=4)


class CommissionRuleOut(BaseModel):
    id: int
    category: str | None
    seller_id: int | None
    rate: Decimal


class LedgerEntryOut(BaseModel):
    id: int
    seller_id: int
    kind: str
    amount: MoneyOut
    seller_order_id: int | None
    line_id: int | None
    payout_id: int | None
    description: str | None
    created_at: dt.datetime


class AdjustmentIn(StrictModel):
    seller_id: DbId
    direction: Literal["credit", "debit"]  # credit: owed to the seller; debit: charged to it
    amount: MoneyIn
    description: str = Field(min_length=1, max_length=500)


class PayoutRunIn(StrictModel):
    period_end: dt.datetime


class PayoutOut(BaseModel):
    id: int
    cycle_id: int
    seller_id: int
    period_start: dt.datetime | None
    period_end: dt.datetime
    sales: MoneyOut
    commission: MoneyOut
    refunds: MoneyOut
    adjustments: MoneyOut
    amount: MoneyOut
    status: str


class PayoutCycleOut(BaseModel):
    id: int
    period_start: dt.datetime | None
    period_end: dt.datetime
    status: str
    sellers: int
    entries: int
    run_at: dt.datetime


class ViolationIn(StrictModel):
    seller_id: DbId
    kind: Literal["late_shipment", "counterfeit", "off_platform_contact", "misleading_listing", "other"]
    note: str | None = Field(default=None, max_length=500)
    penalty: Decimal = Field(default=Decimal("0.5"), ge=0, le=5, max_digits=4, decimal_places=2)


class ViolationOut(BaseModel):
    id: int
    seller_id: int
    kind: str
    note: str | None
    penalty: Decimal
    occurred_at: dt.datetime


class RatingOut(BaseModel):
    seller_id: int
    rating: Decimal | None
    parts: dict | None
    violations: int
    computed_at: dt.datetime | None


class ProposalIn(StrictModel):
    """A seller proposes a new catalog product (staff name the seller)."""

    seller_id: DbId | None = None
    sku: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    category: str | None = Field(default=None, max_length=100)
    brand: str | None = Field(default=None, max_length=100)
    ean: str | None = Field(default=None, max_length=14)
    attributes: dict[str, str | int | bool] = Field(default_factory=dict, max_length=100)
    image_urls: list[str] = Field(default_factory=list, max_length=20)
    price: MoneyIn


class ProposalDecisionIn(StrictModel):
    reason: str | None = Field(default=None, max_length=500)


class ProposalOut(BaseModel):
    id: int
    seller_id: int
    sku: str
    name: str
    description: str | None
    category: str | None
    brand: str | None
    ean: str | None
    attributes: dict
    image_urls: list[str]
    price: MoneyOut
    status: str
    reason: str | None
    product_id: int | None
    decided_at: dt.datetime | None
    created_at: dt.datetime
