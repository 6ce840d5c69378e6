"""Contracts: lifecycle draft -> review -> signed -> active -> completed / terminated / expired;
clauses are data (rules.CLAUSE_KINDS); milestones and obligations with due dates, met by real
orders (a delivery milestone by a delivered order, a payment milestone by a paid one) or marked
done; renewal reminders; and the risk score with its reasons (risk.py)."""

from __future__ import annotations

import datetime as dt

from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.sales import rules
from merx.sales.events import ContractCreated, ContractStatusChanged, ContractUpdated
from merx.sales.models import Account, Contract, Milestone, Quote
from merx.sales.schemas import (ClauseIn, ClausesIn, ContractCreate, ContractOut, ContractStatusIn, MilestoneOut)
from merx.sales.scope import is_manager, load, scoped


def _clause_data(c: ClauseIn, currency: str, field: str) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": c.kind}
    if c.kind in ("payment_terms", "delivery_terms"):
        if c.days is None:
            raise ValidationProblem.for_field(f"{field}.days", f"a {c.kind} clause states its days", "required")
        out["days"] = c.days
        if c.incoterm:
            out["incoterm"] = c.incoterm
    elif c.kind == "penalty":
        if c.percent_per_week is None:
            raise ValidationProblem.for_field(f"{field}.percent_per_week", "a penalty clause states its rate",
                                              "required")
        out["percent_per_week"] = str(c.percent_per_week)
        out["cap_percent"] = str(c.cap_percent) if c.cap_percent is not None else None
    elif c.kind == "liability":
        if c.cap is not None and c.cap.currency != currency:
            raise ValidationProblem.for_field(f"{field}.cap.currency", f"must be the contract's currency {currency}")
        out["cap"] = c.cap.amount if c.cap is not None else None  # None: unlimited
    elif c.kind == "guarantee":
        out["guarantee_kind"] = c.guarantee_kind or "deposit"
        out["amount"] = c.amount.amount if c.amount is not None else None
    elif c.kind == "renewal":
        out["auto_renew"] = bool(c.auto_renew)
        out["notice_days"] = c.days if c.days is not None else 30
    if c.text:
        out["text"] = c.text
    return out


def _clauses(items: list[ClauseIn], currency: str) -> list[dict[str, Any]]:
    kinds = [c.kind for c in items]
    dupes = sorted({k for k in kinds if kinds.count(k) > 1})
    if dupes:
        raise ValidationProblem.for_field("clauses", f"one clause per kind ({', '.join(dupes)} repeated)")
    return [_clause_data(c, currency, f"clauses[{i}]") for i, c in enumerate(items)]


def contract_out(uow: UnitOfWork, c: Contract, today: dt.date | None = None) -> ContractOut:
    today = today or utcnow().date()
    ms = uow.session.scalars(sa.select(Milestone).where(Milestone.contract_id == c.id).order_by(Milestone.due_on,
                                                                                                 Milestone.id)).all()
    return ContractOut(
        id=c.id, number=c.number, title=c.title, account_id=c.account_id, quote_id=c.quote_id,
        owner_user_id=c.owner_user_id, status=c.status, value=MoneyOut.of(Money.from_minor(c.value_minor, c.currency)),
        starts_on=c.starts_on, ends_on=c.ends_on, clauses=c.clauses or [], risk_score=c.risk_score,
        risk_level=c.risk_level, risk_reasons=c.risk_reasons or [], risk_figures=c.risk_figures, risk_computed_at=c.risk_computed_at,
        version=c.version,
        milestones=[MilestoneOut(id=m.id, kind=m.kind, description=m.description, due_on=m.due_on,
                                 amount=str(Money.from_minor(m.amount_minor, c.currency).amount)
                                 if m.amount_minor is not None else None, order_id=m.order_id, done_at=m.done_at,
                                 late=m.done_at is None and m.due_on < today) for m in ms])


def create_contract(uow: UnitOfWork, data: ContractCreate) -> ContractOut:
    account = load(uow, Account, data.account_id, "Account")
    value_minor = 0
    if data.quote_id is not None:
        quote = load(uow, Quote, data.quote_id, "Quote")
        if quote.account_id != account.id:
            raise ValidationProblem.for_field("quote_id", f"quote {quote.id} is for another account")
        if quote.status != "accepted":
            raise Conflict(f"quote_id: quote {quote.number} is {quote.status}; a contract follows an accepted quote",
                           type_slug="quote-not-accepted",
                           errors=[FieldError("quote_id", "not accepted", "not_accepted")])
        value_minor = quote.total_minor
    if data.value is not None:
        if data.value.currency != account.currency:
            raise ValidationProblem.for_field("value.currency", f"must be the account's currency {account.currency}")
        value_minor = data.value.to_money().minor
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        raise ValidationProblem.for_field("ends_on", "is before starts_on")
    owner = account.owner_user_id if is_manager(uow) else uow.actor.user_id
    c = Contract(number="pending", title=data.title, account_id=account.id, quote_id=data.quote_id,
                 owner_user_id=owner, status="draft", value_minor=value_minor, currency=account.currency,
                 starts_on=data.starts_on, ends_on=data.ends_on, clauses=_clauses(data.clauses, account.currency),
                 risk_reasons=[], version=1)
    uow.session.add(c)
    uow.session.flush()
    c.number = f"C{c.id:07d}"
    for i, m in enumerate(data.milestones):
        if m.amount is not None and m.amount.currency != account.currency:
            raise ValidationProblem.for_field(f"milestones[{i}].amount.currency",
                                              f"must be the account's currency {account.currency}")
        uow.session.add(Milestone(contract_id=c.id, kind=m.kind, description=m.description, due_on=m.due_on,
                                  amount_minor=m.amount.to_money().minor if m.amount else None))
    uow.session.flush()
    uow.emit(ContractCreated(contract_id=c.id, number=c.number, account_id=c.account_id, owner_user_id=owner,
                             value=Money.from_minor(value_minor, c.currency)), version=1)
    uow.audit("create", "sales_contract", c.id, after={"number": c.number, "clauses": [x["kind"] for x in c.clauses]})
    uow.created("sales_contract", c.id)
    out = contract_out(uow, c)
    uow.commit()
    return out


def set_clauses(uow: UnitOfWork, contract_id: int, data: ClausesIn) -> ContractOut:
    c = load(uow, Contract, contract_id, "Contract", for_update=True)
    if c.status not in ("draft", "review"):
        raise Conflict(f"Contract {c.number} is {c.status}; clauses change only in draft or review",
                       type_slug="contract-locked")
    c.clauses = _clauses(data.clauses, c.currency)
    c.version += 1
    uow.emit(ContractUpdated(contract_id=c.id, number=c.number, account_id=c.account_id, owner_user_id=c.owner_user_id,
                             changes=["clauses"]), version=c.version)
    uow.audit("clauses", "sales_contract", c.id, after={"clauses": [x["kind"] for x in c.clauses]})
    out = contract_out(uow, c)
    uow.commit()
    return out


def change_status(uow: UnitOfWork, contract_id: int, data: ContractStatusIn) -> ContractOut:
    from merx.sales import risk

    c = load(uow, Contract, contract_id, "Contract", for_update=True)
    allowed = rules.CONTRACT_TRANSITIONS.get(c.status, set())
    if data.status not in allowed:
        raise Conflict(f"status: contract {c.number} is {c.status}; it can move to "
                       f"{', '.join(sorted(allowed)) or 'nothing (closed)'}", type_slug="invalid-contract-transition",
                       errors=[FieldError("status", f"{c.status} -> {data.status} is not allowed", "invalid_move")])
    if data.status == "signed":
        missing = rules.missing_required(c.clauses or [])
        if missing:
            raise ValidationProblem(f"clauses: a contract is signed with its required clauses; missing "
                                    f"{', '.join(missing)}",
                                    errors=[FieldError("clauses", f"{k} clause is required", "missing_clause")
                                            for k in missing])
        c.signed_at = utcnow()
    before = c.status
    c.status = data.status
    c.version += 1
    uow.emit(ContractStatusChanged(contract_id=c.id, number=c.number, account_id=c.account_id,
                                   owner_user_id=c.owner_user_id, from_status=before, to_status=c.status),
             version=c.version)
    uow.audit("status", "sales_contract", c.id, before={"status": before}, after={"status": c.status})
    if c.status in ("signed", "active"):
        risk.recompute(uow, c, utcnow())
    out = contract_out(uow, c)
    uow.commit()
    return out


def complete_milestone(uow: UnitOfWork, contract_id: int, milestone_id: int, *, order_id: int | None = None) -> ContractOut:
    c = load(uow, Contract, contract_id, "Contract", for_update=True)
    m = uow.session.get(Milestone, milestone_id)
    if m is None or m.contract_id != c.id:
        from merx.core.errors import NotFound
        raise NotFound(f"Milestone {milestone_id} does not exist on contract {c.number}")
    if m.done_at is not None:
        raise Conflict(f"Milestone {milestone_id} is already met", type_slug="milestone-done")
    m.done_at, m.order_id = utcnow(), order_id
    c.version += 1
    uow.emit(ContractUpdated(contract_id=c.id, number=c.number, account_id=c.account_id, owner_user_id=c.owner_user_id,
                             changes=[f"milestone {m.id} met"]), version=c.version)
    uow.audit("milestone", "sales_contract", c.id, after={"milestone": m.id, "order_id": order_id})
    uow.session.flush()
    out = contract_out(uow, c)
    uow.commit()
    return out


def get_contract(uow: UnitOfWork, contract_id: int) -> ContractOut:
    return contract_out(uow, load(uow, Contract, contract_id, "Contract"))


def contracts_stmt(uow: UnitOfWork, *, status: str | None = None, account_id: int | None = None,
                   risk_level: str | None = None) -> sa.Select[Any]:
    stmt = scoped(uow, sa.select(Contract), Contract)
    if status:
        stmt = stmt.where(Contract.status == status)
    if account_id is not None:
        stmt = stmt.where(Contract.account_id == account_id)
    if risk_level:
        stmt = stmt.where(Contract.risk_level == risk_level)
    return stmt


def list_contracts(uow: UnitOfWork, *, status: str | None = None, account_id: int | None = None,
                   risk_level: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[ContractOut]:
    items, nxt = paginate(uow.session, contracts_stmt(uow, status=status, account_id=account_id, risk_level=risk_level),
                          Contract.id, limit=check_limit(limit, 50, 200), cursor=cursor,
                          convert=lambda c: contract_out(uow, c), descending=True)
    return Page(items=items, next_cursor=nxt)


