"""Event types of the pricing context (registered in the event catalog on import)."""

from merx.core.events import describe_event

describe_event("promotion.created", aggregate="promotion", payload={"promotion_id": "int", "name": "str", "kind": "str"},
               description="A promotion (rule + reward, optionally with a coupon) was created.")
describe_event("promotion.updated", aggregate="promotion", payload={"promotion_id": "int", "changed": "list[str]"},
               description="A promotion's rule, reward, window, limits or stacking changed.")
