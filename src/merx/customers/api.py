"""Routes for customer records. Back-office roles read; admin, staff and support write; a
sales rep sees and writes only its own accounts; a customer sees only itself."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from merx.core.auth import Principal, Role
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.customers import identifiers, service
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
    if identifier:  # kinds other contexts keep (CRM's identity index): customers/identifiers.py
        found = identifiers.find_by_identifier(uow, identifier)
        return Page[CustomerOut](items=[found] if found is not None else [])
    return service.list_customers(uow, email=email, phone=phone, country=country, q=q, limit=limit, cursor=cursor)


@router.get("/me", response_model=CustomerOut)
def my_record(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(Role.customer))) -> CustomerOut:
    return service.get_own_record(uow)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*READERS, Role.customer))) -> CustomerOut:
    return service.get_customer(uow, customer_id)


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(customer_id: int, body: CustomerUpdate, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*WRITERS, Role.customer))) -> CustomerOut:
    return service.update_customer(uow, customer_id, body)


# The storefront account routes (customers/account_api.py) are mounted with these.
from merx.customers import account_api  # noqa: E402

_records = router
router = APIRouter()
router.include_router(_records)
router.include_router(account_api.router)
