"""Test fixtures: real SQLite and PostgreSQL databases, the real ASGI app over HTTP.

Each test session creates its own databases (a temporary SQLite file; a PostgreSQL database
with a random name, dropped at the end) and migrates them once; every test starts from
empty tables. Tests run on SQLite unless marked `@pytest.mark.backends("sqlite", "postgresql")`
(or MERX_TEST_BACKENDS=sqlite,postgresql runs every test on both).

PostgreSQL tests skip with a reason when the server does not answer, except when
MERX_REQUIRE_SERVICES=1 (CI), where that is a failure."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

import pytest
import sqlalchemy as sa

from merx.contexts import import_models
from merx.core.db import Base, Database

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MERX_SHARED_DATA", ROOT.parent / "shared" / "data"))
PG_ADMIN_URL = os.environ.get("MERX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("MERX_REQUIRE_SERVICES") == "1"
# Tests assert other contexts' reactions right after a request, so handlers run inline unless
# a test chooses the server's background dispatcher (tests/test_event_dispatch.py does).
os.environ.setdefault("MERX_EVENT_HANDLERS", "inline")
# Every test client calls from one address; the per-address cap on guests' pay-later orders is
# checked where it is set (tests/orders/test_order_expiry.py).
os.environ.setdefault("MERX_GUEST_OPEN_HOLDS_PER_ADDRESS", "1000")
# No built-in secret key any more: tests sign and encrypt with this one (a test about the
# generated key clears it for its own settings).
os.environ.setdefault("MERX_SECRET_KEY", "merx-tests-only-secret-key-9f3c1e7a")
# The test suite is a test mode: the `test` card provider is enabled here (and in the demo),
# never by default. Servers started as subprocesses inherit it.
TEST_PAYMENT_PROVIDERS = "manual,test"
os.environ.setdefault("MERX_PAYMENT_PROVIDERS", TEST_PAYMENT_PROVIDERS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run the test on these database backends")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        forced = os.environ.get("MERX_TEST_BACKENDS")
        if forced:
            backends = tuple(b.strip() for b in forced.split(",") if b.strip())
        else:
            backends = marker.args if marker else ("sqlite",)
        metafunc.parametrize("db", backends, indirect=True)


def service_unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and MERX_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"shared data set {path} is missing", pytrace=False)
        pytest.skip(f"shared data set {path} is missing")
    return path


def pg_url_for(dbname: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


def create_pg_database(prefix: str = "merx_test") -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as e:  # noqa: BLE001 - any connection failure means "not reachable"
        service_unavailable("PostgreSQL at " + PG_ADMIN_URL, str(e).splitlines()[0])
    return name


def drop_pg_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _Databases:
    """Migrated databases, one per backend, made on first use and removed at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made: dict[str, Database] = {}
        self.pg_names: list[str] = []

    def get(self, backend: str) -> Database:
        if backend not in self.made:
            from merx.core import migrate

            if backend == "sqlite":
                db = Database(f"sqlite:///{self.tmp / 'merx-test.db'}")
            elif backend == "postgresql":
                name = create_pg_database()
                self.pg_names.append(name)
                db = Database(pg_url_for(name))
            else:
                raise ValueError(backend)
            migrate.upgrade(db)
            self.made[backend] = db
        return self.made[backend]

    def close(self) -> None:
        for db in self.made.values():
            db.dispose()
        for name in self.pg_names:
            drop_pg_database(name)


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    import_models()
    dbs = _Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.close()


RESET_HOOKS: list[Callable[[Database], None]] = []


def empty_tables(db: Database) -> None:
    # Only tables that exist: a model whose migration is not written yet is test_migrations' concern.
    existing = set(sa.inspect(db.engine).get_table_names())
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(t.delete())
            conn.execute(sa.text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None
    for hook in RESET_HOOKS:
        hook(db)


def _has_sqlite_sequence(conn: sa.Connection) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@pytest.fixture
def db(request: pytest.FixtureRequest, _databases: _Databases) -> Database:
    database = _databases.get(getattr(request, "param", "sqlite"))
    _quiesce_background_work()
    empty_tables(database)
    return database


def _quiesce_background_work() -> None:
    """Work an earlier test left for later (queued events, search's delayed flushes and its
    sales-signal re-index timer) must neither write into this test's tables nor lock them
    while they are emptied."""
    from merx.core.events import bus

    bus.drain(30)
    try:
        from merx.search.handlers import discard_noted
    except ImportError:
        return
    discard_noted()


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from merx.core.settings import Settings

    return Settings(data_dir=tmp_path / "data", log_json=True, log_level="WARNING", max_body_bytes=256 * 1024,
                    payment_providers=TEST_PAYMENT_PROVIDERS)


@pytest.fixture
def app(db: Database, settings):  # type: ignore[no-untyped-def]
    from merx.app import create_app

    return create_app(settings, db)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_key(db: Database) -> Callable[..., dict[str, str]]:
    """make_key("admin") -> headers carrying a fresh API key of that role."""
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    def _make(role: str, *, seller_id: int | None = None, customer_id: int | None = None,
              name: str | None = None) -> dict[str, str]:
        with UnitOfWork(db) as uow:
            issued = accounts.create_user_with_key(uow, name=name or f"{role}-{secrets.token_hex(3)}", role=Role(role),
                                                   seller_id=seller_id, customer_id=customer_id)
        return {"Authorization": f"Bearer {issued.key}"}

    return _make


@pytest.fixture
def admin(make_key) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_key("admin")


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    """A real local SMTP server (aiosmtpd) on a free port; `.url` goes in `MERX_SMTP_URL` /
    `Settings(smtp_url=...)`, `.wait_for(n)` returns the parsed messages received."""
    from mail_server import LocalSmtpServer

    server = LocalSmtpServer().start()
    yield server
    server.stop()
