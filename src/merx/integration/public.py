"""What the web console may call in integration: webhook endpoints with their delivery log
and replay, the relay's status, and the import history of the connectors."""

from merx.integration.connectors.service import ImportHistoryEntry, recent_import_jobs
from merx.integration.schemas import DeliveryOut, WebhookOut
from merx.integration.service import list_deliveries, list_endpoints, relay_status, replay_delivery

__all__ = ["DeliveryOut", "ImportHistoryEntry", "WebhookOut", "list_deliveries", "list_endpoints",
           "recent_import_jobs", "relay_status", "replay_delivery"]
