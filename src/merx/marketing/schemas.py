"""Marketing API shapes (input models forbid unknown fields)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, BaseModel, Field, field_validator

from merx.core.schemas import StrictModel

Channel = Literal["email", "sms", "messaging"]
CampaignChannel = Literal["email", "sms", "messaging", "inapp"]
KEY = r"^[a-z][a-z0-9_]{0,63}$"


class CampaignIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    segment_id: int = Field(ge=1)
    template: str = Field(pattern=KEY)
    channel: CampaignChannel = "email"
    template_b: str | None = Field(None, pattern=KEY)
    ab_test_fraction: float = Field(0.0, ge=0, le=0.5)


class CampaignPatch(StrictModel):
    """A draft campaign's fields to change (those sent); `template_b: null` ends an A/B test
    (send `ab_test_fraction: 0` with it)."""
    name: str | None = Field(None, min_length=1, max_length=200)
    segment_id: int | None = Field(None, ge=1)
    template: str | None = Field(None, pattern=KEY)
    channel: CampaignChannel | None = None
    template_b: str | None = Field(None, pattern=KEY)
    ab_test_fraction: float | None = Field(None, ge=0, le=0.5)


class CampaignStartIn(StrictModel):
    at: dt.datetime | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("needs a time zone (e.g. 2026-12-04T08:00:00+01:00)")
        return v


class CampaignOut(BaseModel):
    id: int
    name: str
    segment_id: int
    channel: str
    template: str
    template_b: str | None
    ab_test_fraction: float
    status: str
    scheduled_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    recipients_total: int
    prepared: int
    winner: str | None
    ab_result: dict[str, Any] | None
    seed: int | None


class CampaignReport(BaseModel):
    id: int
    name: str
    status: str
    channel: str
    segment_id: int
    started_at: dt.datetime | None
    winner: str | None
    ab_result: dict[str, Any] | None
    counts: dict[str, int]
    first_touch: dict[str, Any]
    last_touch: dict[str, Any]
    window_days: int


class ReplenishIn(StrictModel):
    """A replenishment interval: after `days`, remind of a bought SKU or of any SKU of a category."""
    sku: str | None = Field(None, min_length=1, max_length=100)
    category: str | None = Field(None, min_length=1, max_length=100)
    days: int = Field(ge=1, le=730)


class StepIn(StrictModel):
    wait_hours: float = Field(ge=0, le=8760)
    template: str = Field(pattern=KEY)
    stop_if_purchased: bool = False
    replenish: list[ReplenishIn] | None = Field(None, max_length=500,
                                                description="first step of a replenishment journey only")


class JourneyIn(StrictModel):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=200)
    trigger: Literal["cart.abandoned", "order.placed", "consent.granted", "segment", "product.viewed", "replenishment"]
    steps: list[StepIn] = Field(min_length=1, max_length=20)
    segment_id: int | None = Field(None, ge=1)
    active: bool = True


class JourneyPatch(StrictModel):
    active: bool


class JourneyOut(BaseModel):
    id: int
    key: str
    name: str
    trigger: str
    channel: str
    steps: list[dict[str, Any]]
    active: bool
    states: dict[str, int]


class EnrolmentOut(BaseModel):
    id: int
    journey_id: int
    customer_id: int
    reference: str
    step: int
    state: str
    next_at: dt.datetime | None
    exit_reason: str | None
    entered_at: dt.datetime


class TemplateIn(StrictModel):
    subject: str = Field(min_length=1, max_length=500)
    body_text: str = Field(min_length=1, max_length=100_000)
    body_html: str | None = Field(None, max_length=200_000)


class PreviewIn(StrictModel):
    customer_id: int | None = Field(None, ge=1)
    locale: str | None = Field(None, max_length=8)


class TestSendIn(StrictModel):
    to: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    customer_id: int | None = Field(None, ge=1)
    locale: str | None = Field(None, max_length=8)


class MessageOut(BaseModel):
    id: int
    kind: str
    channel: str
    customer_id: int | None
    address: str | None
    locale: str | None
    template: str
    campaign_id: int | None
    enrolment_id: int | None
    variant: str | None
    subject: str | None
    status: str
    reason: str | None
    due_at: dt.datetime
    created_at: dt.datetime
    sent_at: dt.datetime | None
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None
    attempts: int


class QrIn(StrictModel):
    label: str = Field(min_length=1, max_length=200)
    source: Literal["flyer", "poster", "packaging", "business_card", "other"]
    target_url: str = Field(min_length=1, max_length=1000)
    campaign_id: int | None = Field(None, ge=1)


class QrOut(BaseModel):
    id: int
    code: str
    label: str
    source: str
    campaign_id: int | None
    target_url: str
    short_url: str
    scans: int
    created_at: dt.datetime


class SuppressionIn(StrictModel):
    channel: Channel = "email"
    address: str = Field(min_length=3, max_length=320)
    reason: Literal["bounce", "complaint", "manual"] = "manual"


class InboundEvent(StrictModel):
    """A gateway's or mail provider's report: a bounce or a complaint about an address."""

    type: Literal["bounce", "complaint", "delivered"]
    channel: Channel = "email"
    address: str = Field(min_length=3, max_length=320)
    message: str | None = Field(None, max_length=200)  # our idem_key, when the provider echoes it
    detail: str | None = Field(None, max_length=500)
    permanent: bool = True


class GiveawayIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    rule: Literal["purchase", "manual"]
    starts_at: dt.datetime
    ends_at: dt.datetime
    winners: int = Field(1, ge=1, le=1000)


class GiveawayEntryIn(StrictModel):
    customer_id: int = Field(ge=1)
    evidence: str | None = Field(None, max_length=500)


class DrawIn(StrictModel):
    seed: int | None = Field(None, ge=0, le=2**48)


class GiveawayOut(BaseModel):
    id: int
    name: str
    rule: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    winners_count: int
    status: str
    seed: int | None
    entries_sha256: str | None
    winners: list[int]
    drawn_at: dt.datetime | None
    entries: int


class RecipientIn(StrictModel):
    timezone: str | None = Field(description="IANA time zone, e.g. Europe/Berlin; null: use the country's",
                                 max_length=64)


class RecipientOut(BaseModel):
    customer_id: int
    timezone: str | None
    source: str | None  # storefront | staff
    country: str | None
    effective_timezone: str  # what the sender uses
    basis: Literal["own", "country", "shop default"]


class IncomingMessage(StrictModel):
    """An SMS or messaging-app message the gateway received for the shop."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=120)  # the gateway's message id (redelivery = same id)
    channel: Literal["sms", "messaging"]
    sender: str = Field(alias="from", min_length=3, max_length=64)
    text: str = Field(min_length=1, max_length=4000)
