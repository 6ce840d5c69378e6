"""`merx products import FILE`, `merx products export FILE` and `merx import online-retail PATH`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
DEFAULT_ONLINE_RETAIL = Path("../shared/data/online_retail_ii_2009_2010.parquet")


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    return {".xlsx": "xlsx", ".json": "json"}.get(path.suffix.lower(), "csv")


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    products_app = typer.Typer(help="Catalog products: bulk import and export (CSV, XLSX).", no_args_is_help=True)
    app.add_typer(products_app, name="products")

    @products_app.command("import")
    def products_import(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
                        format: Optional[str] = typer.Option(None, "--format", help="csv | xlsx | json "
                                                             "(default: from the file name)")) -> None:
        """Import products from a CSV/XLSX file; prints the report (bad rows with their errors)."""
        from merx.catalog import importexport
        from merx.cli import upgraded_database
        from merx.core.errors import Problem
        from merx.core.uow import UnitOfWork

        db = upgraded_database()
        with _progress() as bar, UnitOfWork(db) as uow:
            task = bar.add_task("importing products", total=None)
            try:
                report = importexport.import_bytes(uow, path.read_bytes(), _format_of(path, format), uow.settings,
                                                   progress=lambda done, total: bar.update(task, completed=done,
                                                                                           total=total))
            except Problem as e:
                console.print(f"[red]import refused:[/red] {e.detail}")
                raise typer.Exit(2) from None
        typer.echo(json.dumps(report.model_dump(), indent=2, default=str))
        console.print(f"[green]{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
                      f"[/green], [red]{report.failed} failed[/red]")
        if report.failed:
            raise typer.Exit(1)

    @products_app.command("export")
    def products_export(path: Path = typer.Argument(..., dir_okay=False),
                        format: Optional[str] = typer.Option(None, "--format", help="csv | xlsx"),
                        status: Optional[str] = typer.Option(None, "--status")) -> None:
        """Export every product to a CSV/XLSX file that `merx products import` reads back."""
        from merx.catalog import importexport
        from merx.cli import upgraded_database
        from merx.core.uow import UnitOfWork

        fmt = _format_of(path, format)
        if fmt not in ("csv", "xlsx"):
            raise typer.BadParameter("export writes csv or xlsx", param_hint="--format")
        db = upgraded_database()
        with _progress() as bar, UnitOfWork(db, readonly=True) as uow:
            task = bar.add_task("exporting products", total=None)
            data = importexport.export_bytes(uow, fmt, uow.settings, status=status,
                                             progress=lambda done, total: bar.update(task, completed=done,
                                                                                     total=total))
        path.write_bytes(data)
        console.print(f"[green]wrote[/green] {path} ({len(data)} bytes)")

    @import_app.command("online-retail")
    def online_retail(path: Path = typer.Argument(DEFAULT_ONLINE_RETAIL, help="The Online Retail II parquet file.")
                      ) -> None:
        """Import the UCI Online Retail II data set: products, customers and (via analytics) invoice lines."""
        from merx.cli import upgraded_database
        from merx.core.errors import Problem
        from merx.core.uow import UnitOfWork
        from merx.imports.online_retail import import_online_retail

        db = upgraded_database()
        with _progress() as bar, UnitOfWork(db) as uow:
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
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
