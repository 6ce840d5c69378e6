"""Use cases for customer records."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from merx.core import accounts
from merx.core.auth import STAFF_ROLES, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.customers.events import CustomerCreated, CustomerUpdated
from merx.customers.models import Customer
from merx.customers.rules import normalize_email, normalize_phone
from merx.customers.schemas import CustomerCreate, CustomerOut, CustomerUpdate

_COMPARED = ("email", "phone", "first_name", "last_name", "company", "country", "locale", "sales_rep_user_id")


def _out(c: Customer) -> CustomerOut:
    return CustomerOut.model_validate(c, from_attributes=True)


def _snapshot(c: Customer) -> dict[str, Any]:
    return {k: getattr(c, k) for k in _COMPARED + ("external_ref",)}


def _normalized(uow: UnitOfWork, fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    if out.get("email"):
        out["email"] = normalize_email(out["email"])
    if out.get("phone"):
        out["phone"] = normalize_phone(out["phone"], out.get("country") or uow.settings.default_phone_region)
    if out.get("locale") and out["locale"] not in uow.settings.locales:
        raise ValidationProblem.for_field("locale", f"{out['locale']!r} is not a supported locale")
    return out


def _check_unique(uow: UnitOfWork, fields: dict[str, Any], exclude_id: int | None = None) -> None:
    errors = []
    for key in ("email", "phone", "external_ref"):
        value = fields.get(key)
        if not value:
            continue
        stmt = sa.select(Customer.id).where(getattr(Customer, key) == value)
        if exclude_id is not None:
            stmt = stmt.where(Customer.id != exclude_id)
        if uow.session.scalar(stmt) is not None:
            errors.append(FieldError(key, f"another customer has {key} {value}", "duplicate"))
    if errors:
        raise Conflict("; ".join(e.message for e in errors), errors=errors, type_slug="duplicate")


def _check_rep_assignment(uow: UnitOfWork, rep_user_id: int | None) -> None:
    """Who may put a customer in whose hands: admin and staff assign any sales rep; a sales
    rep only itself; nobody else (a customer, a support agent) assigns reps at all."""
    actor = uow.actor
    if actor.role in STAFF_ROLES:
        if rep_user_id is not None and accounts.user_role(uow, rep_user_id) != Role.sales_rep:
            raise ValidationProblem.for_field("sales_rep_user_id", f"user {rep_user_id} is not an active sales rep")
        return
    if actor.role == Role.sales_rep and rep_user_id == actor.user_id:
        return
    allowed = "only to yourself" if actor.role == Role.sales_rep else "only by admin or staff"
    raise Forbidden(f"sales_rep_user_id: customers are assigned {allowed}",
                    errors=[FieldError("sales_rep_user_id", f"may be set {allowed}", "forbidden")])


def create_customer(uow: UnitOfWork, data: CustomerCreate, *, is_guest: bool = False, commit: bool = True) -> CustomerOut:
    fields = _normalized(uow, data.model_dump())
    if uow.actor.role == Role.sales_rep and fields.get("sales_rep_user_id") is None:
        fields["sales_rep_user_id"] = uow.actor.user_id  # a rep's new customer is the rep's account
    if fields.get("sales_rep_user_id") is not None:
        _check_rep_assignment(uow, fields["sales_rep_user_id"])
    _check_unique(uow, fields)
    customer = Customer(**fields, is_guest=is_guest)
    uow.session.add(customer)
    uow.session.flush()
    uow.audit("create", "customer", customer.id, after=_snapshot(customer))
    uow.emit(CustomerCreated(customer_id=customer.id, email=customer.email, phone=customer.phone,
                             country=customer.country, is_guest=is_guest), version=customer.version)
    if commit:
        uow.commit()
    return _out(customer)


def _visible(uow: UnitOfWork, customer: Customer | None) -> Customer:
    if customer is None or customer.erased_at is not None:
        raise NotFound("Customer does not exist")
    actor = uow.actor
    if actor.role == Role.sales_rep and customer.sales_rep_user_id != actor.user_id:
        raise NotFound("Customer does not exist")  # a rep sees only its own accounts
    if actor.role == Role.customer and customer.id != actor.customer_id:
        raise NotFound("Customer does not exist")
    return customer


def get_customer(uow: UnitOfWork, customer_id: int) -> CustomerOut:
    return _out(_visible(uow, uow.session.get(Customer, customer_id)))


def get_own_record(uow: UnitOfWork) -> CustomerOut:
    """The calling customer's own record (`GET /customers/me`)."""
    if uow.actor.customer_id is None:
        raise NotFound("This key is not linked to a customer record")
    return get_customer(uow, uow.actor.customer_id)


def update_customer(uow: UnitOfWork, customer_id: int, data: CustomerUpdate) -> CustomerOut:
    customer = _visible(uow, uow.session.get(Customer, customer_id))
    if "sales_rep_user_id" in data.model_fields_set and data.sales_rep_user_id != customer.sales_rep_user_id:
        _check_rep_assignment(uow, data.sales_rep_user_id)
    changes = _normalized(uow, {**{"country": customer.country}, **data.model_dump(exclude_unset=True)})
    if "phone" in data.model_fields_set and data.phone:
        changes["phone"] = normalize_phone(data.phone, changes.get("country") or uow.settings.default_phone_region)
    _check_unique(uow, changes, exclude_id=customer.id)
    before = _snapshot(customer)
    for key, value in changes.items():
        setattr(customer, key, value)
    after = _snapshot(customer)
    if after != before:
        customer.version += 1
        customer.updated_at = utcnow()
        uow.audit("update", "customer", customer.id, before=before, after=after)
        uow.emit(CustomerUpdated(customer_id=customer.id, changes=sorted(k for k in after if after[k] != before[k])),
                 version=customer.version)
    uow.commit()
    return _out(customer)


def find_customer(uow: UnitOfWork, *, email: str | None = None, phone: str | None = None,
                  external_ref: str | None = None) -> CustomerOut | None:
    stmt = sa.select(Customer).where(Customer.erased_at.is_(None))
    if email:
        stmt = stmt.where(Customer.email == normalize_email(email))
    elif phone:
        stmt = stmt.where(Customer.phone == normalize_phone(phone, uow.settings.default_phone_region))
    elif external_ref:
        stmt = stmt.where(Customer.external_ref == external_ref)
    else:
        return None
    customer = uow.session.scalars(stmt).first()
    return _out(customer) if customer is not None else None


def customer_id_by_email(uow: UnitOfWork, email: str) -> int | None:
    """The id of the live customer with this email, in one light query (checkout's common
    case: a returning guest or customer). Raises ValidationProblem for a malformed email."""
    return uow.session.connection().execute(_ID_BY_EMAIL, {"email": normalize_email(email)}).scalar()


_ID_BY_EMAIL = (sa.select(Customer.__table__.c.id)
                .where(Customer.__table__.c.email == sa.bindparam("email"), Customer.__table__.c.erased_at.is_(None))
                .limit(1))


def get_or_create_guest(uow: UnitOfWork, email: str, **fields: Any) -> CustomerOut:
    """Guest checkout: the customer with this email, or a new guest record. Does not commit:
    the caller's order transaction does."""
    existing = find_customer(uow, email=email)
    if existing is not None:
        return existing
    return create_customer(uow, CustomerCreate(email=email, **fields), is_guest=True, commit=False)


def list_customers(uow: UnitOfWork, *, email: str | None = None, phone: str | None = None,
                   country: str | None = None, q: str | None = None, limit: int | None = None,
                   cursor: str | None = None) -> Page[CustomerOut]:
    """One page of the customers the caller may see (a sales rep: their own), oldest first."""
    stmt = list_customers_stmt(uow, email=email, phone=phone, country=country, q=q)
    items, nxt = paginate(uow.session, stmt, Customer.id, limit=check_limit(limit, 50, 500), cursor=cursor, convert=_out)
    return Page[CustomerOut](items=items, next_cursor=nxt)


def list_customers_stmt(uow: UnitOfWork, *, email: str | None = None, phone: str | None = None,
                        country: str | None = None, q: str | None = None) -> sa.Select:
    stmt = sa.select(Customer).where(Customer.erased_at.is_(None), Customer.merged_into_id.is_(None))
    if uow.actor.role == Role.sales_rep:
        stmt = stmt.where(Customer.sales_rep_user_id == uow.actor.user_id)
    if email:
        stmt = stmt.where(Customer.email == normalize_email(email))
    if phone:
        stmt = stmt.where(Customer.phone == normalize_phone(phone, uow.settings.default_phone_region))
    if country:
        stmt = stmt.where(Customer.country == country)
    if q:
        # autoescape: "_" and "%" in the search are the characters, not LIKE wildcards
        needle = q.lower()
        stmt = stmt.where(sa.or_(*(sa.func.lower(column).contains(needle, autoescape=True) for column in
                                   (Customer.first_name, Customer.last_name, Customer.email, Customer.company))))
    return stmt


def ids_by_external_refs(uow: UnitOfWork, refs: Iterable[str]) -> dict[str, int]:
    refs = list(refs)
    out: dict[str, int] = {}
    for i in range(0, len(refs), 500):
        chunk = refs[i:i + 500]
        out.update(uow.session.execute(sa.select(Customer.external_ref, Customer.id)
                                       .where(Customer.external_ref.in_(chunk))).all())
    return out


def upsert_customers_by_external_ref(uow: UnitOfWork, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Bulk, idempotent import keyed by external_ref: new refs are created, changed ones
    updated, identical ones left alone (no version bump, no event). Does not commit."""
    existing = {c.external_ref: c for c in uow.session.scalars(
        sa.select(Customer).where(Customer.external_ref.in_([r["external_ref"] for r in rows])))} if rows else {}
    created = updated = unchanged = 0
    new_rows = []
    for row in rows:
        fields = _normalized(uow, row)
        current = existing.get(fields["external_ref"])
        if current is None:
            new_rows.append(fields)
            continue
        before = _snapshot(current)
        for key, value in fields.items():
            setattr(current, key, value)
        after = _snapshot(current)
        if after == before:
            unchanged += 1
            continue
        current.version += 1
        current.updated_at = utcnow()
        uow.audit("update", "customer", current.id, before=before, after=after)
        uow.emit(CustomerUpdated(customer_id=current.id, changes=sorted(k for k in after if after[k] != before[k])),
                 version=current.version)
        updated += 1
    for fields in new_rows:
        customer = Customer(**fields)
        uow.session.add(customer)
        created += 1
    uow.session.flush()
    if new_rows:
        fresh = uow.session.scalars(sa.select(Customer).where(
            Customer.external_ref.in_([f["external_ref"] for f in new_rows]))).all()
        for customer in fresh:
            uow.audit("create", "customer", customer.id, after=_snapshot(customer))
            uow.emit(CustomerCreated(customer_id=customer.id, email=customer.email, phone=customer.phone,
                                     country=customer.country, is_guest=False), version=customer.version)
    return created, updated, unchanged


# -- used by the CRM context (profile merges, data-rights erasure, segment facts) ----------------


def mark_merged(uow: UnitOfWork, from_id: int, into_id: int) -> None:
    """Hide a duplicate profile behind the one it was merged into. Does not commit."""
    customer = uow.session.get(Customer, from_id)
    if customer is None:
        raise NotFound("Customer does not exist")
    before = _snapshot(customer)
    customer.merged_into_id = into_id
    customer.version += 1
    customer.updated_at = utcnow()
    uow.audit("merge", "customer", customer.id, before=before, after={"merged_into_id": into_id})


def restore_merged(uow: UnitOfWork, customer_id: int) -> None:
    """Undo `mark_merged` (un-merge). Does not commit."""
    customer = uow.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("Customer does not exist")
    previous = customer.merged_into_id
    customer.merged_into_id = None
    customer.version += 1
    customer.updated_at = utcnow()
    uow.audit("unmerge", "customer", customer.id, before={"merged_into_id": previous}, after={"merged_into_id": None})


def erase_customer(uow: UnitOfWork, customer_id: int) -> None:
    """Anonymise a customer on request (right to erasure): contact details and names are
    removed, the record id stays so that orders keep their amounts. Does not commit."""
    customer = uow.session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound("Customer does not exist")
    for key in ("email", "phone", "first_name", "last_name", "company", "external_ref"):
        setattr(customer, key, None)
    customer.erased_at = utcnow()
    customer.version += 1
    customer.updated_at = customer.erased_at
    uow.audit("erase", "customer", customer.id, after={"erased_at": customer.erased_at.isoformat()})


def customer_attributes(uow: UnitOfWork, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Light rows (id, country, locale, is_guest, created_at, sales_rep_user_id, merged_into_id)
    of live customers, for bulk computations such as CRM segments; all of them when ids is None."""
    cols = (Customer.id, Customer.country, Customer.locale, Customer.is_guest, Customer.created_at,
            Customer.sales_rep_user_id, Customer.email, Customer.phone, Customer.first_name, Customer.last_name)
    base = sa.select(*cols).where(Customer.erased_at.is_(None), Customer.merged_into_id.is_(None))
    if ids is None:
        return [dict(r._mapping) for r in uow.session.execute(base)]
    ids = list(ids)
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):
        out.extend(dict(r._mapping) for r in uow.session.execute(base.where(Customer.id.in_(ids[i:i + 500]))))
    return out


def raw_customers(uow: UnitOfWork, customer_ids: Iterable[int]) -> dict[int, CustomerOut]:
    """`raw_customer` for many ids in one query (other contexts' batch event handlers)."""
    ids = sorted(set(customer_ids))
    out: dict[int, CustomerOut] = {}
    for start in range(0, len(ids), 500):
        for customer in uow.session.scalars(sa.select(Customer).where(Customer.id.in_(ids[start:start + 500]))):
            out[customer.id] = _out(customer)
    return out


def raw_customer(uow: UnitOfWork, customer_id: int) -> CustomerOut | None:
    """The record as stored, including merged and erased ones, without visibility checks
    (for the CRM's own bookkeeping; never return it to a caller without checking access)."""
    customer = uow.session.get(Customer, customer_id)
    return _out(customer) if customer is not None else None
