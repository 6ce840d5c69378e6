"""Settings from environment variables (prefix MERX_). `merx config` prints them, secrets masked."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_LOCALES = (
    "en", "pl", "ru", "uk", "ro", "de", "fr", "es", "it", "pt", "nl", "cs", "sk", "hu", "bg",
    "lt", "lv", "et", "fi", "sv", "da", "no", "tr", "zh", "ja", "ko",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    data_dir: Path = Field(default=Path("./merx-data"), description="Where the SQLite file, indexes and exports live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite file in data_dir.")
    secret_key: SecretStr = Field(default=SecretStr("dev-insecure-change-me"), description="Signs sessions and tokens.")
    default_locale: str = "en"
    locales: tuple[str, ...] = SUPPORTED_LOCALES
    default_currency: str = "EUR"
    default_phone_region: str = "PL"
    max_body_bytes: int = 5 * 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    page_size_default: int = 50
    page_size_max: int = 500
    idempotency_ttl_hours: int = 24
    idempotency_stale_seconds: float = Field(
        default=120, gt=0,
        description="How long a request holding an Idempotency-Key may run before a retry presumes it died "
                    "(a crash) and takes the key over; work it already committed is never redone.")
    payment_providers: str = Field(
        default="manual",
        description="Comma-separated payment providers checkout accepts. 'test' (a card stand-in that always "
                    "pays) belongs in demo and test setups only, never in a real shop.")
    db_lock_timeout_seconds: float = Field(
        default=5, ge=0, description="PostgreSQL lock_timeout for every transaction (0: wait forever): a request "
                                     "waiting longer for a row lock gets 503 with Retry-After instead of hanging.")
    db_statement_timeout_seconds: float = Field(
        default=30, ge=0, description="PostgreSQL statement_timeout for every statement (0: none).")
    log_level: str = "INFO"
    log_json: bool = True
    require_services: bool = False
    db_pool_size: int = 10
    db_echo: bool = False
    request_threads: int = Field(default=8, ge=1, description="Threads per process running blocking endpoints.")
    event_handlers: Literal["background", "inline"] = Field(
        default="background",
        description="How `merx serve` runs other contexts' reactions to events (CRM timeline, analytics facts, "
                    "search signals): 'background' batches them on a dispatcher thread after the response; "
                    "'inline' runs them before the request returns.")

    @property
    def enabled_payment_providers(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.payment_providers.split(",") if p.strip())

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'merx.db').resolve()}"

    def masked(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********"
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["database_url"] = mask_url_password(self.effective_database_url)
        return out


def mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given; it has no password we could find
        return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
