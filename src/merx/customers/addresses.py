"""A customer's address book and saved carts. A shopper (customer role) reaches only their
own: another customer's address or cart is a 404, like a record that does not exist. Staff
and support read and write any customer's."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers.models import Customer, CustomerAddress, CustomerSavedCart
from merx.customers.rules import normalize_phone
from merx.customers.schemas import AddressIn, AddressOut, SavedCartIn, SavedCartOut

MAX_ADDRESSES = 30
MAX_SAVED_CARTS = 20
_MANAGERS = (Role.admin, Role.staff, Role.support_agent)


def _owner(uow: UnitOfWork, customer_id: int) -> int:
    actor = uow.actor
    if actor.role == Role.customer:
        if customer_id != actor.customer_id:
            raise NotFound("Customer does not exist")
    elif actor.role not in _MANAGERS:
        raise Forbidden("This role may not read address books or saved carts")
    customer = uow.session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound("Customer does not exist")
    return customer_id


def _address(uow: UnitOfWork, customer_id: int, address_id: int) -> CustomerAddress:
    _owner(uow, customer_id)
    row = uow.session.get(CustomerAddress, address_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound("Address does not exist")
    return row


def _address_out(row: CustomerAddress) -> AddressOut:
    return AddressOut.model_validate(row, from_attributes=True)


def list_addresses(uow: UnitOfWork, customer_id: int) -> list[AddressOut]:
    _owner(uow, customer_id)
    return [_address_out(a) for a in uow.session.scalars(
        sa.select(CustomerAddress).where(CustomerAddress.customer_id == customer_id).order_by(CustomerAddress.id))]


def get_address(uow: UnitOfWork, customer_id: int, address_id: int) -> AddressOut:
    return _address_out(_address(uow, customer_id, address_id))


def _apply(uow: UnitOfWork, row: CustomerAddress, data: AddressIn) -> None:
    fields = data.model_dump()
    if fields.get("phone"):
        fields["phone"] = normalize_phone(fields["phone"], fields["country"])
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    uow.session.flush()
    # One default of each kind: setting it here clears it on the customer's other addresses.
    for flag in ("default_shipping", "default_billing"):
        if getattr(row, flag):
            uow.session.execute(sa.update(CustomerAddress).where(
                CustomerAddress.customer_id == row.customer_id, CustomerAddress.id != row.id).values({flag: False}))


def add_address(uow: UnitOfWork, customer_id: int, data: AddressIn) -> AddressOut:
    _owner(uow, customer_id)
    count = uow.session.scalar(sa.select(sa.func.count()).where(CustomerAddress.customer_id == customer_id)) or 0
    if count >= MAX_ADDRESSES:
        raise ValidationProblem.for_field("address", f"an address book holds at most {MAX_ADDRESSES} addresses",
                                          "too_many")
    row = CustomerAddress(customer_id=customer_id, created_at=utcnow())
    if count == 0:  # the first address is where things go until the shopper says otherwise
        data = data.model_copy(update={"default_shipping": True, "default_billing": True})
    uow.session.add(row)
    _apply(uow, row, data)
    uow.audit("create", "customer_address", row.id, after={"customer_id": customer_id})
    uow.commit()
    return _address_out(row)


def update_address(uow: UnitOfWork, customer_id: int, address_id: int, data: AddressIn) -> AddressOut:
    row = _address(uow, customer_id, address_id)
    _apply(uow, row, data)
    uow.audit("update", "customer_address", row.id)
    uow.commit()
    return _address_out(row)


def set_default(uow: UnitOfWork, customer_id: int, address_id: int, kind: str) -> AddressOut:
    if kind not in ("shipping", "billing"):
        raise ValidationProblem.for_field("kind", "must be shipping or billing")
    row = _address(uow, customer_id, address_id)
    flag = f"default_{kind}"
    uow.session.execute(sa.update(CustomerAddress).where(CustomerAddress.customer_id == customer_id)
                        .values({flag: CustomerAddress.id == row.id}))
    uow.audit("set_default", "customer_address", row.id, after={"kind": kind})
    uow.commit()
    uow.session.refresh(row)
    return _address_out(row)


def delete_address(uow: UnitOfWork, customer_id: int, address_id: int) -> None:
    row = _address(uow, customer_id, address_id)
    uow.session.delete(row)
    uow.audit("delete", "customer_address", address_id)
    uow.commit()


def default_address(uow: UnitOfWork, customer_id: int, kind: str = "shipping") -> AddressOut | None:
    """The default address of that kind (checkout prefills it); None when there is none."""
    _owner(uow, customer_id)
    flag = CustomerAddress.default_shipping if kind == "shipping" else CustomerAddress.default_billing
    row = uow.session.scalar(sa.select(CustomerAddress).where(CustomerAddress.customer_id == customer_id, flag))
    return _address_out(row) if row is not None else None


# -- saved carts ------------------------------------------------------------------------------


def _cart_out(row: CustomerSavedCart) -> SavedCartOut:
    return SavedCartOut.model_validate(row, from_attributes=True)


def list_saved_carts(uow: UnitOfWork, customer_id: int) -> list[SavedCartOut]:
    _owner(uow, customer_id)
    return [_cart_out(c) for c in uow.session.scalars(
        sa.select(CustomerSavedCart).where(CustomerSavedCart.customer_id == customer_id)
        .order_by(CustomerSavedCart.id.desc()))]


def save_cart(uow: UnitOfWork, customer_id: int, data: SavedCartIn) -> SavedCartOut:
    _owner(uow, customer_id)
    count = uow.session.scalar(sa.select(sa.func.count()).where(CustomerSavedCart.customer_id == customer_id)) or 0
    if count >= MAX_SAVED_CARTS:
        raise ValidationProblem.for_field("lines", f"at most {MAX_SAVED_CARTS} saved carts; delete one first",
                                          "too_many")
    merged: dict[str, int] = {}
    for line in data.lines:
        merged[line.sku] = min(99, merged.get(line.sku, 0) + line.quantity)
    now = utcnow()
    row = CustomerSavedCart(customer_id=customer_id, name=data.name or f"Cart of {now:%Y-%m-%d %H:%M}",
                            lines=[{"sku": s, "quantity": q} for s, q in merged.items()], created_at=now)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("create", "customer_saved_cart", row.id, after={"customer_id": customer_id, "lines": len(merged)})
    uow.commit()
    return _cart_out(row)


def get_saved_cart(uow: UnitOfWork, customer_id: int, cart_id: int) -> SavedCartOut:
    _owner(uow, customer_id)
    row = uow.session.get(CustomerSavedCart, cart_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound("Saved cart does not exist")
    return _cart_out(row)


def delete_saved_cart(uow: UnitOfWork, customer_id: int, cart_id: int) -> None:
    get_saved_cart(uow, customer_id, cart_id)
    uow.session.execute(sa.delete(CustomerSavedCart).where(CustomerSavedCart.id == cart_id))
    uow.audit("delete", "customer_saved_cart", cart_id)
    uow.commit()


def export_of(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    return {
        "addresses": [_address_out(a).model_dump(mode="json") for a in uow.session.scalars(
            sa.select(CustomerAddress).where(CustomerAddress.customer_id == customer_id).order_by(CustomerAddress.id))],
        "saved_carts": [_cart_out(c).model_dump(mode="json") for c in uow.session.scalars(
            sa.select(CustomerSavedCart).where(CustomerSavedCart.customer_id == customer_id)
            .order_by(CustomerSavedCart.id))],
    }
