"""Routes for customer records. Back-office roles read; admin, staff and support write; a
sales rep sees and writes only its own accounts; a customer sees only itself."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from merx.core.auth import Principal, Role
from merx.core.errors import NotFound
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.customers import service
from merx.customers.models import Customer
from merx.customers.schemas import CustomerCreate, CustomerOut, CustomerUpdate

router = APIRouter(prefix="/customers", tags=["customers"])
READERS = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)
WRITERS = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)


@router.post("", response_model=CustomerOut, status_code=201)
def create_customer(body: CustomerCreate, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*WRITERS))) -> CustomerOut:
    return service.create_customer(uow, body)


@router.get("", response_model=Page[CustomerOut])
def list_customers(email: str | None = None, phone: str | None = None, country: str | None = None,
                   q: str | None = Query(None, description="Name, email or company contains"),
                   identifier: str | None = Query(None, description="Any CRM identifier as kind:value, e.g. "
                                                  "loyalty_card:LC-1, marketplace_buyer:..., anonymous:..."),
                   limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*READERS))) -> Page[CustomerOut]:
    if identifier:  # CRM's identity index knows every kind of identifier
        from merx.core.errors import ValidationProblem
        from merx.crm import public as crm

        kind, sep, value = identifier.partition(":")
        if not sep or not value:
            raise ValidationProblem.for_field("identifier", "must be kind:value, e.g. loyalty_card:LC-1")
        try:
            return Page[CustomerOut](items=[crm.lookup(uow, {kind: value})])
        except NotFound:
            return Page[CustomerOut](items=[])
    stmt = service.list_customers_stmt(uow, email=email, phone=phone, country=country, q=q)
    items, nxt = paginate(uow.session, stmt, Customer.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda c: CustomerOut.model_validate(c, from_attributes=True))
    return Page[CustomerOut](items=items, next_cursor=nxt)


@router.get("/me", response_model=CustomerOut)
def my_record(uow: UnitOfWork = Depends(get_read_uow), principal: Principal = Depends(require(Role.customer))) -> CustomerOut:
    if principal.customer_id is None:
        raise NotFound("This key is not linked to a customer record")
    return service.get_customer(uow, principal.customer_id)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*READERS, Role.customer))) -> CustomerOut:
    return service.get_customer(uow, customer_id)


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(customer_id: int, body: CustomerUpdate, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*WRITERS, Role.customer))) -> CustomerOut:
    return service.update_customer(uow, customer_id, body)
