"""Bad input (issue 13): a replica started against a database at another schema version
refuses to serve and names the migration: one the database lacks (run `merx db upgrade`), or
one this version does not know (a newer release migrated the database)."""

from __future__ import annotations

import os
import subprocess

import sqlalchemy as sa

from cluster import free_port, merx_command

from merx.contexts import import_models
from merx.core import migrate
from merx.core.db import Database


def _serve(data_dir, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MERX_DATA_DIR": str(data_dir), "COLUMNS": "400", "MERX_SERVE_RUNS_JOBS": "false"}
    env.pop("MERX_DATABASE_URL", None)
    return subprocess.run([merx_command(), "serve", "--port", str(free_port()), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_replica_refuses_a_database_at_another_schema(tmp_path):
    import_models()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = Database(f"sqlite:///{data_dir / 'merx.db'}")
    migrate.upgrade(db)
    assert migrate.schema_problem(db) is None
    head = sorted(migrate.script_heads(db.url))[0]
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory.from_config(migrate.alembic_config(db.url)).get_revision(head).down_revision
    assert isinstance(previous, str)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :p WHERE version_num = :h"),
                     {"p": previous, "h": head})
    assert migrate.schema_difference(db) == ([head], [])
    refused = _serve(data_dir, "--no-migrate")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    said = refused.stdout + refused.stderr
    assert f"lacks migration {head}" in said, said
    assert "merx db upgrade" in said

    # a newer release migrated it: never served, never "upgraded" by this one
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zz_9999' WHERE version_num = :p"),
                     {"p": previous})
    missing, unknown = migrate.schema_difference(db)
    assert unknown == ["zz_9999"]
    refused = _serve(data_dir)  # with the default --migrate
    assert refused.returncode == 3, refused.stdout + refused.stderr
    said = refused.stdout + refused.stderr
    assert "zz_9999" in said and "does not know" in said, said
    db.dispose()
