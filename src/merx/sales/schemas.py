"""API shapes of the sales context. Input models forbid unknown fields; money is
{"amount": "19.99", "currency": "EUR"} strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from merx.core.schemas import MoneyIn, MoneyOut, PatchModel, StrictModel

PaymentTerms = Literal["prepaid", "net14", "net30", "net60"]
Tier = Literal["key", "gold", "standard", "small"]
LeadSource = Literal["api", "web_form", "import", "qr_scan", "trade_fair", "chat_group", "forum", "referral"]


class AddressIn(StrictModel):
    label: str | None = Field(None, max_length=60)
    line1: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class ContactIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    position: str | None = Field(None, max_length=120)


class AccountCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    tax_id: str | None = Field(None, max_length=40)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=20)
    locations: list[AddressIn] = Field(default_factory=list, max_length=200)
    owner_user_id: int | None = None  # staff assign; a rep's new account is the rep's
    customer_group: str | None = Field(None, max_length=64)
    payment_terms: PaymentTerms = "net30"
    credit_limit: MoneyIn | None = None
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    tier: Tier = "standard"
    territory: str | None = Field(None, max_length=64)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)


class AccountUpdate(PatchModel):
    NOT_NULL = frozenset({"name", "payment_terms", "tier", "owner_user_id"})
    name: str | None = Field(None, min_length=1, max_length=200)
    owner_user_id: int | None = None
    customer_group: str | None = Field(None, max_length=64)
    payment_terms: PaymentTerms | None = None
    credit_limit: MoneyIn | None = None
    tier: Tier | None = None
    territory: str | None = Field(None, max_length=64)


class ContactOut(BaseModel):
    id: int
    customer_id: int
    name: str
    email: str | None
    phone: str | None
    position: str | None


class AccountOut(BaseModel):
    id: int
    name: str
    tax_id: str | None
    addresses: list[dict[str, Any]]
    locations: list[dict[str, Any]]
    owner_user_id: int
    customer_id: int | None
    customer_group: str | None
    payment_terms: str
    credit_limit: MoneyOut | None
    currency: str
    tier: str
    territory: str | None
    contacts: list[ContactOut]
    version: int
    created_at: dt.datetime


class LeadIn(StrictModel):
    source: LeadSource = "api"
    channel: str | None = Field(None, max_length=64)
    campaign: str | None = Field(None, max_length=120)
    company: str | None = Field(None, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    tax_id: str | None = Field(None, max_length=40)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    territory: str | None = Field(None, max_length=64)
    interest: str | None = Field(None, max_length=120)
    note: str | None = Field(None, max_length=2000)


class QrScanIn(StrictModel):
    """A QR code on a flyer or poster was scanned and the form behind it filled in."""

    campaign: str = Field(min_length=1, max_length=120)  # the campaign or flyer id in the code
    company: str | None = Field(None, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    interest: str | None = Field(None, max_length=120)


class LeadOut(BaseModel):
    id: int
    source: str
    channel: str | None
    campaign: str | None
    company: str | None
    contact_name: str | None
    email: str | None
    phone: str | None
    tax_id: str | None
    country: str | None
    territory: str | None
    interest: str | None
    status: str
    owner_user_id: int | None
    assigned_by: str | None
    score: int
    score_reasons: list[dict[str, Any]]
    merged_sources: list[dict[str, Any]]
    account_id: int | None
    deal_id: int | None
    created_at: dt.datetime


class LeadIntake(BaseModel):
    """One lead in: created, or merged into the lead it duplicates."""

    lead: LeadOut
    merged: bool
    matched_on: str | None = None


class MergedRow(BaseModel):
    row: int
    into_lead_id: int
    matched_on: str


class ImportReport(BaseModel):
    rows: int
    created: int
    merged: int
    merges: list[MergedRow]
    created_ids: list[int]


class ScoringModelOut(BaseModel):
    kind: str  # points | learned
    auc: float | None
    deals: int
    won: int
    lost: int
    trained_at: dt.datetime | None
    note: str


class AssignmentRuleIn(StrictModel):
    kind: Literal["territory", "interest"]
    value: str = Field(min_length=1, max_length=120)
    user_id: int
    priority: int = 0


class AssignmentRuleOut(BaseModel):
    id: int
    kind: str
    value: str
    user_id: int
    priority: int


class ConvertLead(StrictModel):
    account_id: int | None = None  # an existing account; else one is created from the lead
    title: str | None = Field(None, max_length=200)
    amount: MoneyIn | None = None
    expected_close: dt.date | None = None


class DealCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    account_id: int
    amount: MoneyIn
    stage: str | None = Field(None, max_length=32)
    expected_close: dt.date | None = None
    owner_user_id: int | None = None


class DealMove(StrictModel):
    stage: str = Field(min_length=1, max_length=32)
    lost_reason: str | None = Field(None, max_length=500)
    version: int | None = None  # optimistic check: the version the mover saw


class DealPatch(StrictModel):
    """What `PATCH /deals/{id}` changes; absent fields stay. A rep edits only their own deals and
    keeps them (`owner_user_id` other than themselves: 403); a stage change follows the moves
    `POST /deals/{id}/move` allows (409 naming `stage`)."""

    title: str | None = Field(None, min_length=1, max_length=200)
    amount: MoneyIn | None = None
    stage: str | None = Field(None, min_length=1, max_length=32)
    lost_reason: str | None = Field(None, max_length=500)
    expected_close: dt.date | None = None
    owner_user_id: int | None = None
    version: int | None = None  # optimistic check: the version the editor saw


class StageChangeOut(BaseModel):
    from_stage: str | None
    to_stage: str
    at: dt.datetime
    seconds_in_previous: int | None


class DealOut(BaseModel):
    id: int
    title: str
    account_id: int
    lead_id: int | None
    owner_user_id: int
    stage: str
    probability: str
    amount: MoneyOut
    weighted: MoneyOut
    expected_close: dt.date | None
    lost_reason: str | None
    stage_entered_at: dt.datetime
    version: int
    history: list[StageChangeOut] = []


class StageIn(StrictModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=64)
    probability: Decimal = Field(ge=0, le=1)
    kind: Literal["open", "won", "lost"] = "open"


class StageOut(BaseModel):
    code: str
    name: str
    position: int
    probability: str
    kind: str


class StagesIn(StrictModel):
    stages: list[StageIn] = Field(min_length=3, max_length=20)


class ForecastMonth(BaseModel):
    month: str
    pipeline: str
    weighted: str


class StageConversion(BaseModel):
    stage: str
    entered: int
    moved_on: int
    conversion_percent: str | None
    avg_days_in_stage: str | None


class PipelineReport(BaseModel):
    currency: str
    by_stage: list[dict[str, Any]]
    forecast: list[ForecastMonth]
    conversion: list[StageConversion]


class ActivityIn(StrictModel):
    kind: Literal["call", "visit", "email", "note", "task"]
    subject: str = Field(min_length=1, max_length=300)
    body: str | None = Field(None, max_length=4000)
    account_id: int | None = None
    deal_id: int | None = None
    location: str | None = Field(None, max_length=300)
    due_at: dt.datetime | None = None
    remind_at: dt.datetime | None = None
    owner_user_id: int | None = None

    @field_validator("due_at", "remind_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("needs its UTC offset")
        return v


class ActivityOut(BaseModel):
    id: int
    kind: str
    subject: str
    body: str | None
    account_id: int | None
    deal_id: int | None
    contract_id: int | None
    location: str | None
    owner_user_id: int
    due_at: dt.datetime | None
    remind_at: dt.datetime | None
    done_at: dt.datetime | None
    rule: str | None
    overdue: bool
    created_at: dt.datetime


class QuoteLineIn(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0, le=100_000)
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2)


class QuoteCreate(StrictModel):
    account_id: int
    deal_id: int | None = None
    valid_until: dt.date | None = None
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=2000)


class QuoteLineOut(BaseModel):
    line: int
    sku: str
    name: str
    quantity: int
    list_price: str
    discount_percent: str
    unit_price: str
    total: str
    needs_approval: bool


class QuoteOut(BaseModel):
    id: int
    number: str
    revision: int
    account_id: int
    deal_id: int | None
    owner_user_id: int
    status: str
    currency: str
    valid_until: dt.date
    total: MoneyOut
    lines: list[QuoteLineOut]
    approved_by_user_id: int | None
    sent_at: dt.datetime | None
    accepted_at: dt.datetime | None
    order_id: int | None
    version: int


class QuoteSentOut(BaseModel):
    quote: QuoteOut
    accept_url: str  # shown once: only its hash is stored


class PublicQuoteOut(BaseModel):
    """What the buyer sees through the link (no internal ids beyond the quote's own)."""

    number: str
    revision: int
    account: str
    status: str
    currency: str
    valid_until: dt.date
    total: str
    lines: list[QuoteLineOut]
    order_number: str | None


class AcceptIn(StrictModel):
    accepted_by: str = Field(min_length=1, max_length=200)  # the buyer's name, for the record


class RejectIn(StrictModel):
    reason: str | None = Field(None, max_length=500)


class ClauseIn(StrictModel):
    kind: Literal["payment_terms", "delivery_terms", "penalty", "liability", "guarantee", "renewal"]
    days: int | None = Field(None, ge=0, le=3650)  # payment_terms, delivery_terms; renewal notice
    incoterm: str | None = Field(None, max_length=8)  # delivery_terms
    percent_per_week: Decimal | None = Field(None, ge=0, le=100)  # penalty
    cap_percent: Decimal | None = Field(None, ge=0, le=100)  # penalty
    cap: MoneyIn | None = None  # liability: null = unlimited
    guarantee_kind: Literal["deposit", "bank_guarantee", "parent_guarantee"] | None = None
    amount: MoneyIn | None = None  # guarantee
    auto_renew: bool | None = None  # renewal
    text: str | None = Field(None, max_length=2000)


class MilestoneIn(StrictModel):
    kind: Literal["delivery", "payment"]
    description: str = Field(min_length=1, max_length=300)
    due_on: dt.date
    amount: MoneyIn | None = None


class ContractCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    account_id: int
    quote_id: int | None = None
    value: MoneyIn | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    clauses: list[ClauseIn] = Field(default_factory=list, max_length=30)
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=100)


class ContractStatusIn(StrictModel):
    status: Literal["draft", "review", "signed", "active", "completed", "terminated", "expired"]


class ClausesIn(StrictModel):
    clauses: list[ClauseIn] = Field(max_length=30)


class MilestoneOut(BaseModel):
    id: int
    kind: str
    description: str
    due_on: dt.date
    amount: str | None
    order_id: int | None
    done_at: dt.datetime | None
    late: bool


class ContractOut(BaseModel):
    id: int
    number: str
    title: str
    account_id: int
    quote_id: int | None
    owner_user_id: int
    status: str
    value: MoneyOut
    starts_on: dt.date | None
    ends_on: dt.date | None
    clauses: list[dict[str, Any]]
    milestones: list[MilestoneOut]
    risk_score: int | None
    risk_level: str | None
    risk_reasons: list[dict[str, Any]]
    risk_figures: dict[str, Any] | None
    risk_computed_at: dt.datetime | None
    version: int


# -- performance: targets, commissions, dealers, rebates (issue 15) -----------------------------------

Measure = Literal["revenue", "margin", "units", "new_accounts", "visits"]
Decimalish = str | int


class TargetIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    measure: Measure
    period_start: dt.date
    period_end: dt.date  # exclusive
    owner_user_id: int | None = None  # None: the whole team
    team: str | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=120)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    value: Decimalish


class TargetPartIn(StrictModel):
    month: int = Field(ge=1, le=12)
    owner_user_id: int | None = None
    category: str | None = Field(None, max_length=120)
    value: Decimalish


class DecomposeIn(StrictModel):
    """An annual company target split into month x rep x category parts: by last year's
    seasonality (`owners`, `categories`) or by hand (`parts`, which must add up to `total`)."""

    name: str = Field(min_length=1, max_length=160)
    year: int = Field(ge=2000, le=2100)
    measure: Measure
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    total: Decimalish
    method: Literal["seasonality", "manual"]
    owners: list[int] = Field(default_factory=list, max_length=500)
    categories: list[str] = Field(default_factory=list, max_length=200)
    parts: list[TargetPartIn] = Field(default_factory=list, max_length=20000)


class MarginBandIn(StrictModel):
    from_: Decimalish = Field(alias="from")
    factor: Decimalish

    model_config = {"extra": "forbid", "populate_by_name": True}


class TierIn(StrictModel):
    from_: Decimalish = Field(alias="from")
    to: Decimalish | None = None
    multiplier: Decimalish

    model_config = {"extra": "forbid", "populate_by_name": True}


class PlanRulesIn(StrictModel):
    class_rates: dict[str, Decimalish]
    margin_bands: list[MarginBandIn] = Field(default_factory=lambda: [MarginBandIn(**{"from": "0", "factor": "1"})],
                                             max_length=20)
    unknown_cost_factor: Decimalish = "1"
    team_share: Decimalish = "0"
    tiers: list[TierIn] = Field(default_factory=lambda: [TierIn(**{"from": "0", "to": None, "multiplier": "1"})],
                                max_length=20)
    clawback_days: int | None = None
    cap: Decimalish | None = None


class CommissionPlanIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    members: list[int] = Field(min_length=1, max_length=1000)
    rules: PlanRulesIn


class ComputeStatementsIn(StrictModel):
    plan_id: int
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class SignedMoneyIn(StrictModel):
    """Money that may be negative (a correction taking commission back)."""

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: str = Field(max_length=32)

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: str, info: Any) -> str:
        from pydantic_core import PydanticCustomError

        from merx.core.money import MoneyError, parse_amount

        currency = info.data.get("currency")
        if currency is None:
            return v
        try:
            return format(parse_amount(v, currency, allow_negative=True), "f")
        except MoneyError as e:
            raise PydanticCustomError("amount", str(e)) from None


class AdjustmentIn(StrictModel):
    amount: SignedMoneyIn
    reason: str = Field(min_length=1, max_length=300)


class DealerIn(StrictModel):
    account_id: int
    tier: Literal["platinum", "gold", "silver", "standard"] = "standard"
    territory: str = Field(min_length=1, max_length=64)
    price_list: str | None = Field(None, max_length=64)
    status: Literal["active", "reserve"] = "active"
    stock_share_limit: Decimalish = "0.5"


class DealerPatch(PatchModel):
    tier: Literal["platinum", "gold", "silver", "standard"] | None = None
    territory: str | None = Field(None, min_length=1, max_length=64)
    price_list: str | None = Field(None, max_length=64)
    status: Literal["active", "reserve", "ended"] | None = None
    stock_share_limit: Decimalish | None = None


class DealerReportLineIn(StrictModel):
    sku: str = Field(min_length=1, max_length=64)
    stock_units: int = Field(ge=0, le=10_000_000)
    sell_out_units: int = Field(ge=0, le=10_000_000)


class DealerReportIn(StrictModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    lines: list[DealerReportLineIn] = Field(min_length=1, max_length=20000)


class RebateStepIn(StrictModel):
    from_: Decimalish = Field(alias="from")
    rate: Decimalish

    model_config = {"extra": "forbid", "populate_by_name": True}


class RebateAgreementIn(StrictModel):
    dealer_id: int
    year: int = Field(ge=2000, le=2100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    steps: list[RebateStepIn] = Field(min_length=1, max_length=20)


BudgetLine = Literal["revenue", "cost_of_goods", "people", "promotion", "trade_fees", "ka_fees"]


class BudgetIn(StrictModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    owner_user_id: int | None = None  # None: the whole team
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: dict[BudgetLine, str] = Field(min_length=1)
    alert_threshold: Decimalish = "0.1"  # a line drifting more than this share from plan raises an alert


class ExpenseIn(StrictModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    owner_user_id: int | None = None
    kind: Literal["people", "promotion", "trade_fees", "ka_fees"]
    amount: MoneyIn
    note: str | None = Field(None, max_length=300)


class SlowMoverLineIn(StrictModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1_000_000)
    age_days: int = Field(ge=0, le=36500)  # how long the dealer has held the goods


class SlowMoverReturnIn(StrictModel):
    kind: Literal["return", "exchange"] = "return"
    max_share: Decimalish = "0.1"  # at most this share of the 12 months' purchases of the SKU
    min_age_days: int = Field(90, ge=0, le=3650)
    lines: list[SlowMoverLineIn] = Field(min_length=1, max_length=1000)


ContestMetric = Literal["revenue", "margin", "units", "new_accounts", "visits", "win_rate"]


class PrizeIn(StrictModel):
    rank: int = Field(ge=1, le=100)
    text: str = Field(min_length=1, max_length=200)
    amount: MoneyIn | None = None  # optional cash prize


class ContestIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    metric: ContestMetric
    period_start: dt.date
    period_end: dt.date  # exclusive
    scope: Literal["all", "team"] = "all"
    members: list[int] = Field(default_factory=list, max_length=500)  # the team (scope "team")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")  # money metrics; default: the shop's
    prizes: list[PrizeIn] = Field(default_factory=list, max_length=100)
