"""`merx backup PATH` and `merx restore PATH [--force]`: the whole shop in one archive
(core/backup.py has the format and why it is consistent while the shop writes).

Lives above the contexts (like jobs_cli): after a restore it migrates the database up and
rebuilds the search index through `search.public`, which core may not import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import typer
from sqlalchemy.exc import OperationalError
from rich.progress import (BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from merx.core.cli_support import console


def _bars() -> Progress:
    return Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                    TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console)


def _reporter(progress: Progress) -> Callable[[str, int, int], None]:
    """core.backup's (step, done, total) calls as rich tasks: pages or tables, then bytes."""
    tasks: dict[str, TaskID] = {}

    def report(step: str, done: int, total: int) -> None:
        unit = ("tables" if step == "database" and total < 10_000 else "pages") if step == "database" else "bytes"
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=max(total, 1), unit="")
        fields = {"unit": f"{done:,}/{total:,} {unit}"} if step == "database" else {"unit": _size(done, total)}
        progress.update(tasks[step], completed=done, total=max(total, 1), **fields)

    return report


def _reason(error: Exception) -> str:
    if isinstance(error, OperationalError):  # the database is not there or refuses us
        return "cannot use the database: " + str(error.orig).strip().splitlines()[0]
    return str(error)


def _size(done: int, total: int) -> str:
    return f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB"


def _target() -> Any:
    """The configured shop, and the secret key in force (the environment's, else the data
    directory's file; none is generated here)."""
    from merx.core.backup import Target
    from merx.core.cli_support import open_database
    from merx.core.settings import SECRET_KEY_FILE, get_settings

    settings = get_settings()
    key_file = settings.data_dir / SECRET_KEY_FILE
    key = (settings.secret_key.get_secret_value() if settings.secret_key
           else key_file.read_text().strip() if key_file.exists() else None)
    return Target(db=open_database(), data_dir=settings.data_dir, secret_key=key), settings


def backup(path: Path = typer.Argument(..., help="The archive to write (a tar file; it holds the secret key "
                                                  "and every customer's data: keep it private).")) -> None:
    """Back up the database and the data directory's files into one archive, consistent
    while the shop keeps taking orders."""
    from merx.contexts import import_models
    from merx.core.backup import BackupError, backup as run_backup

    import_models()
    target, _settings = _target()
    try:
        with _bars() as progress:
            manifest = run_backup(target, path, progress=_reporter(progress))
    except (BackupError, OperationalError) as e:
        console.print(f"[red]merx backup: {_reason(e)}[/red]")
        raise typer.Exit(1) from None
    finally:
        target.db.dispose()
    console.print(f"[green]backed up[/green] to {path}: {manifest.summary()}")
    if manifest.secret_key_fingerprint and not manifest.secret_key_included:
        console.print("[yellow]The secret key is not in the archive (it comes from MERX_SECRET_KEY): restore with "
                      "the same MERX_SECRET_KEY, or sessions and stored credentials cannot be read.[/yellow]")


def restore(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="An archive `merx backup` wrote."),
            force: bool = typer.Option(False, "--force", help="Replace the shop already in the target database "
                                                              "and data directory."),
            reindex: bool = typer.Option(True, "--reindex/--no-reindex",
                                         help="Rebuild the search index from the restored catalog.")) -> None:
    """Restore an archive into the configured database and data directory (empty, or --force),
    migrate it up to this version's schema and rebuild the search index."""
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.backup import BackupError, fingerprint, restore as run_restore
    from merx.core.settings import ensure_secret_key, reset_settings_cache

    import_models()
    target, settings = _target()
    key_from_env = settings.secret_key is not None
    try:
        with _bars() as progress:
            manifest = run_restore(target, path, force=force, progress=_reporter(progress))
    except (BackupError, OperationalError) as e:
        target.db.dispose()
        console.print(f"[red]merx restore: {_reason(e)}[/red]")
        raise typer.Exit(1) from None
    migrate.upgrade(target.db)  # an archive from an older version comes up to this one's schema
    reset_settings_cache()
    from merx.core.settings import get_settings

    settings = get_settings()
    ensure_secret_key(settings)
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    if manifest.secret_key_fingerprint and fingerprint(key) != manifest.secret_key_fingerprint:
        console.print("[yellow]The secret key in force differs from the one the backup was made with "
                      f"({'MERX_SECRET_KEY' if key_from_env else 'the data directory'}): console sessions, "
                      "webhook secrets and connector credentials of the restored shop cannot be read until "
                      "MERX_SECRET_KEY is set to the original key.[/yellow]")
    console.print(f"[green]restored[/green] {path}: {manifest.summary()}")
    if reindex:
        from merx.search import public as search

        search.register_data_dir(target.db, settings.data_dir, settings.default_currency)
        with _bars() as progress:
            task = progress.add_task("search", total=None, unit="products")
            result = search.rebuild_index(target.db, settings.data_dir, on_progress=lambda i, _t: progress.update(
                task, completed=i, unit=f"{i:,} products"))
            progress.update(task, total=max(1, result["products"]), completed=max(1, result["products"]))
        console.print(f"search index rebuilt: {result['products']:,} products")
    target.db.dispose()


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
