"""Inventory settings (environment variables with the MERX_ prefix)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class InventorySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    reservation_ttl_seconds: int = 900  # checkout holds live 15 minutes by default
    default_low_stock_threshold: int = 5
    allocation_strategy: str = "priority"  # priority | most_stock
    allocation_split: bool = True
    # Seconds between runs of the inventory.release_expired_holds job (0: the job is not
    # scheduled; `merx inventory sweep` and every allocation of a SKU still release them).
    reservation_sweep_interval_seconds: int = 60


@lru_cache
def get_inventory_settings() -> InventorySettings:
    return InventorySettings()
