"""Accounts (B2B customer companies) and their contacts. Each contact is a customer record (one
CRM profile per person); the first contact is the account's buying customer, for whom orders
from accepted quotes are placed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.errors import Conflict, FieldError, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.sales import rules
from merx.sales.events import AccountCreated, AccountUpdated
from merx.sales.models import Account, Contact
from merx.sales.schemas import AccountCreate, AccountOut, AccountUpdate, ContactIn, ContactOut
from merx.sales.scope import load, owner_for_new, scoped


def account_out(uow: UnitOfWork, a: Account) -> AccountOut:
    contacts = uow.session.scalars(sa.select(Contact).where(Contact.account_id == a.id).order_by(Contact.id)).all()
    people = customers.raw_customers(uow, [c.customer_id for c in contacts]) if contacts else {}
    return AccountOut(
        id=a.id, name=a.name, tax_id=a.tax_id, addresses=a.addresses or [], locations=a.locations or [],
        owner_user_id=a.owner_user_id, customer_id=a.customer_id, customer_group=a.customer_group,
        payment_terms=a.payment_terms, currency=a.currency, tier=a.tier, territory=a.territory, version=a.version,
        credit_limit=MoneyOut.of(Money.from_minor(a.credit_limit_minor, a.currency))
        if a.credit_limit_minor is not None else None, created_at=a.created_at,
        contacts=[ContactOut(id=c.id, customer_id=c.customer_id, name=c.name, position=c.position,
                             email=getattr(people.get(c.customer_id), "email", None),
                             phone=getattr(people.get(c.customer_id), "phone", None)) for c in contacts])


def _credit_minor(data: Any, currency: str, field: str = "credit_limit") -> int | None:
    if data is None:
        return None
    if data.currency != currency:
        raise ValidationProblem.for_field(f"{field}.currency", f"must be the account's currency {currency}")
    return data.to_money().minor


def _check_tax_id(uow: UnitOfWork, tax_id: str | None, own_id: int | None = None) -> None:
    if tax_id is None:
        return
    clash = uow.session.scalar(sa.select(Account.id).where(Account.tax_id == tax_id))
    if clash is not None and clash != own_id:
        # another rep's account: say it exists (a duplicate company), not whose it is
        raise Conflict(f"tax_id: an account with tax id {tax_id} already exists", type_slug="duplicate-account",
                       errors=[FieldError("tax_id", "an account with this tax id already exists", "duplicate")])


def add_contact(uow: UnitOfWork, account: Account, data: ContactIn, field: str) -> Contact:
    """Link (or create) the person's customer record and attach it to the account."""
    first, _, last = data.name.partition(" ")
    found = None
    if data.email:
        found = customers.find_customer(uow, email=customers.normalize_email(data.email, f"{field}.email"))
    if found is None and data.phone:
        found = customers.find_customer(uow, phone=customers.normalize_phone(
            data.phone, uow.settings.default_phone_region, f"{field}.phone"))
    if found is None:
        rep = account.owner_user_id if users.user_role(uow, account.owner_user_id) == Role.sales_rep else None
        try:
            found = customers.create_customer(uow, customers.CustomerCreate(
                email=data.email, phone=data.phone, first_name=first or None, last_name=last or None,
                company=account.name, sales_rep_user_id=rep), commit=False)
        except ValidationProblem as e:
            raise ValidationProblem(e.detail, errors=[FieldError(f"{field}.{x.field}", x.message, x.code)
                                                      for x in e.errors]) from None
    contact = Contact(account_id=account.id, customer_id=found.id, name=data.name, position=data.position)
    uow.session.add(contact)
    uow.session.flush()
    if account.customer_id is None:
        account.customer_id = found.id
    return contact


def create_account(uow: UnitOfWork, data: AccountCreate, *, commit: bool = True) -> AccountOut:
    owner = owner_for_new(uow, data.owner_user_id)
    currency = data.currency or uow.settings.default_currency
    tax_id = rules.tax_id_key(data.tax_id)
    _check_tax_id(uow, tax_id)
    account = Account(name=data.name, name_key=rules.company_key(data.name) or data.name.lower(), tax_id=tax_id,
                      addresses=[a.model_dump() for a in data.addresses],
                      locations=[a.model_dump() for a in data.locations], owner_user_id=owner,
                      customer_group=data.customer_group, payment_terms=data.payment_terms, currency=currency,
                      credit_limit_minor=_credit_minor(data.credit_limit, currency), tier=data.tier,
                      territory=data.territory, version=1)
    uow.session.add(account)
    try:
        uow.session.flush()
    except IntegrityError:  # a concurrent create with the same tax id
        raise Conflict(f"tax_id: an account with tax id {tax_id} already exists", type_slug="duplicate-account") from None
    for i, c in enumerate(data.contacts):
        add_contact(uow, account, c, f"contacts[{i}]")
    uow.emit(AccountCreated(account_id=account.id, name=account.name, owner_user_id=owner,
                            customer_id=account.customer_id, payment_terms=account.payment_terms,
                            tier=account.tier), version=1)
    uow.audit("create", "sales_account", account.id, after={"name": account.name, "owner_user_id": owner})
    uow.created("sales_account", account.id)
    out = account_out(uow, account)
    if commit:
        uow.commit()
    return out


def get_account(uow: UnitOfWork, account_id: int) -> AccountOut:
    return account_out(uow, load(uow, Account, account_id, "Account"))


def list_accounts(uow: UnitOfWork, *, q: str | None = None, owner_user_id: int | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page[AccountOut]:
    stmt = scoped(uow, sa.select(Account), Account)
    if q and q.strip():
        key = rules.company_key(q) or q.lower()
        stmt = stmt.where(Account.name_key.contains(key, autoescape=True))
    if owner_user_id is not None:
        stmt = stmt.where(Account.owner_user_id == owner_user_id)
    items, nxt = paginate(uow.session, stmt, Account.id, limit=check_limit(limit, 50, 200), cursor=cursor,
                          convert=lambda a: account_out(uow, a))
    return Page(items=items, next_cursor=nxt)


def update_account(uow: UnitOfWork, account_id: int, data: AccountUpdate) -> AccountOut:
    account = load(uow, Account, account_id, "Account", for_update=True)
    changes = []
    fields = data.model_dump(exclude_unset=True)
    if "owner_user_id" in fields and fields["owner_user_id"] != account.owner_user_id:
        if uow.actor.role == Role.sales_rep:
            raise ValidationProblem.for_field("owner_user_id", "only a manager reassigns an account", "forbidden")
        account.owner_user_id = owner_for_new(uow, fields["owner_user_id"])
        changes.append("owner_user_id")
    for name in ("name", "customer_group", "payment_terms", "tier", "territory"):
        if name in fields and fields[name] != getattr(account, name):
            setattr(account, name, fields[name])
            changes.append(name)
    if "name" in changes:
        account.name_key = rules.company_key(account.name) or account.name.lower()
    if "credit_limit" in fields:
        account.credit_limit_minor = _credit_minor(data.credit_limit, account.currency)
        changes.append("credit_limit")
    if changes:
        account.version += 1
        uow.emit(AccountUpdated(account_id=account.id, changes=changes), version=account.version)
        uow.audit("update", "sales_account", account.id, after={"changes": changes})
    out = account_out(uow, account)
    uow.commit()
    return out


def add_account_contact(uow: UnitOfWork, account_id: int, data: ContactIn) -> AccountOut:
    account = load(uow, Account, account_id, "Account", for_update=True)
    add_contact(uow, account, data, "contact")
    account.version += 1
    uow.emit(AccountUpdated(account_id=account.id, changes=["contacts"]), version=account.version)
    out = account_out(uow, account)
    uow.commit()
    return out


def accounts_of_customers(uow: UnitOfWork, customer_ids: list[int]) -> dict[int, int]:
    """customer id -> account id, for every contact (no caller scoping: event handlers)."""
    if not customer_ids:
        return {}
    rows = uow.session.execute(sa.select(Contact.customer_id, Contact.account_id)
                               .where(Contact.customer_id.in_(set(customer_ids)))).all()
    return {c: a for c, a in rows}


def customer_ids_of(uow: UnitOfWork, account_id: int) -> list[int]:
    return list(uow.session.scalars(sa.select(Contact.customer_id).where(Contact.account_id == account_id)))


def customer_sales_summary(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    """For the customer 360: the accounts this person buys for (those the caller sees), each with
    its open deals and next follow-up task. Empty for roles outside sales."""
    from merx.sales import activities, deals
    from merx.sales.models import Deal
    from merx.sales.scope import SALES_ROLES

    if uow.actor.role not in SALES_ROLES:
        return []
    stmt = scoped(uow, sa.select(Account).join(Contact, Contact.account_id == Account.id)
                  .where(Contact.customer_id == customer_id).order_by(Account.id), Account)
    open_stages = {s.code for s in deals.stages(uow) if s.kind == "open"}
    out = []
    for account in uow.session.scalars(stmt):
        rows = uow.session.scalars(sa.select(Deal).where(Deal.account_id == account.id,
                                                         Deal.stage.in_(open_stages)).order_by(Deal.id)).all()
        out.append({"account": account_out(uow, account), "open_deals": [deals.deal_out(uow, d) for d in rows],
                    "next_follow_up": activities.next_follow_up(uow, account.id)})
    return out
