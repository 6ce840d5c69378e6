"""Running the Alembic migrations programmatically (`merx db ...`, `merx serve`, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from merx.core.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("version_path_separator", "os")
    return cfg


def _no_timeouts(conn: Any) -> None:
    # a migration may rewrite a big table or wait for the server's requests to finish
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")


def upgrade(db: Database, target: str = "heads") -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        _no_timeouts(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def downgrade(db: Database, target: str) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        _no_timeouts(conn)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def current_heads(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def script_heads(url: str = "sqlite://") -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def is_up_to_date(db: Database) -> bool:
    return current_heads(db) == script_heads(db.url)


def revision(db: Database, message: str, *, branch: str, new_branch: bool = False) -> None:
    """Autogenerate a migration on a context's branch (developer tool)."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if new_branch:
            command.revision(cfg, message=message, autogenerate=True, head="base", branch_label=branch,
                             version_path=str(MIGRATIONS_DIR / "versions"))
        else:
            command.revision(cfg, message=message, autogenerate=True, head=f"{branch}@head")


def schema_difference(db: Database) -> tuple[list[str], list[str]]:
    """(missing, unknown): this code's migrations the database has not applied (oldest first),
    and revisions the database is at that this code does not know (a newer Merx migrated it).
    Both empty: the database is at exactly this code's schema."""
    script = ScriptDirectory.from_config(alembic_config(db.url))
    current = current_heads(db)
    unknown = sorted(h for h in current if h not in {r.revision for r in script.walk_revisions()})
    known_current = [h for h in current if h not in unknown]
    applied = {r.revision for r in script.iterate_revisions(known_current, "base")} if known_current else set()
    missing = [r.revision for r in reversed(list(script.walk_revisions())) if r.revision not in applied]
    return missing, unknown


def schema_problem(db: Database) -> str | None:
    """Why a replica must not serve this database (None when the schemas match)."""
    missing, unknown = schema_difference(db)
    if unknown:
        return (f"the database is at migration {', '.join(unknown)}, which this version of Merx does not know "
                "(a newer version migrated it): run the same version on every replica")
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return (f"the database lacks migration {shown}: run `merx db upgrade` (or start one replica with "
                "--migrate) before serving")
    return None
