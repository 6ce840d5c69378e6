"""`merx import run CONNECTOR FILE`: an import job from the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True)


def import_run(connector: str = typer.Argument(..., help="Connector code"),
               file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
               force: bool = typer.Option(False, help="Re-check every row even if this exact file was imported."),
               errors_csv: Path = typer.Option(None, "--errors-csv", help="Write the per-row error report here.")) -> None:
    """Import FILE through CONNECTOR (its mapping and target), as a job with counts and errors."""
    from merx.core.cli_support import upgraded_database
    from merx.core.errors import Problem
    from merx.integration.connectors.service import error_report_csv, run_import

    db = upgraded_database()
    content = file.read_bytes()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task(f"import {file.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            job = run_import(db, connector, content, filename=file.name, source="cli", progress=progress)
        except Problem as e:
            console.print(f"[red]{e.title}[/red]: {e.detail}")
            raise typer.Exit(2)
    colour = {"succeeded": "green", "duplicate": "cyan", "partial": "yellow"}.get(job.status, "red")
    console.print(f"[{colour}]{job.status}[/{colour}] job {job.id}: {job.rows_total} rows, {job.rows_created} created, "
                  f"{job.rows_updated} updated, {job.rows_unchanged} unchanged, {job.rows_failed} failed"
                  + (f" ({job.message})" if job.message else ""))
    for e in job.errors[:20]:
        console.print(f"  row {e['row']}: {e['field']}: {e['message']} ({e.get('value')!r})")
    if len(job.errors) > 20:
        console.print(f"  ... {len(job.errors) - 20} more")
    if errors_csv is not None:
        errors_csv.write_text(error_report_csv(job))
        console.print(f"error report: {errors_csv}")
    raise typer.Exit(0 if job.status in ("succeeded", "duplicate") else 1)


def register_import(import_app: typer.Typer) -> None:
    import_app.command("run")(import_run)
