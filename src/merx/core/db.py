"""Database plumbing: engine per URL, declarative base, column types shared by every context.

SQLite is configured for a multi-threaded web server: WAL, foreign keys, a busy timeout,
and explicit BEGIN so that SAVEPOINTs work and write transactions can start IMMEDIATE
(taking the write lock up front instead of failing on lock upgrade under contention).
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Annotated, Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class DecimalText(sa.TypeDecorator):
    """Exact decimals on every backend: NUMERIC on PostgreSQL, canonical text on SQLite
    (SQLite's NUMERIC affinity would turn them into binary floats)."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(28, 8))
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return value if dialect.name == "postgresql" else format(value, "f")

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return canonical_decimal(Decimal(value))


def canonical_decimal(value: Decimal) -> Decimal:
    """The same number read back on either backend: no trailing zeros (PostgreSQL's NUMERIC
    pads to its scale: 1.20000000) and no exponent (normalize() alone turns 100 into 1E+2)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

IdPK = Annotated[int, mapped_column(BigIntPK, primary_key=True, autoincrement=True)]


# A simulated "now" for the code running in this context (thread or task): `merx demo`
# replays a year of business day by day through the real use cases, so every row and event
# carries the time it would have had. Nothing else sets it; None means the wall clock.
_simulated_now: ContextVar[dt.datetime | None] = ContextVar("merx_simulated_now", default=None)


def utcnow() -> dt.datetime:
    simulated = _simulated_now.get()
    return simulated if simulated is not None else dt.datetime.now(dt.timezone.utc)


@contextmanager
def simulated_clock(moment: dt.datetime) -> Iterator[None]:
    """Within the block, `utcnow()` answers `moment` (an aware datetime) in this context only."""
    if moment.tzinfo is None:
        raise ValueError("simulated_clock needs an aware datetime")
    token = _simulated_now.set(moment.astimezone(dt.timezone.utc))
    try:
        yield
    finally:
        _simulated_now.reset(token)


# SQLite's lower() folds ASCII only ("ŁÓDŹ" stays as is); this SQL function folds Unicode case
# the way Python does, so the console search box (core.pagination.casefold) finds "Łódź" by
# "łódź" on SQLite as it does on PostgreSQL.
SQLITE_CASEFOLD = "merx_casefold"


def _sqlite_casefold(value: Any) -> str | None:
    return None if value is None else str(value).casefold()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (pysqlite's own breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        # deterministic: SQLite may then use it in indexes and constant-fold it.
        dbapi_connection.create_function(SQLITE_CASEFOLD, 1, _sqlite_casefold, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _postgres_timeouts(lock_timeout: float | None, statement_timeout: float | None) -> dict[str, Any]:
    """lock_timeout and statement_timeout for every transaction on the connection, given as
    startup options: set once per connection rather than a `SET LOCAL` round trip per
    transaction (behind a transaction-pooling proxy, set them on the database role instead)."""
    options = [f"-c {name}={int(seconds * 1000)}" for name, seconds in
               (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)) if seconds]
    return {"options": " ".join(options)} if options else {}


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, lock_timeout: float | None = None,
                statement_timeout: float | None = None) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # bound values (customer emails...) never reach logs or errors
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size * 2,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    connect_args = _postgres_timeouts(lock_timeout, statement_timeout) if parsed.get_backend_name() == "postgresql" else {}
    engine = sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2,
                              connect_args=connect_args, hide_parameters=True)
    _ping_idle_connections(engine)
    return engine


IDLE_PING_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """`pool_pre_ping`, but only for a connection that sat idle in the pool for a while: a
    server restart or an idle timeout shows up there, while a connection handed back a
    moment ago is alive. Pinging every checkout cost a round trip per request."""
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["merx_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("merx_idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as e:  # the pool discards this connection and checks out another
            raise sa.exc.DisconnectionError(str(e)) from e


class Database:
    """One engine and its session factories. Created once per process (or per test).
    `lock_timeout` / `statement_timeout` (seconds, PostgreSQL; None: none) bound how long a
    transaction waits for a row lock and a statement runs: the server passes its settings."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, lock_timeout: float | None = None,
                 statement_timeout: float | None = None) -> None:
        self.url = url
        # The settings this database serves under; create_app sets them, else the environment's.
        self.settings: Any = None
        self.engine = make_engine(url, pool_size=pool_size, echo=echo, lock_timeout=lock_timeout,
                                  statement_timeout=statement_timeout)
        self.dialect = self.engine.dialect.name
        self.read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.dialect == "sqlite" else self.engine
        self.write_sessions = sessionmaker(write_engine, expire_on_commit=False)

    @classmethod
    def for_settings(cls, settings: Any, **overrides: Any) -> "Database":
        return cls(settings.effective_database_url, **{
            "pool_size": settings.db_pool_size, "echo": settings.db_echo,
            "lock_timeout": settings.db_lock_timeout_seconds,
            "statement_timeout": settings.db_statement_timeout_seconds, **overrides})

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
