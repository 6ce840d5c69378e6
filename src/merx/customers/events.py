"""Event types of the customers context (registered in the event catalog on import)."""

from merx.core.events import describe_event

CUSTOMER_CREATED = describe_event(
    "customer.created", aggregate="customer",
    payload={"customer_id": "int", "email": "str | null", "phone": "str | null (E.164)", "country": "str | null",
             "is_guest": "bool"},
    description="A customer record was created (API, import, guest checkout or identify).")
CUSTOMER_UPDATED = describe_event(
    "customer.updated", aggregate="customer", payload={"customer_id": "int", "changes": "list[str] (field names)"},
    description="Contact details or account fields of a customer changed.")
