"""Contract risk, recomputed from facts: the account's orders and payments (orders.public:
overdue history, days sales outstanding, open receivables against the credit limit, share of
revenue), the contract's clauses and its late milestones. The points model is rules.contract_risk
(documented in docs/sales-risk.md). When a contract's level goes up, its owner gets a task and
`contract.risk_raised` is emitted. Recomputed when an order of the account is placed, paid or
cancelled (handlers.py), when a contract is signed or activated, and daily (jobs.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.orders import public as orders
from merx.sales import activities, rules
from merx.sales.events import ContractRiskRaised, RiskReason
from merx.sales.models import Account, Contact, Contract, Milestone

LIVE = ("signed", "active")


def risk_input(uow: UnitOfWork, contract: Contract, now: dt.datetime) -> rules.RiskInput:
    account = uow.session.get(Account, contract.account_id)
    customer_ids = list(uow.session.scalars(sa.select(Contact.customer_id).where(Contact.account_id == account.id)))
    facts = [f for f in orders.payment_facts(uow, customer_ids) if f.total.currency == account.currency]
    revenue = orders.revenue_by_customer(uow, since=now - dt.timedelta(days=365), currency=account.currency)
    mine = sum((revenue[c].amount for c in customer_ids if c in revenue), Decimal(0))
    everyone = sum((m.amount for m in revenue.values()), Decimal(0))
    late = uow.session.scalar(sa.select(sa.func.count()).select_from(Milestone).where(
        Milestone.contract_id == contract.id, Milestone.done_at.is_(None), Milestone.due_on < now.date())) or 0
    limit = (Money.from_minor(account.credit_limit_minor, account.currency).amount
             if account.credit_limit_minor is not None else None)
    return rules.RiskInput(now=now, account_terms_days=rules.TERMS_DAYS[account.payment_terms], credit_limit=limit,
                           orders=[rules.OrderFact(f.placed_at, f.total.amount, f.paid_at) for f in facts],
                           clauses=contract.clauses or [], account_revenue_12m=mine, all_revenue_12m=everyone,
                           late_milestones=int(late))


def recompute(uow: UnitOfWork, contract: Contract, now: dt.datetime) -> rules.Risk:
    """Score the contract now (no commit). A higher level than before raises the warning."""
    result = rules.contract_risk(risk_input(uow, contract, now))
    previous = contract.risk_level
    contract.risk_score, contract.risk_level = result.score, result.level
    contract.risk_reasons, contract.risk_figures = result.reasons, result.figures
    contract.risk_computed_at = now
    if result.level != "low" and rules.LEVEL_RANK[result.level] > rules.LEVEL_RANK.get(previous or "low", 0):
        uow.emit(ContractRiskRaised(
            contract_id=contract.id, number=contract.number, account_id=contract.account_id,
            owner_user_id=contract.owner_user_id, score=result.score, level=result.level,  # type: ignore[arg-type]
            previous_level=previous if previous in ("low", "medium") else None,  # type: ignore[arg-type]
            reasons=[RiskReason(factor=r["factor"], points=r["points"], detail=r["detail"]) for r in result.reasons]),
            version=contract.version)
        activities.create_rule_task(
            uow, owner_user_id=contract.owner_user_id, account_id=contract.account_id, contract_id=contract.id,
            subject=f"Contract {contract.number} risk is {result.level} ({result.score}): review it",
            body="; ".join(f"{r['detail']} (+{r['points']})" for r in result.reasons), due_at=now + dt.timedelta(days=2),
            rule="contract_risk", source_ref=f"risk:{contract.id}:{result.level}:{now.date().isoformat()}")
    return result


def recompute_for_customers(uow: UnitOfWork, customer_ids: list[int], now: dt.datetime) -> int:
    """Live contracts of the accounts these customers buy for (no caller scoping; no commit)."""
    if not customer_ids:
        return 0
    account_ids = set(uow.session.scalars(sa.select(Contact.account_id).where(Contact.customer_id.in_(set(customer_ids)))))
    if not account_ids:
        return 0
    contracts = uow.session.scalars(sa.select(Contract).where(Contract.account_id.in_(account_ids),
                                                              Contract.status.in_(LIVE))).all()
    for c in contracts:
        recompute(uow, c, now)
    return len(contracts)


def recompute_all(uow: UnitOfWork, now: dt.datetime) -> int:
    contracts = uow.session.scalars(sa.select(Contract).where(Contract.status.in_(LIVE)).order_by(Contract.id)).all()
    for c in contracts:
        recompute(uow, c, now)
    uow.commit()
    return len(contracts)
