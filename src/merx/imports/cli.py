"""`merx import online-retail PATH`: the application-level import that spans contexts.

Mounted by `merx.cli` itself: no context imports `merx.imports` (see `.importlinter`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from merx.core.cli_support import console, counted_progress

DEFAULT_ONLINE_RETAIL = Path("../shared/data/online_retail_ii_2009_2010.parquet")


def online_retail(path: Path = typer.Argument(DEFAULT_ONLINE_RETAIL, help="An Online Retail file (UCI layout I or II; .parquet, .csv or .xlsx).")
                  ) -> None:
    """Import the UCI Online Retail (I or II) data set: products, customers and (via analytics) invoice lines."""
    from merx.core.cli_support import upgraded_database
    from merx.core.errors import Problem
    from merx.core.uow import UnitOfWork
    from merx.imports.online_retail import import_online_retail

    db = upgraded_database()
    with counted_progress() as bar, UnitOfWork(db) as uow:
        tasks: dict[str, int] = {}

        def step(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        lines_task = None

        def lines(n: int) -> None:
            nonlocal lines_task
            if lines_task is None:
                lines_task = bar.add_task("invoice lines", total=None)
            bar.advance(lines_task, n)

        try:
            report = import_online_retail(uow, path, progress=step, line_progress=lines)
        except Problem as e:
            console.print(f"[red]import refused:[/red] {e.detail}")
            raise typer.Exit(2) from None
        except Exception as e:  # noqa: BLE001 - the transaction rolls back; the user gets a sentence
            console.print(f"[red]import failed, nothing was imported:[/red] {type(e).__name__}: {e}")
            raise typer.Exit(1) from None
    console.print(f"layout found: {report.layout}")
    typer.echo(json.dumps(report.as_dict(), indent=2, default=str))


def register(import_app: typer.Typer) -> None:
    import_app.command("online-retail")(online_retail)
