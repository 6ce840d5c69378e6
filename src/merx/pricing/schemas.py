"""API shapes of the pricing context."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from merx.core.money import MoneyError, check_currency
from merx.core.schemas import StrictModel
from merx.core.validation import parse_decimal_text

Kind = Literal["order_percent", "order_fixed", "line_percent", "line_fixed", "tiered_percent", "buy_x_get_y",
               "free_shipping"]


def _currency(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        return check_currency(v)
    except MoneyError as e:
        raise PydanticCustomError("currency", str(e)) from None


def _decimal_text(v: Any, what: str) -> Decimal:
    # finite, ASCII digits: "NaN" or "Infinity" used to reach a comparison that raised
    return parse_decimal_text(v, what)


class PriceListCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    currency: str
    channel: str | None = Field(None, max_length=32)
    customer_group: str | None = Field(None, max_length=64)
    priority: int = 0
    active: bool = True
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, v: str | None) -> str | None:
        return _currency(v)


class PriceListOut(BaseModel):
    id: int
    code: str
    name: str
    currency: str
    channel: str | None
    customer_group: str | None
    priority: int
    active: bool
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    entries: int = 0


class PriceIn(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    amount: Any  # decimal string, checked against the list's currency by the service


class PricesIn(StrictModel):
    prices: list[PriceIn] = Field(min_length=1, max_length=10000)


class TierIn(StrictModel):
    threshold: Any
    percent: Any


class PromotionCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "name": "Welcome: 10% off", "kind": "order_percent", "percent": "10", "coupon_code": "WELCOME10"}]})

    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    priority: int = 0
    stacking: Literal["exclusive", "stackable"] = "stackable"
    percent: Any = None
    currency: str | None = None
    amount: Any = None
    min_subtotal: Any = None
    tiers: list[TierIn] | None = None
    skus: list[str] = Field(default_factory=list, max_length=1000)
    categories: list[str] = Field(default_factory=list, max_length=1000)
    channels: list[Literal["web", "store", "marketplace", "b2b"]] = Field(default_factory=list)
    customer_groups: list[str] = Field(default_factory=list)
    buy_quantity: int = Field(0, ge=0, le=1000)
    get_quantity: int = Field(0, ge=0, le=1000)
    get_percent: Any = None
    coupon_code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    usage_limit_total: int | None = Field(None, ge=1)
    usage_limit_per_customer: int | None = Field(None, ge=1)
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    active: bool = True

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, v: str | None) -> str | None:
        return _currency(v)

    @field_validator("percent", "get_percent")
    @classmethod
    def _percent(cls, v: Any) -> Any:
        if v is None:
            return v
        d = _decimal_text(v, "percent")
        if not (Decimal(0) < d <= Decimal(100)):
            raise PydanticCustomError("percent", "must be greater than 0 and at most 100")
        return d

    @model_validator(mode="after")
    def _window(self) -> "PromotionCreate":
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise PydanticCustomError("datetime", f"{name} must carry a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise PydanticCustomError("window", "ends_at must be after starts_at")
        return self


class PromotionPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    priority: int | None = None
    stacking: Literal["exclusive", "stackable"] | None = None
    active: bool | None = None
    usage_limit_total: int | None = Field(None, ge=1)
    usage_limit_per_customer: int | None = Field(None, ge=1)
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


class PromotionOut(BaseModel):
    id: int
    name: str
    kind: str
    priority: int
    stacking: str
    percent: str | None
    currency: str | None
    amount: str | None
    min_subtotal: str | None
    tiers: list[dict[str, str]]
    skus: list[str]
    categories: list[str]
    channels: list[str]
    customer_groups: list[str]
    buy_quantity: int
    get_quantity: int
    get_percent: str | None
    coupon_code: str | None
    usage_limit_total: int | None
    usage_limit_per_customer: int | None
    times_used: int
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    active: bool
    version: int


class RedemptionOut(BaseModel):
    """A promotion applied to an order; `released` when the order was cancelled (the use is given back)."""

    id: int
    promotion_id: int
    order_id: int
    customer_key: str | None
    coupon_code: str | None
    amount: str
    currency: str
    state: str
    created_at: dt.datetime


class ShippingRateIn(StrictModel):
    amount: Any


class ShippingRateOut(BaseModel):
    currency: str
    amount: str


# -- competitors, competitor prices, pricing rules, proposals (served under /sales/...) -------


class CompetitorCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    website: str | None = Field(None, max_length=500, pattern=r"^https?://")


class CompetitorOut(BaseModel):
    id: int
    code: str
    name: str
    website: str | None
    active: bool
    prices_observed: int = 0
    last_observed_at: dt.datetime | None = None


class CompetitorPriceIn(StrictModel):
    """A price seen at a competitor. In another currency than the shop's it needs `rate`
    (shop currency per unit of `currency`), given here or in the import's `rates`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "competitor": "lampworld", "sku": "LIG-00048", "amount": "47.90", "currency": "EUR",
        "observed_at": "2026-12-01T09:00:00Z", "source": "price-feed", "url": "https://lampworld.example/p/48"}]})

    competitor: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=100)
    amount: str = Field(min_length=1, max_length=40)
    currency: str
    rate: str | None = Field(None, max_length=40)
    observed_at: dt.datetime | None = None  # now when omitted
    source: str = Field("api", min_length=1, max_length=64)
    url: str | None = Field(None, max_length=1000, pattern=r"^https?://")
    in_stock: bool | None = None

    @field_validator("currency")
    @classmethod
    def _cur(cls, v: str) -> str:
        return _currency(v)  # type: ignore[return-value]

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is None:
            return None
        v = v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v
        if not 1900 <= v.year <= 2200:
            raise ValueError("must be a time between the years 1900 and 2200")
        return v.astimezone(dt.timezone.utc)


class CompetitorPriceImport(StrictModel):
    rows: list[CompetitorPriceIn] = Field(min_length=1, max_length=10000)
    rates: dict[str, str] = Field(default_factory=dict, description="currency -> shop currency per unit")


class CompetitorPriceOut(BaseModel):
    id: int
    competitor: str
    sku: str
    amount: str  # in the shop's currency
    currency: str
    observed_amount: str
    observed_currency: str
    rate: str | None
    observed_at: dt.datetime
    source: str
    url: str | None
    in_stock: bool | None


class CompetitorPriceImportReport(BaseModel):
    recorded: int
    errors: list[dict[str, Any]]  # {"row", "field", "message"}


class PricePositionRow(BaseModel):
    sku: str
    name: str | None
    category: str | None
    our_price: str | None
    lowest: str | None
    lowest_competitor: str | None
    median: str | None
    competitors: int
    rank: int | None  # 1 = cheapest
    of: int
    index: str | None  # our price / median x 100
    position: Literal["cheapest", "at_or_below_median", "above_median", "most_expensive", "no_data"]


class PricePositionOut(BaseModel):
    currency: str
    since: dt.datetime
    summary: dict[str, int]
    rows: list[PricePositionRow]


Rounding = Literal["none", "0.99", "0.95", "0.00"]


class PricingRuleCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "code": "match-lamps", "name": "Match the lowest on lamps", "kind": "match_lowest",
        "price_list": "competitive", "undercut": "0.01", "floor_margin_percent": "15", "rounding": "0.99",
        "categories": ["lighting"]}]})

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["cost_plus", "match_lowest", "target_margin"]
    price_list: str = Field(min_length=1, max_length=64, description="where approved prices are written")
    markup_percent: Decimal | None = Field(None, ge=0, le=10000)
    target_margin_percent: Decimal | None = Field(None, ge=0, lt=100)
    undercut: Decimal | None = Field(None, ge=0, le=1000000)
    floor_margin_percent: Decimal = Field(Decimal(0), ge=0, lt=100)
    rounding: Rounding = "none"
    categories: list[str] | None = Field(None, max_length=200)
    skus: list[str] | None = Field(None, max_length=10000)
    max_age_days: int = Field(30, ge=1, le=365)


class PricingRuleOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    currency: str
    price_list: str
    markup_percent: str | None
    target_margin_percent: str | None
    undercut: str | None
    floor_margin_percent: str
    rounding: str
    categories: list[str] | None
    skus: list[str] | None
    max_age_days: int
    active: bool
    pending_proposals: int = 0


class RuleRunOut(BaseModel):
    rule: str
    proposed: int
    superseded: int
    skipped: dict[str, int]  # reason -> SKUs
    proposals: list["PriceProposalOut"]


class PriceProposalOut(BaseModel):
    id: int
    rule: str
    sku: str
    name: str | None = None
    currency: str
    current_price: str | None
    proposed_price: str
    change_percent: str | None
    cost: str
    floor: str
    margin_percent: str  # of the proposed price
    lowest_competitor: str | None
    median_competitor: str | None
    reason: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str | None


class ProposalDecisionIn(StrictModel):
    note: str | None = Field(None, max_length=500)


RuleRunOut.model_rebuild()
