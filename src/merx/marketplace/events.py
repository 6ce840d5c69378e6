"""Event types of the marketplace context (registered in the event catalog on import)."""

from merx.core.events import describe_event

SELLER_CREATED = describe_event(
    "seller.created", aggregate="seller", payload={"seller_id": "int", "code": "str", "name": "str"},
    description="A marketplace seller was registered.")
SELLER_UPDATED = describe_event(
    "seller.updated", aggregate="seller", payload={"seller_id": "int", "changes": "list[str]"},
    description="A seller's name, premium flag, rating, violations or activity changed.")
