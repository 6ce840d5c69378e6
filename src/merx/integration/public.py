"""What the web console may call in integration: webhook endpoints with their delivery log
and replay, the relay's status, and the import history of the connectors."""

from merx.integration.connectors.service import ImportHistoryEntry, recent_import_jobs
from merx.integration.schemas import DeliveryOut, WebhookCreate, WebhookOut, WebhookUpdate
from merx.integration.service import (create_endpoint, list_deliveries, list_endpoints, relay_status, replay_delivery,
                                      send_test_to_endpoint, update_endpoint)

__all__ = ["DeliveryOut", "ImportHistoryEntry", "WebhookCreate", "WebhookOut", "WebhookUpdate", "create_endpoint",
           "list_deliveries", "list_endpoints", "recent_import_jobs", "relay_status", "replay_delivery",
           "send_test_to_endpoint", "update_endpoint"]
