"""Event types the integration hub itself emits (registered in the core's event catalog)."""

from merx.core.events import describe_event

WEBHOOK_ENDPOINT_DISABLED = describe_event(
    "webhook_endpoint.disabled", aggregate="webhook_endpoint",
    payload={"endpoint_id": "int", "url": "str", "consecutive_failures": "int", "reason": "str"},
    description="A webhook endpoint was disabled after too many consecutive failed deliveries.")
IMPORT_COMPLETED = describe_event(
    "connector_import.completed", aggregate="connector_import",
    payload={"job_id": "int", "connector": "str (code)", "status": "succeeded|partial|failed|duplicate",
             "rows_total": "int", "rows_created": "int", "rows_updated": "int", "rows_unchanged": "int",
             "rows_failed": "int"},
    description="An inbound connector finished importing a file or an HTTP pull.")
