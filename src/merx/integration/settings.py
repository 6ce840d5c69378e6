"""Settings of the integration hub (environment variables, prefix MERX_, like the core's)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    webhook_allow_private_urls: bool = True
    delivery_retention_days: int = 14

    connector_poll_seconds: float = Field(default=5.0, description="How often the worker runs due connectors.")


@lru_cache
def get_integration_settings() -> IntegrationSettings:
    return IntegrationSettings()
