"""Events of the customers context (aggregate "customer")."""

from __future__ import annotations

from typing import ClassVar

from merx.core.events import Event


class _CustomerEvent(Event):
    aggregate_type: ClassVar[str] = "customer"
    aggregate_field: ClassVar[str] = "customer_id"

    customer_id: int


class CustomerCreated(_CustomerEvent):
    """A customer record was created (API, import, guest checkout or identify). `phone` is E.164."""

    event_type: ClassVar[str] = "customer.created"

    email: str | None
    phone: str | None
    country: str | None
    is_guest: bool


class CustomerUpdated(_CustomerEvent):
    """Contact details or account fields of a customer changed (`changes`: the field names)."""

    event_type: ClassVar[str] = "customer.updated"

    changes: list[str]


class CustomerAccountVerified(_CustomerEvent):
    """A shopper proved their email: their storefront account is active and attached to this
    customer record, so the record's earlier guest orders are now in their order history."""

    event_type: ClassVar[str] = "customer.account_verified"

    account_id: int
    created_record: bool  # True: no customer had this email, a new record was made

