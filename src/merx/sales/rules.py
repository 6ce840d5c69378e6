"""Pure sales rules, unit-tested without a database: name keys for matching, lead scoring,
pipeline stages and moves, the weighted forecast, quote discount limits, clauses, and the
contract risk model (documented in docs/sales-risk.md; every factor is reported)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

# ------------------------------------------------------------------------------------------
# Matching keys
# ------------------------------------------------------------------------------------------

# Legal-form words say nothing about which company it is ("Acme GmbH" == "ACME Ltd.").
_LEGAL = frozenset("""gmbh ag kg ohg ug mbh ltd limited llc inc incorporated corp corporation co company plc sa sas
sarl srl spa bv nv oy ab as aps sro spzoo sp z o oo zoo spolka sc pfa ooo zao oao pte pty kk the und and""".split())
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def company_key(name: str | None) -> str | None:
    """Lower case, accents and punctuation dropped, legal forms removed, words kept in order."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("&", " ")
    words = [w for w in _NON_WORD.split(text) if w and w not in _LEGAL]
    return " ".join(words) or None


def tax_id_key(value: str | None) -> str | None:
    """VAT / tax ids compared without spaces, dots and dashes, upper case."""
    if not value:
        return None
    key = re.sub(r"[\s.\-/]", "", value).upper()
    return key or None


# ------------------------------------------------------------------------------------------
# Lead scoring (transparent points)
# ------------------------------------------------------------------------------------------

SOURCE_POINTS = {"trade_fair": 20, "qr_scan": 15, "web_form": 15, "referral": 20, "api": 10, "import": 5,
                 "chat_group": 5, "forum": 5}
LEAD_SOURCES = tuple(SOURCE_POINTS)


def score_lead(*, source: str, email: str | None, phone: str | None, tax_id: str | None, company: str | None,
               interest: str | None, merged: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Points and the reasons that gave them (each reason: factor, points)."""
    reasons: list[dict[str, Any]] = []

    def add(factor: str, points: int) -> None:
        reasons.append({"factor": factor, "points": points})

    add(f"source {source}", SOURCE_POINTS.get(source, 5))
    if email:
        add("has an email", 10)
    if phone:
        add("has a phone", 10)
    if tax_id:
        add("has a tax id (a registered business)", 15)
    if company:
        add("names a company", 5)
    if interest:
        add("named a product interest", 10)
    if merged:
        add(f"came in through {merged + 1} channels", min(15, 5 * merged))
    return min(100, sum(r["points"] for r in reasons)), reasons


# ------------------------------------------------------------------------------------------
# Pipeline
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageDef:
    code: str
    name: str
    position: int
    probability: Decimal
    kind: str = "open"  # open | won | lost


DEFAULT_STAGES = (
    StageDef("visit", "Visit", 1, Decimal("0.10")),
    StageDef("needs_analysis", "Needs analysis", 2, Decimal("0.20")),
    StageDef("quote", "Quote", 3, Decimal("0.40")),
    StageDef("negotiation", "Negotiation", 4, Decimal("0.60")),
    StageDef("signed", "Signed", 5, Decimal("1.00"), "won"),
    StageDef("lost", "Lost", 6, Decimal("0.00"), "lost"),
)


def move_problem(stages: Iterable[StageDef], current: str, target: str, lost_reason: str | None) -> str | None:
    """Why a deal may not move from `current` to `target` (None when it may). Open deals move
    between open stages freely; 'won' is reached only from the last open stage; 'lost' from any
    open stage with a reason; a closed deal does not move."""
    by_code = {s.code: s for s in stages}
    if target not in by_code:
        return f"{target!r} is not a stage (stages: {', '.join(by_code)})"
    cur, tgt = by_code.get(current), by_code[target]
    if cur is None or cur.kind != "open":
        return f"the deal is closed ({current}); a closed deal does not move"
    if current == target:
        return "the deal is already in this stage"
    if tgt.kind == "won":
        last_open = max((s for s in by_code.values() if s.kind == "open"), key=lambda s: s.position)
        if cur.code != last_open.code:
            return f"{tgt.code} is reached only from {last_open.code}"
    if tgt.kind == "lost" and not (lost_reason and lost_reason.strip()):
        return "a lost deal needs a lost_reason"
    return None


def weighted(amount: Decimal, probability: Decimal) -> Decimal:
    return (amount * probability).quantize(Decimal("0.01"), ROUND_HALF_UP)


def forecast_by_month(deals: Iterable[tuple[dt.date | None, Decimal, Decimal]]) -> dict[str, dict[str, Decimal]]:
    """(expected close, amount, probability) of open deals -> month "YYYY-MM" -> {pipeline, weighted}.
    Deals without an expected close date fall in "undated"."""
    out: dict[str, dict[str, Decimal]] = {}
    for close, amount, probability in deals:
        month = close.strftime("%Y-%m") if close else "undated"
        row = out.setdefault(month, {"pipeline": Decimal("0.00"), "weighted": Decimal("0.00")})
        row["pipeline"] += amount
        row["weighted"] += weighted(amount, probability)
    return dict(sorted(out.items()))


# ------------------------------------------------------------------------------------------
# Quotes
# ------------------------------------------------------------------------------------------

def line_price(list_price: Decimal, discount_percent: Decimal, exponent: int) -> Decimal:
    q = Decimal(1).scaleb(-exponent)
    return (list_price * (Decimal(100) - discount_percent) / Decimal(100)).quantize(q, ROUND_HALF_UP)


def needs_approval(discount_percent: Decimal, limit_percent: Decimal | None) -> bool:
    """A discount above the caller's limit needs a manager (limit None: no limit)."""
    return limit_percent is not None and discount_percent > limit_percent


# ------------------------------------------------------------------------------------------
# Contracts: clauses as data
# ------------------------------------------------------------------------------------------

CLAUSE_KINDS = ("payment_terms", "delivery_terms", "penalty", "liability", "guarantee", "renewal")
REQUIRED_CLAUSES = ("payment_terms", "delivery_terms", "liability")
TERMS_DAYS = {"prepaid": 0, "net14": 14, "net30": 30, "net60": 60}
CONTRACT_TRANSITIONS = {
    "draft": {"review", "terminated"},
    "review": {"draft", "signed", "terminated"},
    "signed": {"active", "terminated"},
    "active": {"completed", "terminated", "expired"},
}


def clause(clauses: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in clauses if c.get("kind") == kind), None)


def missing_required(clauses: list[dict[str, Any]]) -> list[str]:
    return [k for k in REQUIRED_CLAUSES if clause(clauses, k) is None]


# ------------------------------------------------------------------------------------------
# Contract risk
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderFact:
    """One order of the account's customers (orders.public.payment_facts)."""

    placed_at: dt.datetime
    total: Decimal
    paid_at: dt.datetime | None


@dataclass
class RiskInput:
    now: dt.datetime
    account_terms_days: int
    credit_limit: Decimal | None
    orders: list[OrderFact]
    clauses: list[dict[str, Any]]
    account_revenue_12m: Decimal
    all_revenue_12m: Decimal
    late_milestones: int
    milestones_open: int = 0


@dataclass
class Risk:
    score: int
    level: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


RISK_LEVELS = ((60, "high"), (30, "medium"), (0, "low"))
LEVEL_RANK = {"low": 0, "medium": 1, "high": 2}


def level_of(score: int) -> str:
    return next(name for floor, name in RISK_LEVELS if score >= floor)


def _days(a: dt.datetime, b: dt.datetime) -> Decimal:
    return Decimal((b - a).total_seconds()) / Decimal(86400)


def contract_risk(x: RiskInput) -> Risk:
    """The documented points model (docs/sales-risk.md). Each factor that adds points is a reason
    with its figure; the score is their sum, capped at 100."""
    reasons: list[dict[str, Any]] = []

    def add(factor: str, points: int, detail: str) -> None:
        reasons.append({"factor": factor, "points": points, "detail": detail})

    terms = dt.timedelta(days=x.account_terms_days)
    overdue_open = [o for o in x.orders if o.paid_at is None and x.now > o.placed_at + terms]
    paid_late = [o for o in x.orders if o.paid_at is not None and o.paid_at > o.placed_at + terms]
    late = len(overdue_open) + len(paid_late)
    if late:
        add("overdue_history", min(30, 10 * late),
            f"{len(overdue_open)} order(s) unpaid past their {x.account_terms_days}-day terms, {len(paid_late)} paid late")
    # Days sales outstanding, amount-weighted: each order counts the days until it was paid (or until now).
    total = sum((o.total for o in x.orders), Decimal(0))
    dso = (sum((o.total * _days(o.placed_at, o.paid_at or x.now) for o in x.orders), Decimal(0)) / total
           if total else Decimal(0)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    if total and dso > x.account_terms_days + 15:
        add("days_sales_outstanding", 15, f"DSO {dso} days against {x.account_terms_days}-day terms")
    elif total and dso > x.account_terms_days:
        add("days_sales_outstanding", 8, f"DSO {dso} days against {x.account_terms_days}-day terms")
    open_amount = sum((o.total for o in x.orders if o.paid_at is None), Decimal(0))
    use = None
    if x.credit_limit is not None and x.credit_limit > 0:
        use = (open_amount / x.credit_limit * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if use > 100:
            add("credit_limit_use", 20, f"open receivables {open_amount} are {use}% of the credit limit {x.credit_limit}")
        elif use > 80:
            add("credit_limit_use", 10, f"open receivables {open_amount} are {use}% of the credit limit {x.credit_limit}")
    if clause(x.clauses, "penalty") is None:
        add("no_penalty_clause", 10, "the contract has no penalty clause")
    liability = clause(x.clauses, "liability")
    if liability is None:
        add("liability_missing", 15, "the contract has no liability clause")
    elif liability.get("cap") is None:
        add("liability_unlimited", 15, "liability is unlimited")
    pay = clause(x.clauses, "payment_terms")
    if pay is not None and int(pay.get("days", 0)) > x.account_terms_days:
        add("payment_terms_longer", 10,
            f"the contract gives {pay.get('days')} days to pay; the account's norm is {x.account_terms_days}")
    share = (x.account_revenue_12m / x.all_revenue_12m * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) \
        if x.all_revenue_12m > 0 else Decimal(0)
    if share > 25:
        add("concentration", 10, f"{share}% of the last 12 months' revenue comes from this account")
    if x.late_milestones:
        add("milestones_late", min(15, 5 * x.late_milestones), f"{x.late_milestones} milestone(s) past due")
    score = min(100, sum(r["points"] for r in reasons))
    figures = {"overdue_orders": len(overdue_open), "paid_late_orders": len(paid_late), "dso_days": str(dso),
               "open_receivables": str(open_amount), "credit_use_percent": None if use is None else str(use),
               "revenue_share_percent": str(share), "late_milestones": x.late_milestones}
    return Risk(score=score, level=level_of(score), reasons=reasons, figures=figures)
