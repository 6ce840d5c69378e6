"""What the web console may call in integration: webhook endpoints with their delivery log
and replay, the relay's status, and the connectors: their list, import jobs and history,
and running one now (a file, or its configured source)."""

from merx.integration.connectors.scheduler import SourceRun, run_source_now
from merx.integration.connectors.service import (ImportHistoryEntry, create_connector, delete_connector,
                                                 error_report_csv, get_connector, get_job,
                                                 list_connectors, list_jobs, recent_import_jobs, run_import,
                                                 update_connector)
from merx.integration.schemas import (ConnectorCreate, ConnectorOut, ConnectorUpdate, DeliveryOut, ImportJobOut,
                                      WebhookCreate, WebhookOut, WebhookUpdate)
from merx.integration.service import (create_endpoint, delete_endpoint, get_delivery, get_endpoint, list_deliveries,
                                      list_endpoints, relay_status, replay_delivery, rotate_secret,
                                      send_test_to_endpoint, update_endpoint)

__all__ = ["ConnectorOut", "DeliveryOut", "ImportHistoryEntry", "ImportJobOut", "SourceRun", "WebhookCreate",
           "WebhookOut", "WebhookUpdate", "create_endpoint", "error_report_csv", "get_connector", "get_job",
           "list_connectors", "list_deliveries", "list_endpoints", "list_jobs", "recent_import_jobs", "relay_status",
           "replay_delivery", "run_import", "run_source_now", "send_test_to_endpoint", "update_endpoint",
           # the console's webhook edit page
           "delete_endpoint", "get_endpoint", "rotate_secret",
           # the console's connector edit page
           "ConnectorUpdate", "update_connector",
           # creating and deleting one from the console
           "ConnectorCreate", "create_connector", "delete_connector",
           # a delivery's payload and attempt log on the endpoint's page
           "get_delivery"]
