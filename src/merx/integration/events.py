"""Events the integration hub itself emits."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Event


class WebhookEndpointDisabled(Event):
    """A webhook endpoint was disabled after too many consecutive failed deliveries."""

    event_type: ClassVar[str] = "webhook_endpoint.disabled"
    aggregate_type: ClassVar[str] = "webhook_endpoint"
    aggregate_field: ClassVar[str] = "endpoint_id"

    endpoint_id: int
    url: str
    consecutive_failures: int
    reason: str


class ConnectorImportCompleted(Event):
    """An inbound connector finished importing a file or an HTTP pull (`connector`: its code)."""

    event_type: ClassVar[str] = "connector_import.completed"
    aggregate_type: ClassVar[str] = "connector_import"
    aggregate_field: ClassVar[str] = "job_id"

    job_id: int
    connector: str
    status: Literal["succeeded", "partial", "failed", "duplicate"]
    rows_total: int
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_failed: int
