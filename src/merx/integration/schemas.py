"""API shapes of the integration hub."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, BaseModel, Field, field_validator

from merx.core.schemas import StrictModel


def _check_url(v: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return v


def _check_event_types(v: list[str]) -> list[str]:
    import re

    pattern = re.compile(r"^(\*|[a-z0-9_]+\.(\*|[a-z0-9_.]+))$")
    for t in v:
        if not pattern.match(t):
            raise ValueError(f"{t!r} is not an event type such as 'order.placed', 'order.*' or '*'")
    return sorted(set(v))


class WebhookCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "url": "https://erp.example.com/merx-events", "events": ["order.*", "product.updated"],
        "description": "ERP order sync"}]})

    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, description="Event types or 'aggregate.*'; empty = every event.")
    secret: str | None = Field(default=None, description="'whsec_' + base64 of 24-64 random bytes; generated if absent.")
    description: str | None = Field(default=None, max_length=500)

    _url = field_validator("url")(_check_url)
    _events = field_validator("events")(_check_event_types)


class WebhookUpdate(StrictModel):
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = Field(default=None, description="true re-enables a disabled endpoint (failures reset).")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_url(v)

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_event_types(v)


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str | None
    active: bool
    disabled_at: dt.datetime | None
    disabled_reason: str | None
    consecutive_failures: int
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(description="Shown only on creation and rotation.")


class AttemptOut(BaseModel):
    id: int
    trigger: str
    attempted_at: dt.datetime
    status_code: int | None
    latency_ms: int
    outcome: str
    error: str | None
    response_snippet: str | None


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    created_at: dt.datetime
    completed_at: dt.datetime | None
    payload: Any = None
    payload_purged_at: dt.datetime | None
    attempt_log: list[AttemptOut] = Field(default_factory=list)


class EventOut(BaseModel):
    seq: int
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int | None
    occurred_at: dt.datetime
    schema_version: int
    payload: Any


# -- connectors ----------------------------------------------------------------------------------

ConnectorTarget = Literal["stock_levels", "prices", "products", "order_status", "orders", "offers", "costs",
                          "dealer_reports", "sales_lines"]


class ConnectorCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=200)
    direction: Literal["inbound", "outbound"] = "inbound"
    target: ConnectorTarget
    format: Literal["csv", "json"] = "csv"
    mapping: dict[str, Any] = Field(description="Declarative mapping; see docs/connectors.md.")
    transport: dict[str, Any] = Field(default_factory=dict)
    active: bool = True


class ConnectorUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    format: Literal["csv", "json"] | None = None
    mapping: dict[str, Any] | None = None
    transport: dict[str, Any] | None = None
    active: bool | None = None


class ConnectorOut(BaseModel):
    id: int
    code: str
    name: str
    direction: str
    target: str
    format: str
    mapping: dict[str, Any]
    transport: dict[str, Any]
    active: bool
    last_run_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ImportJobOut(BaseModel):
    id: int
    connector_id: int
    source: str
    filename: str | None
    content_hash: str
    status: str
    rows_total: int
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_failed: int
    errors: list[dict[str, Any]]
    message: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
