"""Settings from environment variables (prefix MERX_). `merx config` prints them, secrets masked."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger("merx.settings")
SECRET_KEY_FILE = "secret_key"

SUPPORTED_LOCALES = (
    "en", "pl", "ru", "uk", "ro", "de", "fr", "es", "it", "pt", "nl", "cs", "sk", "hu", "bg",
    "lt", "lv", "et", "fi", "sv", "da", "no", "tr", "zh", "ja", "ko",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_", extra="ignore")

    data_dir: Path = Field(default=Path("./merx-data"), description="Where the SQLite file, indexes and exports live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite file in data_dir.")
    # No built-in default: a key everyone knows lets anyone sign a session cookie. Unset, a
    # SQLite install generates one into data_dir; PostgreSQL refuses to start (ensure_secret_key).
    secret_key: SecretStr | None = Field(default=None, description="Signs sessions and tokens, encrypts stored "
                                         "webhook secrets. Unset on SQLite: generated into data_dir/secret_key.")
    secret_key_fallbacks: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), description="Earlier secret keys (comma-separated), still accepted to verify cookies and "
                                "decrypt stored secrets until secret_key_fallbacks_until; nothing new uses them.")
    secret_key_fallbacks_until: dt.datetime | None = Field(
        default=None, description="When the fallback keys stop being accepted (ISO date-time, UTC if no zone); "
                                  "required with secret_key_fallbacks.")
    session_lifetime_hours: float = Field(default=12, gt=0, description="A console sign-in ends after this long.")
    session_idle_minutes: float = Field(default=60, gt=0, description="...or after this long without a request.")
    login_lockout_after: int = Field(default=5, ge=1, description="Failed sign-ins to one account before it is "
                                     "locked for a while (1 minute, doubling with each further failure).")
    login_lockout_max_minutes: float = Field(default=60, gt=0, description="The longest lockout.")
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
    redis_url: str | None = Field(
        default=None, description="Redis for state shared by every worker and replica (rate-limit counters); "
                                  "unset: each process counts in its own memory.")
    rate_limits: dict[str, str] = Field(
        default_factory=dict, description='Overrides of core.ratelimit.DEFAULT_LIMITS by name, e.g. {"login": "5/minute"}.')
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token a Prometheus scraper may use for /metrics (admin API keys work too).")
    event_handlers: Literal["background", "inline"] = Field(
        default="background",
        description="How `merx serve` runs other contexts' reactions to events (CRM timeline, analytics facts, "
                    "search signals): 'background' batches them on a dispatcher thread after the response; "
                    "'inline' runs them before the request returns.")
    embedded_worker: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Whether `merx serve` runs the durable subscribers (CRM, analytics...) on a thread of its own: "
                    "'auto' does unless a `merx worker` is alive, 'on' always, 'off' never (run `merx worker`).")
    subscriber_batch_size: int = Field(default=500, ge=1, description="Outbox events per durable subscriber batch.")
    subscriber_batch_window_seconds: float = Field(
        default=0.2, ge=0,
        description="After a local commit wakes the embedded/worker runner, how long it gathers further commits "
                    "before its pass: one transaction per subscriber per batch instead of per order.")
    subscriber_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often a subscriber runner looks for other processes' commits "
                                       "(its own process's commits wake it at once).")
    subscriber_max_attempts: int = Field(
        default=5, ge=1, description="Tries of an event a durable subscriber fails on before it is dead-lettered.")
    subscriber_retry_base_seconds: float = Field(default=1.0, ge=0, description="First retry delay; doubles per try.")
    subscriber_retry_max_seconds: float = Field(default=300.0, ge=0)
    outbox_notify: bool = Field(
        default=True,
        description="PostgreSQL: a commit that writes outbox rows sends NOTIFY merx_outbox, so other replicas' "
                    "search index followers wake at once instead of at their next poll. NOTIFY serialises the "
                    "commits that send it: turn it off if commit throughput suffers (followers then poll).")
    outbox_gap_timeout_seconds: float = Field(
        default=300.0, gt=0, description="PostgreSQL: how long a missing outbox seq may hold readers back.")

    smtp_url: SecretStr | None = Field(
        default=None,
        description="Outgoing mail server: smtp://user:password@host:587 (STARTTLS when the server offers it), "
                    "smtps://host:465 (TLS from the start), or smtp://host:1025 for a local server. Unset: mail "
                    "is written to the log only and `merx config` says so.")
    mail_from: str = Field(default="Merx shop <shop@localhost>", description="From address of outgoing mail.")
    mail_domain: str = Field(default="localhost", description="Right-hand side of the Message-IDs Merx generates.")
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^/\s]+(/[^\s]*)?$",
        description="The shop's address as shoppers reach it (https://shop.example.com), for links in mails "
                    "(email confirmation, password reset). Unset: taken from the request, which trusts its Host "
                    "header; set it in production.")

    replica_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="This `merx serve` replica's name (its search index cursor is `search.index@<id>`). Unset: one "
                    "is generated into data_dir/replica_id, so a wiped data dir is a new replica.")
    serve_runs_jobs: bool = Field(
        default=True,
        description="`merx serve` runs due scheduled jobs (hold expiry, connector pulls...) on a thread of its own; "
                    "set false when `merx worker` processes run them (both together is safe: jobs are leased).")

    @field_validator("secret_key_fallbacks", mode="before")
    @classmethod
    def _split_fallbacks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("secret_key_fallbacks_until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _fallbacks_need_an_end(self) -> "Settings":
        if self.secret_key_fallbacks and self.secret_key_fallbacks_until is None:
            raise ValueError("MERX_SECRET_KEY_FALLBACKS needs MERX_SECRET_KEY_FALLBACKS_UNTIL: old keys are "
                             "accepted for a stated period only")
        return self

    @property
    def current_secret(self) -> str:
        """The key every new signature and encryption uses."""
        if self.secret_key is None:
            raise SecretKeyMissing("the secret key is not set up; call ensure_secret_key(settings) first")
        return self.secret_key.get_secret_value()

    def verification_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """Keys accepted to verify or decrypt, current first: the fallbacks only until their end."""
        keys = [self.current_secret]
        until = self.secret_key_fallbacks_until
        if self.secret_key_fallbacks and until is not None and (now or dt.datetime.now(dt.timezone.utc)) < until:
            keys += [k.get_secret_value() for k in self.secret_key_fallbacks]
        return keys

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
            elif isinstance(value, tuple) and value and isinstance(value[0], SecretStr):
                value = ["********"] * len(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["database_url"] = mask_url_password(self.effective_database_url)
        if self.redis_url:
            out["redis_url"] = mask_url_password(self.redis_url)
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


class SecretKeyMissing(RuntimeError):
    """The server may not start: no MERX_SECRET_KEY, and none can be generated safely."""


def ensure_secret_key(settings: Settings) -> None:
    """Give `settings` its secret key. Set in the environment: used as is. Unset on SQLite
    (one machine, the data dir is ours): read data_dir/secret_key, or generate it there
    (mode 600) and say so on stderr. Unset on a server database: refuse, because replicas
    would each invent a different key and one replica's cookies would fail on the next."""
    if settings.secret_key is not None:
        return
    from sqlalchemy.engine import make_url

    if make_url(settings.effective_database_url).get_backend_name() != "sqlite":
        raise SecretKeyMissing(
            "MERX_SECRET_KEY is not set. With a server database (PostgreSQL) every replica must share one "
            "secret key: generate one (python -c 'import secrets; print(secrets.token_urlsafe(48))') and set "
            "MERX_SECRET_KEY in the environment of every merx process.")
    path = settings.data_dir / SECRET_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: os.link fails if
        # another process starting at the same moment got there first, and then we read its key.
        tmp = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        else:
            message = (f"merx: no MERX_SECRET_KEY set; generated a random secret key into {path.resolve()} "
                       "(mode 600). Keep it with the database: sessions and stored webhook secrets depend on it.")
            print(message, file=sys.stderr)
            log.warning("generated a secret key", extra={"path": str(path.resolve())})
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text().strip()
    if not key:
        raise SecretKeyMissing(f"{path} is empty; delete it to generate a new key or set MERX_SECRET_KEY")
    settings.secret_key = SecretStr(key)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_of(db: Any) -> Settings:
    """The settings a database serves under: the app's (create_app sets `db.settings`), else
    the environment's. What is read or written in a database (its secret key above all) must
    follow its own settings, not the process's global ones: one process may serve several."""
    return getattr(db, "settings", None) or get_settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
