"""Marketing settings (environment variables with the MERX_ prefix)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MarketingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_MARKETING_", extra="ignore")

    timezone: str = Field(default="Europe/Warsaw",
                          description="Recipients' time zone when their country does not tell one.")
    send_windows: str = Field(default="08:00-09:00,12:00-13:00,18:00-20:00",
                              description="Local times marketing messages may go out (recipient's time zone).")
    quiet_hours: str = Field(default="21:00-08:00", description="Local times no marketing message goes out.")
    daily_cap: int = Field(default=1, ge=0, description="Marketing messages per person per local day, all channels.")
    channel_caps: dict[str, int] = Field(default_factory=dict,
                                         description='Per-channel daily caps, e.g. {"sms": 1}; the strictest applies.')
    provider_rates: dict[str, str] = Field(default_factory=lambda: {"email": "50/second", "sms": "5/second",
                                                                    "messaging": "10/second"},
                                           description="Rate limit per provider (limits notation).")
    batch_size: int = Field(default=500, ge=1, description="Messages claimed, or campaign recipients prepared, per batch.")
    claim_lease_seconds: int = Field(default=300, ge=1,
                                     description="A sender that held a batch this long without finishing is presumed dead.")
    attribution_days: int = Field(default=7, ge=1, description="Orders this many days after a touch are attributed to it.")
    sms_gateway_url: str | None = Field(default=None, description="SMS/messaging gateway receiving signed webhooks.")
    gateway_secret: SecretStr | None = Field(
        default=None, description="Shared secret (Standard Webhooks, whsec_ base64) signing outgoing gateway calls "
                                  "and verifying inbound bounce/complaint webhooks.")
    shop_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of links in messages.")
    shop_name: str = Field(default="Merx shop")


@lru_cache
def get_marketing_settings() -> MarketingSettings:
    return MarketingSettings()
