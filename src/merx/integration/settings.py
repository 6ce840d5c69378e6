"""Settings of the integration hub (environment variables, prefix MERX_, like the core's)."""

from __future__ import annotations

from functools import cached_property, lru_cache

from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from merx.integration.outbound import AllowList


class IntegrationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    nats_url: str | None = Field(default=None, description="NATS server; unset = embedded mode (no broker).")
    nats_stream: str = Field(default="MERX", description="JetStream stream the relay publishes to (created if missing).")
    nats_subject_prefix: str = Field(default="merx", description="Subjects are <prefix>.<aggregate>.<event>.")
    nats_duplicate_window_seconds: int = 120

    relay_partitions: int = Field(default=16, description="Fixed at the first start; recorded in the database.")
    relay_lease_seconds: float = 15.0
    relay_batch_size: int = 500
    relay_poll_seconds: float = 0.2
    # A hole in the PostgreSQL outbox sequence older than this is treated as a rolled-back
    # transaction even when an older transaction is still open (see docs/events.md).
    relay_gap_timeout_seconds: float = 300.0

    webhook_timeout_seconds: float = 10.0
    webhook_max_consecutive_failures: int = 10
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_concurrency: int = Field(default=8, description="Parallel deliveries (threads) per worker.")
    outbound_allow: list[str] = Field(
        default_factory=list,
        description='Hosts, addresses or networks (JSON list, e.g. ["127.0.0.1", "10.0.0.0/8", "erp.lan"]) that '
                    "webhooks and connectors may reach although they are not public; empty: public addresses only.")
    delivery_retention_days: int = 14

    @cached_property
    def outbound_allow_list(self) -> "AllowList":
        from merx.integration.outbound import AllowList

        return AllowList.parse(self.outbound_allow)

    connector_poll_seconds: float = Field(default=5.0, description="How often the worker runs due connectors.")


@lru_cache
def get_integration_settings() -> IntegrationSettings:
    return IntegrationSettings()
