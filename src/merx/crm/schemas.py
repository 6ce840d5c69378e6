"""API shapes of the CRM context."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

from merx.core.money import CURRENCY_EXPONENTS
from merx.core.schemas import StrictModel


class EventBatch(StrictModel):
    # Items are validated one by one by the service (bad ones reported by index, good ones kept).
    events: list[Any] = Field(..., description="Up to 1,000 events of the vocabulary (GET /api/v1/events/vocabulary)")


class RejectedEvent(BaseModel):
    index: int
    errors: list[dict[str, str]]


class IngestOut(BaseModel):
    accepted: int
    rejected: list[RejectedEvent]


class EventOut(BaseModel):
    id: int
    type: str
    channel: str
    occurred_at: dt.datetime
    anonymous_id: str | None
    customer_id: int | None
    source: str | None
    campaign: str | None
    properties: dict[str, Any]


class IdentifyIn(StrictModel):
    anonymous_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    loyalty_card: str | None = Field(default=None, max_length=320)
    store_customer: str | None = Field(default=None, max_length=320)
    marketplace_buyer: str | None = Field(default=None, max_length=320)
    messaging_openid: str | None = Field(default=None, max_length=320)
    customer_id: int | None = None
    verified: bool = Field(default=False, description="Back-office callers only: the identifiers were confirmed "
                                                      "(login, double opt-in); verified identifiers may merge profiles")
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    link_token: str | None = Field(default=None, max_length=512, description=(
        "Without an API key: the token from POST /customers/{id}/link-token (issued after a sign-in or "
        "in a verified-email link); the anonymous id then joins that customer. Identifiers sent without "
        "it are unverified claims: they never link to, or reveal, an existing profile."))

    def identifiers(self) -> dict[str, str]:
        keys = ("email", "phone", "loyalty_card", "store_customer", "marketplace_buyer", "messaging_openid", "customer_id")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def traits(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("first_name", "last_name", "country") if getattr(self, k) is not None}


class IdentifyOut(BaseModel):
    customer_id: int
    created: bool
    events_rekeyed: int
    merged_from: list[int]
    conflicts: list[dict[str, Any]]


class IdentityIn(StrictModel):
    kind: str
    value: str = Field(..., max_length=320)
    verified: bool = True


class MergeIn(StrictModel):
    duplicate_id: int = Field(..., description="The profile merged into this one (it is hidden afterwards)")


class MergeOut(BaseModel):
    id: int
    from_customer_id: int
    into_customer_id: int
    rule: str
    created_at: dt.datetime
    undone_at: dt.datetime | None
    moved: dict[str, Any]


class ConsentIn(StrictModel):
    channel: str
    granted: bool
    source: str = Field(..., min_length=1, max_length=100, description="Where consent was given: checkout, store, form...")


class SegmentIn(StrictModel):
    name: str = Field(..., min_length=1, max_length=200)
    expression: str = Field(..., min_length=1, max_length=4000)
    description: str | None = Field(default=None, max_length=2000)


class SegmentUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    expression: str | None = Field(default=None, min_length=1, max_length=4000)
    description: str | None = Field(default=None, max_length=2000)


class SegmentPreviewIn(StrictModel):
    expression: str = Field(..., min_length=1, max_length=4000)


class SegmentOut(BaseModel):
    id: int
    name: str
    kind: str
    expression: str | None
    description: str | None
    member_count: int
    evaluated_at: dt.datetime | None
    created_at: dt.datetime
    version: int


class RfmRunIn(StrictModel):
    reference_date: dt.date | None = Field(default=None, description="Default: the day after the latest order")
    until: dt.datetime | None = None
    save_segments: bool = True


class TierIn(StrictModel):
    active_days: int = Field(default=90, ge=1, le=3650)
    returning_min_orders: int = Field(default=2, ge=2, le=1000)
    high_value_share: float = Field(default=0.2, gt=0, lt=1)
    as_of: dt.datetime | None = None
    save_segments: bool = False


class ClusterIn(StrictModel):
    k_min: int = Field(default=2, ge=2, le=12)
    k_max: int = Field(default=8, ge=2, le=12)
    as_of: dt.datetime | None = None
    save_segments: bool = False


class TierDef(StrictModel):
    name: str = Field(..., min_length=1, max_length=64)
    threshold: int = Field(..., ge=0)
    benefits: list[str] = Field(default_factory=list)


class ProgramIn(StrictModel):
    code: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(..., min_length=1, max_length=200)
    currency: str
    points_per_unit: Decimal = Field(..., gt=0, max_digits=12, decimal_places=4)
    point_value: Decimal = Field(..., gt=0, max_digits=12, decimal_places=6,
                                 description="Currency value of one point when redeemed")
    category_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    bonus_events: dict[str, int] = Field(default_factory=dict, description="Tracked event type -> bonus points")
    expiry_days: int | None = Field(default=None, ge=1, le=3650)
    tiers: list[TierDef] = Field(default_factory=list)
    referral_reward_points: int = Field(default=0, ge=0)
    redeem_min_points: int = Field(default=0, ge=0, description="Fewest points spent at once at checkout")
    redeem_max_share: Decimal = Field(default=Decimal(1), gt=0, le=1, max_digits=5, decimal_places=4,
                                      description="Most of the goods total (after promotions) points may pay, 0-1")

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in CURRENCY_EXPONENTS:
            raise ValueError(f"{v!r} is not an ISO 4217 currency code")
        return v

    @field_validator("points_per_unit", "point_value", "redeem_max_share", mode="before")
    @classmethod
    def _no_float(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError('must be a decimal string such as "1.5", not a float')
        return v

    @field_validator("bonus_events")
    @classmethod
    def _events(cls, v: dict[str, int]) -> dict[str, int]:
        from merx.crm.events_vocab import EVENT_TYPES

        for key, points in v.items():
            if key not in EVENT_TYPES:
                raise ValueError(f"{key!r} is not an event type")
            if points <= 0:
                raise ValueError(f"bonus for {key} must be positive")
        return v


class ProgramOut(BaseModel):
    id: int
    code: str
    name: str
    currency: str
    points_per_unit: Decimal
    point_value: Decimal
    category_multipliers: dict[str, Any]
    bonus_events: dict[str, int]
    expiry_days: int | None
    tiers: list[dict[str, Any]]
    referral_reward_points: int
    redeem_min_points: int = 0
    redeem_max_share: Decimal = Decimal(1)


class RedeemIn(StrictModel):
    customer_id: int
    points: int = Field(..., gt=0)
    order_ref: str = Field(..., min_length=1, max_length=64)
    program: str | None = None


class AdjustIn(StrictModel):
    customer_id: int
    points: int
    reason: str = Field(..., min_length=1, max_length=200)
    program: str | None = None


class ReferralIn(StrictModel):
    code: str = Field(..., min_length=4, max_length=32)
    referred_customer_id: int
