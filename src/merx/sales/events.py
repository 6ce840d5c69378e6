"""Events of the sales context: accounts, leads, deals, activities, quotes and contracts. Every
state change of these aggregates has its event (aggregate version = the record's version when it
has one)."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Amount, Event, EventMoney, EventPart, Timestamp


class AccountCreated(Event):
    """A B2B account was created (owner rep, payment terms, tier)."""

    event_type: ClassVar[str] = "account.created"
    aggregate_type: ClassVar[str] = "account"
    aggregate_field: ClassVar[str] = "account_id"

    account_id: int
    name: str
    owner_user_id: int
    customer_id: int | None
    payment_terms: str
    tier: str


class AccountUpdated(Event):
    """An account's owner, terms, credit limit, tier or details changed (`changes`: field names)."""

    event_type: ClassVar[str] = "account.updated"
    aggregate_type: ClassVar[str] = "account"
    aggregate_field: ClassVar[str] = "account_id"

    account_id: int
    changes: list[str]


class _LeadEvent(Event):
    aggregate_type: ClassVar[str] = "lead"
    aggregate_field: ClassVar[str] = "lead_id"

    lead_id: int


class LeadCreated(_LeadEvent):
    """A lead arrived (API, web form, import or QR scan), was scored and assigned."""

    event_type: ClassVar[str] = "lead.created"

    source: str
    campaign: str | None
    owner_user_id: int | None
    assigned_by: str | None
    score: int


class LeadMerged(_LeadEvent):
    """A duplicate lead was merged into an existing one (`lead_id`: the one kept); `matched_on`
    says why (email, phone, tax_id, company)."""

    event_type: ClassVar[str] = "lead.merged"

    source: str
    campaign: str | None
    matched_on: str


class LeadConverted(_LeadEvent):
    """A lead became an account (new or existing) and a deal."""

    event_type: ClassVar[str] = "lead.converted"

    account_id: int
    deal_id: int


class _DealEvent(Event):
    aggregate_type: ClassVar[str] = "deal"
    aggregate_field: ClassVar[str] = "deal_id"

    deal_id: int
    account_id: int
    owner_user_id: int


class DealCreated(_DealEvent):
    """A deal was opened in the pipeline."""

    event_type: ClassVar[str] = "deal.created"

    stage: str
    amount: EventMoney


class DealStageChanged(_DealEvent):
    """A deal moved between pipeline stages (`lost_reason` when it was lost)."""

    event_type: ClassVar[str] = "deal.stage_changed"

    from_stage: str
    to_stage: str
    lost_reason: str | None
    seconds_in_previous: int


class DealUpdated(_DealEvent):
    """A deal's title, amount, expected close date or owner changed (`changes`: field names; a
    stage change is its own `deal.stage_changed`)."""

    event_type: ClassVar[str] = "deal.updated"

    changes: list[str]


class ActivityLogged(Event):
    """A call, visit, email, note or task was recorded (a task by a rule names the rule)."""

    event_type: ClassVar[str] = "activity.logged"
    aggregate_type: ClassVar[str] = "activity"
    aggregate_field: ClassVar[str] = "activity_id"

    activity_id: int
    kind: Literal["call", "visit", "email", "note", "task"]
    owner_user_id: int
    account_id: int | None
    deal_id: int | None
    due_at: Timestamp | None
    rule: str | None


class TaskCompleted(Event):
    """A task was marked done."""

    event_type: ClassVar[str] = "task.completed"
    aggregate_type: ClassVar[str] = "activity"
    aggregate_field: ClassVar[str] = "activity_id"

    activity_id: int
    owner_user_id: int


class TaskReminderDue(Event):
    """A task's reminder time came (the scheduler's sales.task_reminders job); the owner's
    dashboard lists it."""

    event_type: ClassVar[str] = "task.reminder_due"
    aggregate_type: ClassVar[str] = "activity"
    aggregate_field: ClassVar[str] = "activity_id"

    activity_id: int
    owner_user_id: int
    due_at: Timestamp | None


class _QuoteEvent(Event):
    aggregate_type: ClassVar[str] = "quote"
    aggregate_field: ClassVar[str] = "quote_id"

    quote_id: int
    number: str
    revision: int
    account_id: int


class QuoteLine(EventPart):
    sku: str
    quantity: int
    unit_price: EventMoney
    discount_percent: str


class QuoteCreated(_QuoteEvent):
    """A quote (or a new revision of one) was drafted from the account's price list;
    `needs_approval` when a line's discount is above the author's limit."""

    event_type: ClassVar[str] = "quote.created"

    status: Literal["draft", "pending_approval"]
    total: EventMoney
    lines: list[QuoteLine]


class QuoteApproved(_QuoteEvent):
    """A manager approved a quote's discounts."""

    event_type: ClassVar[str] = "quote.approved"

    approved_by_user_id: int | None


class QuoteSent(_QuoteEvent):
    """A quote was released to the buyer: its acceptance link exists from now on. Marketing
    mails `accept_path` (the secret link path) to the buyer, the account's buying customer
    record (`customer_id`)."""

    event_type: ClassVar[str] = "quote.sent"

    accept_path: str
    valid_until: str
    total: EventMoney
    # the buyer (added with defaults, so events written before them still validate)
    customer_id: int | None = None
    account_name: str | None = None


class QuoteAccepted(_QuoteEvent):
    """The buyer accepted a quote through its link; the order was placed at the quote's prices."""

    event_type: ClassVar[str] = "quote.accepted"

    order_id: int
    total: EventMoney


class QuoteRejected(_QuoteEvent):
    """The buyer declined a quote through its link, or its author withdrew it."""

    event_type: ClassVar[str] = "quote.rejected"

    reason: str | None


class QuoteExpired(_QuoteEvent):
    """A quote passed its validity date unanswered (the daily contract pass); its link stops working."""

    event_type: ClassVar[str] = "quote.expired"

    valid_until: str


class _ContractEvent(Event):
    aggregate_type: ClassVar[str] = "contract"
    aggregate_field: ClassVar[str] = "contract_id"

    contract_id: int
    number: str
    account_id: int
    owner_user_id: int


class ContractCreated(_ContractEvent):
    """A contract was drafted (from a quote or on its own)."""

    event_type: ClassVar[str] = "contract.created"

    value: EventMoney


class ContractStatusChanged(_ContractEvent):
    """A contract moved through draft -> review -> signed -> active -> completed / terminated /
    expired."""

    event_type: ClassVar[str] = "contract.status_changed"

    from_status: str
    to_status: str


class ContractUpdated(_ContractEvent):
    """A contract's clauses changed (draft or review) or a milestone was met (`changes`: what)."""

    event_type: ClassVar[str] = "contract.updated"

    changes: list[str]


class RiskReason(EventPart):
    factor: str
    points: int
    detail: str


class ContractRiskRaised(_ContractEvent):
    """A contract's risk level went up (low -> medium -> high) when it was recomputed from the
    account's orders and payments, clauses and milestones; the owner gets a task."""

    event_type: ClassVar[str] = "contract.risk_raised"

    score: int
    level: Literal["medium", "high"]
    previous_level: Literal["low", "medium"] | None
    reasons: list[RiskReason]


# -- performance: targets, commissions, dealers and rebates (issue 15) --------------------------------

class TargetsSet(Event):
    """A target was set, or an annual target was decomposed into `parts` month x rep x category
    parts (`method`: manual or seasonality)."""

    event_type: ClassVar[str] = "sales_target.set"
    aggregate_type: ClassVar[str] = "sales_target"
    aggregate_field: ClassVar[str] = "target_id"

    target_id: int
    name: str
    measure: str
    year: int
    parts: int
    method: str


class CommissionPlanCreated(Event):
    """A commission plan was created (its rules were checked: rates, bands, tiers, cap)."""

    event_type: ClassVar[str] = "commission_plan.created"
    aggregate_type: ClassVar[str] = "commission_plan"
    aggregate_field: ClassVar[str] = "plan_id"

    plan_id: int
    name: str
    currency: str
    members: list[int]


class _StatementEvent(Event):
    aggregate_type: ClassVar[str] = "commission_statement"
    aggregate_field: ClassVar[str] = "statement_id"

    statement_id: int
    plan_id: int
    rep_user_id: int
    month: str  # YYYY-MM
    currency: str
    total: Amount  # may be negative (a month of clawbacks)


class CommissionStatementApproved(_StatementEvent):
    """A rep's monthly statement was approved and locked: what payroll pays (`total`), with the
    sums per kind of line (earnings, tier, team pool, cap, clawbacks, adjustments)."""

    event_type: ClassVar[str] = "commission_statement.approved"

    approved_by: int | None
    by_kind: dict[str, str]
    lines: int


class CommissionAdjustmentRecorded(_StatementEvent):
    """A correction to a locked statement; it is paid in the rep's month `paid_in` (YYYY-MM)."""

    event_type: ClassVar[str] = "commission_statement.adjusted"

    amount: Amount  # signed: negative takes commission back
    paid_in: str
    reason: str


class DealerChanged(Event):
    """A dealer was registered or changed (tier, territory, price list, active or reserve)."""

    event_type: ClassVar[str] = "dealer.changed"
    aggregate_type: ClassVar[str] = "dealer"
    aggregate_field: ClassVar[str] = "dealer_id"

    dealer_id: int
    account_id: int
    tier: str
    territory: str
    status: str


class RebateSettled(Event):
    """A dealer's annual volume rebate was settled (`amount`: the credit granted for the year)."""

    event_type: ClassVar[str] = "rebate.settled"
    aggregate_type: ClassVar[str] = "rebate_agreement"
    aggregate_field: ClassVar[str] = "agreement_id"

    agreement_id: int
    dealer_id: int
    account_id: int
    year: int
    volume: EventMoney
    amount: EventMoney
    reference: str
