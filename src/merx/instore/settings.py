"""In-store settings (environment variables with the MERX_ prefix)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InstoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    kiosk_idle_seconds: int = Field(
        default=90, ge=5, le=3600,
        description="A kiosk resets (cart and shopper cleared) after this many seconds without a touch. "
                    "A kiosk's URL may set its own with ?idle=SECONDS (5..3600).")
    instore_return_window_days: int = Field(
        default=30, ge=0, description="Counter returns are taken up to this many days after the order was placed.")
    instore_warehouse_delivery_days: int = Field(
        default=3, ge=0, description="Days a delivery from a warehouse takes, shown on the associate's product card.")
    instore_store_delivery_days: int = Field(
        default=2, ge=0, description="Days before an item moved from another store is ready in this one.")
    instore_held_cart_days: int = Field(
        default=7, ge=1, le=90, description="A cart an associate sends to a customer can be checked out through "
                                            "its link for this many days.")
    instore_payment_link_hours: int = Field(
        default=72, ge=1, le=24 * 90,
        description="An assisted or kiosk order's payment link can be paid for this many hours after it was "
                    "issued (the order placed, or the link sent again); later it answers 410 until re-sent.")


@lru_cache
def get_instore_settings() -> InstoreSettings:
    return InstoreSettings()
