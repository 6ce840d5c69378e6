"""One set of Alembic migrations builds the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from merx.core import migrate
from merx.core.db import Base


@pytest.mark.backends("sqlite", "postgresql")
def test_migrations_match_models(db):
    assert migrate.is_up_to_date(db)
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration for: {diff}"


def test_migrations_run_down_and_up_on_a_fresh_sqlite(tmp_path):
    from merx.core.db import Database

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db)
    assert migrate.is_up_to_date(db)
    migrate.downgrade(db, "base")
    assert migrate.current_heads(db) == set()
    migrate.upgrade(db)
    assert migrate.is_up_to_date(db)
    db.dispose()
