"""`merx products import FILE` and `merx products export FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from merx.core.cli_support import console, counted_progress


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
        from merx.core.cli_support import upgraded_database
        from merx.core.errors import Problem
        from merx.core.uow import UnitOfWork

        db = upgraded_database()
        with counted_progress() as bar, UnitOfWork(db) as uow:
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
        from merx.core.cli_support import upgraded_database
        from merx.core.uow import UnitOfWork

        fmt = _format_of(path, format)
        if fmt not in ("csv", "xlsx"):
            raise typer.BadParameter("export writes csv or xlsx", param_hint="--format")
        db = upgraded_database()
        with counted_progress() as bar, UnitOfWork(db, readonly=True) as uow:
            task = bar.add_task("exporting products", total=None)
            data = importexport.export_bytes(uow, fmt, uow.settings, status=status,
                                             progress=lambda done, total: bar.update(task, completed=done,
                                                                                     total=total))
        path.write_bytes(data)
        console.print(f"[green]wrote[/green] {path} ({len(data)} bytes)")
