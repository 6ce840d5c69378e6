"""Orders settings (environment variables with the MERX_ prefix)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrdersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    guest_deferred_hold_minutes: int = Field(
        default=1440, ge=1,
        description="How long a guest's pay-later order (cash on delivery, pay in store) holds its stock before "
                    "the orders.expire_unpaid_orders job cancels it, unless staff accepted it first.")
    guest_open_holds_per_address: int = Field(
        default=3, ge=1,
        description="How many open pay-later guest orders one client address may hold at a time.")
    expiry_job_seconds: int = Field(
        default=60, ge=1, description="How often the jobs that expire checkouts and unpaid orders run.")


@lru_cache
def get_orders_settings() -> OrdersSettings:
    return OrdersSettings()
