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


_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "sslpassword", "secret", "token", "key")


def mask_url_password(url: str) -> str:
    """The URL with its password hidden, wherever it sits: after the user name (even with an
    unescaped "@" in it, which URL parsers read as the start of the host) or in the query
    (`?password=`, libpq's `sslpassword=`...)."""
    from sqlalchemy.engine import make_url

    scheme, sep, rest = url.partition("://")
    if sep:
        before_query = rest.split("?", 1)[0]
        last_at = before_query.rfind("@")
        if last_at > 0:
            user = rest[:last_at].split(":", 1)[0]
            rest = (f"{user}:hidden" if ":" in rest[:last_at] else user) + rest[last_at:]
            url = f"{scheme}://{rest}"
    try:
        parsed = make_url(url)
        hidden = {k: "hidden" for k in parsed.query if k.lower() in _SECRET_QUERY_KEYS}
        return parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    except Exception:  # unparsable: show only the scheme rather than risk a secret
        return f"{scheme}://<unparsable URL hidden>" if sep else "<unparsable URL hidden>"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
