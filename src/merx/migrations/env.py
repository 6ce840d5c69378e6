"""Alembic environment: one set of migrations for SQLite and PostgreSQL.

Each bounded context owns a branch (branch label = context name) so contexts evolve their
tables independently; `merx db upgrade` applies every branch ("heads")."""

from __future__ import annotations

from alembic import context

from merx.contexts import import_models
from merx.core.db import Base, Database

import_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db = Database(config.get_main_option("sqlalchemy.url"), pool_size=1)
    try:
        with db.engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        db.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `merx db upgrade` against a database")
run_migrations_online()
