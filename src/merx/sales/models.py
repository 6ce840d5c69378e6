"""Sales tables. Cross-context references (customers, users, orders, catalog SKUs) are plain id
columns. Money is integer minor units next to a currency column."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from merx.core.db import Base, DecimalText, IdPK, JSONType, UTCDateTime, utcnow


class Account(Base):
    """A B2B customer company. `customer_id` is the buying customer record orders are placed for
    (its primary contact); contacts are customer records too (one CRM profile each)."""

    __tablename__ = "sales_accounts"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    name_key: Mapped[str] = mapped_column(sa.String(200), index=True)  # normalised for matching
    tax_id: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    addresses: Mapped[Any] = mapped_column(JSONType, default=list)  # billing/shipping addresses
    locations: Mapped[Any] = mapped_column(JSONType, default=list)  # buying locations (stores, branches)
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    customer_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    customer_group: Mapped[str | None] = mapped_column(sa.String(64))  # price list group
    payment_terms: Mapped[str] = mapped_column(sa.String(16), default="net30")
    currency: Mapped[str] = mapped_column(sa.String(3))
    credit_limit_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    tier: Mapped[str] = mapped_column(sa.String(16), default="standard")
    territory: Mapped[str | None] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(Base):
    __tablename__ = "sales_contacts"

    id: Mapped[IdPK]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_accounts.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("account_id", "customer_id", name="uq_sales_contacts_account_customer"),)


class Lead(Base):
    __tablename__ = "sales_leads"

    id: Mapped[IdPK]
    source: Mapped[str] = mapped_column(sa.String(24), index=True)  # api | web_form | import | qr_scan ...
    channel: Mapped[str | None] = mapped_column(sa.String(64))  # e.g. the chat group, forum or fair
    campaign: Mapped[str | None] = mapped_column(sa.String(120))
    company: Mapped[str | None] = mapped_column(sa.String(200))
    company_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    tax_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    country: Mapped[str | None] = mapped_column(sa.String(2))
    territory: Mapped[str | None] = mapped_column(sa.String(64))
    interest: Mapped[str | None] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    status: Mapped[str] = mapped_column(sa.String(16), default="new", index=True)  # new|qualified|converted|merged|lost
    owner_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    assigned_by: Mapped[str | None] = mapped_column(sa.String(32))  # the rule that assigned it
    score: Mapped[int] = mapped_column(sa.Integer, default=0)
    score_reasons: Mapped[Any] = mapped_column(JSONType, default=list)
    merged_into_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    merged_sources: Mapped[Any] = mapped_column(JSONType, default=list)  # sources of leads merged into it
    account_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    deal_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssignmentRule(Base):
    """Lead assignment: territory or product interest -> a rep; leads no rule matches go
    round-robin over the active reps."""

    __tablename__ = "sales_assignment_rules"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(16))  # territory | interest
    value: Mapped[str] = mapped_column(sa.String(120))
    user_id: Mapped[int] = mapped_column(sa.BigInteger)
    priority: Mapped[int] = mapped_column(sa.Integer, default=0)


class Stage(Base):
    """A configured pipeline stage (the defaults in rules.DEFAULT_STAGES apply while empty)."""

    __tablename__ = "sales_stages"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(sa.Integer)
    probability: Mapped[Decimal] = mapped_column(DecimalText(20))
    kind: Mapped[str] = mapped_column(sa.String(8), default="open")  # open | won | lost


class Deal(Base):
    __tablename__ = "sales_deals"

    id: Mapped[IdPK]
    title: Mapped[str] = mapped_column(sa.String(200))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_accounts.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    stage: Mapped[str] = mapped_column(sa.String(32), index=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    expected_close: Mapped[dt.date | None] = mapped_column(sa.Date)
    lost_reason: Mapped[str | None] = mapped_column(sa.String(500))
    stage_entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StageChange(Base):
    __tablename__ = "sales_stage_history"

    id: Mapped[IdPK]
    deal_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_deals.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(sa.String(32))
    to_stage: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seconds_in_previous: Mapped[int | None] = mapped_column(sa.BigInteger)
    user_id: Mapped[int | None] = mapped_column(sa.BigInteger)


class Activity(Base):
    """A call, visit (with its location), email, note, or a task with a due date and reminder."""

    __tablename__ = "sales_activities"

    id: Mapped[IdPK]
    kind: Mapped[str] = mapped_column(sa.String(8))  # call | visit | email | note | task
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str | None] = mapped_column(sa.String(4000))
    account_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    deal_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    contract_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    location: Mapped[str | None] = mapped_column(sa.String(300))
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    remind_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rule: Mapped[str | None] = mapped_column(sa.String(64))  # the rule that created it
    source_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True)  # one task per trigger
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quote(Base):
    __tablename__ = "sales_quotes"

    id: Mapped[IdPK]
    number: Mapped[str] = mapped_column(sa.String(32), index=True)  # shared by a quote's versions
    revision: Mapped[int] = mapped_column(sa.Integer, default=1)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_accounts.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    # draft | pending_approval | approved | sent | accepted | rejected | superseded
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    valid_until: Mapped[dt.date] = mapped_column(sa.Date)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    approved_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_number: Mapped[str | None] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("number", "revision", name="uq_sales_quotes_number_revision"),)


class QuoteLine(Base):
    __tablename__ = "sales_quote_lines"

    id: Mapped[IdPK]
    quote_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_quotes.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    sku: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(500))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    list_price_minor: Mapped[int] = mapped_column(sa.BigInteger)  # the account's price list price
    discount_percent: Mapped[Decimal] = mapped_column(DecimalText(20))
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    needs_approval: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class Contract(Base):
    __tablename__ = "sales_contracts"

    id: Mapped[IdPK]
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_accounts.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    # draft | review | signed | active | completed | terminated | expired
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    value_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    starts_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    clauses: Mapped[Any] = mapped_column(JSONType, default=list)  # [{"kind": ..., ...}] (rules.CLAUSE_KINDS)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    risk_score: Mapped[int | None] = mapped_column(sa.Integer)
    risk_level: Mapped[str | None] = mapped_column(sa.String(8))
    risk_reasons: Mapped[Any] = mapped_column(JSONType, default=list)
    risk_figures: Mapped[Any] = mapped_column(JSONType, nullable=True)  # the facts the score came from
    risk_computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    renewal_reminded_for: Mapped[dt.date | None] = mapped_column(sa.Date)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Milestone(Base):
    """A delivery or payment obligation with a due date; met when its order is delivered/paid
    (tracked against real orders) or marked done."""

    __tablename__ = "sales_milestones"

    id: Mapped[IdPK]
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # delivery | payment
    description: Mapped[str] = mapped_column(sa.String(300))
    due_on: Mapped[dt.date] = mapped_column(sa.Date)
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ScoringModel(Base):
    """A learned lead-scoring model (scoring.py): LightGBM's text form, its cross-validated AUC
    and what it was trained on; the active one scores new leads."""

    __tablename__ = "sales_scoring_models"

    id: Mapped[IdPK]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    model: Mapped[str] = mapped_column(sa.Text)
    auc: Mapped[Decimal] = mapped_column(DecimalText(20))
    deals: Mapped[int] = mapped_column(sa.Integer)
    won: Mapped[int] = mapped_column(sa.Integer)
    lost: Mapped[int] = mapped_column(sa.Integer)
    features: Mapped[Any] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=False)


# -- performance: the order-line ledger, targets, commissions, dealers and rebates (issue 15) -----

class LedgerLine(Base):
    """One order line of an account's order, as the orders context's `order.placed` event told it,
    credited to the rep who owned the account when the order was placed. `unit_cost_minor` is
    the cost landed on the line (None: cost unknown; margins then say so, never assume)."""

    __tablename__ = "sales_ledger_lines"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    order_number: Mapped[str] = mapped_column(sa.String(40))
    line_no: Mapped[int] = mapped_column(sa.Integer)
    account_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(sa.BigInteger)
    rep_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    sku: Mapped[str] = mapped_column(sa.String(64))
    category: Mapped[str | None] = mapped_column(sa.String(120))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    currency: Mapped[str] = mapped_column(sa.String(3))
    revenue_minor: Mapped[int] = mapped_column(sa.BigInteger)  # the line total after discounts
    unit_cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    __table_args__ = (sa.UniqueConstraint("order_id", "line_no", name="uq_sales_ledger_lines_order_line"),)


class LedgerReturn(Base):
    """Units of a ledger line that came back (`order.returned`), with their value and date."""

    __tablename__ = "sales_ledger_returns"

    id: Mapped[IdPK]
    order_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer)
    return_id: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    value_minor: Mapped[int] = mapped_column(sa.BigInteger)
    returned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (sa.UniqueConstraint("return_id", "line_no", name="uq_sales_ledger_returns_return_line"),)


class Target(Base):
    """A SMART target: a measure over a period for an owner (a rep, a team or the company),
    optionally one product category. Parts of a decomposed annual target point at it."""

    __tablename__ = "sales_targets"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    measure: Mapped[str] = mapped_column(sa.String(16))  # revenue | margin | units | new_accounts | visits
    period_start: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    period_end: Mapped[dt.date] = mapped_column(sa.Date)  # exclusive
    owner_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)  # None: team/company
    team: Mapped[str | None] = mapped_column(sa.String(64))
    category: Mapped[str | None] = mapped_column(sa.String(120))
    currency: Mapped[str | None] = mapped_column(sa.String(3))  # money measures
    value: Mapped[Decimal] = mapped_column(DecimalText(30))  # money in major units, or a count
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    method: Mapped[str] = mapped_column(sa.String(16), default="manual")  # manual | seasonality
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommissionPlan(Base):
    """Rates by portfolio class and margin band, attainment tiers, team split, clawback, cap
    (the rules live in `rules_json`, checked by commission_rules.parse_plan)."""

    __tablename__ = "sales_commission_plans"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    rules_json: Mapped[Any] = mapped_column(JSONType)
    members: Mapped[Any] = mapped_column(JSONType, default=list)  # rep user ids
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommissionStatement(Base):
    __tablename__ = "sales_commission_statements"

    id: Mapped[IdPK]
    plan_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    rep_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    month: Mapped[dt.date] = mapped_column(sa.Date, index=True)  # first day
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(12), default="draft")  # draft | approved
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    summary: Mapped[Any] = mapped_column(JSONType, default=dict)
    approved_by: Mapped[int | None] = mapped_column(sa.BigInteger)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("plan_id", "rep_user_id", "month", name="uq_sales_commission_statements_rep_month"),)


class CommissionLine(Base):
    __tablename__ = "sales_commission_lines"

    id: Mapped[IdPK]
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_commission_statements.id", ondelete="CASCADE"),
                                              index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))  # earning | clawback_return | clawback_unpaid | reinstatement | team_pool | tier | cap | adjustment
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_number: Mapped[str | None] = mapped_column(sa.String(40))
    line_no: Mapped[int | None] = mapped_column(sa.Integer)
    sku: Mapped[str | None] = mapped_column(sa.String(64))
    portfolio_class: Mapped[str | None] = mapped_column(sa.String(12))
    margin_band: Mapped[str | None] = mapped_column(sa.String(24))
    base_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rate: Mapped[Decimal] = mapped_column(DecimalText(30))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    note: Mapped[str | None] = mapped_column(sa.String(300))


class CommissionAdjustment(Base):
    """A correction to a locked statement: it lands in the rep's next open month."""

    __tablename__ = "sales_commission_adjustments"

    id: Mapped[IdPK]
    plan_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    rep_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    month: Mapped[dt.date] = mapped_column(sa.Date, index=True)  # the month it is paid in
    corrects_statement_id: Mapped[int] = mapped_column(sa.BigInteger)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(300))
    created_by: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dealer(Base):
    """A B2B account that resells: tier, territory, price list (customer group), active or in
    reserve for its territory, and the stock share it may hold (of a month's sell-out)."""

    __tablename__ = "sales_dealers"

    id: Mapped[IdPK]
    account_id: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    tier: Mapped[str] = mapped_column(sa.String(16), default="standard")
    territory: Mapped[str] = mapped_column(sa.String(64), index=True)
    price_list: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(12), default="active")  # active | reserve | ended
    stock_share_limit: Mapped[Decimal] = mapped_column(DecimalText(20), default=Decimal("0.5"))
    owner_user_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)  # the account's rep
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DealerReport(Base):
    """A dealer's reported stock and sell-out for one SKU and month (API or connector)."""

    __tablename__ = "sales_dealer_reports"

    id: Mapped[IdPK]
    dealer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    month: Mapped[dt.date] = mapped_column(sa.Date)
    sku: Mapped[str] = mapped_column(sa.String(64))
    stock_units: Mapped[int] = mapped_column(sa.Integer)
    sell_out_units: Mapped[int] = mapped_column(sa.Integer)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("dealer_id", "month", "sku", name="uq_sales_dealer_reports_month_sku"),)


class RebateAgreement(Base):
    """An annual volume rebate in increasing steps (`steps`: [{"from": "100000.00", "rate": "0.02"}]),
    on the dealer's net purchases of the year, accrued monthly and settled once a year."""

    __tablename__ = "sales_rebate_agreements"

    id: Mapped[IdPK]
    dealer_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    currency: Mapped[str] = mapped_column(sa.String(3))
    steps: Mapped[Any] = mapped_column(JSONType)
    settled_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    settlement_ref: Mapped[str | None] = mapped_column(sa.String(64))
    credit_note_number: Mapped[str | None] = mapped_column(sa.String(40))  # invoicing's note for the settlement
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("dealer_id", "year", name="uq_sales_rebate_agreements_dealer_year"),)


class Budget(Base):
    """A sales budget for one month and unit (a rep, or the team when `owner_user_id` is None):
    planned amounts per line (revenue, cost_of_goods, people, promotion, trade_fees, ka_fees)."""

    __tablename__ = "sales_budgets"

    id: Mapped[IdPK]
    month: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    owner_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    lines: Mapped[Any] = mapped_column(JSONType)  # {"revenue": "12000.00", ...}
    alert_threshold: Mapped[Decimal] = mapped_column(DecimalText(20), default=Decimal("0.1"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("month", "owner_user_id", "currency", name="uq_sales_budgets_unit_month"),)


class Expense(Base):
    """A recorded sales expense (people, promotion, trade fees, retailer/KA fees) for a month and unit."""

    __tablename__ = "sales_expenses"

    id: Mapped[IdPK]
    month: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    owner_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    note: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contest(Base):
    """A sales contest: reps ranked on one KPI over a period. Once the period is over the
    standings are frozen into `standings` (winners with their prizes), and never recomputed."""

    __tablename__ = "sales_contests"

    id: Mapped[IdPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    metric: Mapped[str] = mapped_column(sa.String(16))  # revenue | margin | units | new_accounts | visits | win_rate
    period_start: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    period_end: Mapped[dt.date] = mapped_column(sa.Date)  # exclusive
    scope: Mapped[str] = mapped_column(sa.String(8), default="all")  # all | team
    members: Mapped[Any] = mapped_column(JSONType, default=list)  # rep user ids (scope "team")
    currency: Mapped[str] = mapped_column(sa.String(3))
    prizes: Mapped[Any] = mapped_column(JSONType, default=list)  # [{"rank", "text", "amount_minor"?}]
    status: Mapped[str] = mapped_column(sa.String(8), default="open")  # open | final
    standings: Mapped[Any | None] = mapped_column(JSONType)  # frozen at the end
    finalised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
