"""Events the inventory context publishes."""

from merx.core.events import describe_event

STOCK_CHANGED = describe_event(
    "inventory.stock_changed", aggregate="stock",
    payload={"sku": "str", "location": "location code", "on_hand": "int", "reserved": "int", "available": "int",
             "status": "in_stock|low_stock|out_of_stock", "reason": "ledger reason of the change"},
    description="The on-hand quantity of a SKU at a location changed, or a hold/release changed its availability "
                "status (aggregate id '<sku>@<location>'). Holds that leave the status unchanged are not announced.")
LOCATION_CREATED = describe_event(
    "location.created", aggregate="location", payload={"location_id": "int", "code": "str", "kind": "warehouse|store"})
LOCATION_UPDATED = describe_event(
    "location.updated", aggregate="location", payload={"location_id": "int", "code": "str", "changed": "list[str]"})
