"""What every `merx ...` command needs: the stderr console and the database it works on.

Lives in core so a context's `cli.py` can use it without importing `merx.cli` (the command
that mounts the contexts' commands: importing it back would turn the layering upside down)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from merx.core.db import Database
from merx.core.settings import get_settings

console = Console(stderr=True)


def open_database() -> Database:
    return Database.for_settings(get_settings(), echo=False)


def require_secret_key() -> None:
    """Settle the secret key once, before workers start: a generated key is written (and
    announced) here, and every worker process reads the same file."""
    import typer

    from merx.core.settings import SecretKeyMissing, ensure_secret_key

    try:
        ensure_secret_key(get_settings())
    except SecretKeyMissing as e:
        console.print(f"[red]merx: {e}[/red]")
        raise typer.Exit(2) from None


def upgraded_database() -> Database:
    """The configured database with every migration applied (the models are loaded first)."""
    from merx.contexts import import_models
    from merx.core import migrate

    import_models()
    db = open_database()
    migrate.upgrade(db)
    return db


def counted_progress() -> Progress:
    """Bars with done/total and elapsed time, on the stderr console (imports and exports)."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)
