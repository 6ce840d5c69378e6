"""`merx crm ...`: RFM runs, loyalty expiry and the Parquet export of tracked events."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    crm_app = typer.Typer(help="CRM: RFM scoring, loyalty expiry, event export.", no_args_is_help=True)
    app.add_typer(crm_app, name="crm")

    @crm_app.command("rfm")
    def rfm_command(reference_date: Optional[str] = typer.Option(None, help="YYYY-MM-DD; default: day after the last order"),
                    no_segments: bool = typer.Option(False, "--no-segments", help="Do not materialise RFM segments")) -> None:
        """Score every customer (R, F, M quintiles) and store the named RFM segments."""
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from merx.core.cli_support import console, upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.crm import rfm

        ref = dt.date.fromisoformat(reference_date) if reference_date else None
        db = upgraded_database()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("scoring customers", total=None)
            with UnitOfWork(db) as uow:
                run = rfm.run_rfm(uow, reference_date=ref, save_segments=not no_segments)
            bar.update(task, completed=1, total=1)
        console.print(f"reference date {run.reference_date}, {run.customers} customers (source: {run.source})")
        typer.echo(json.dumps(run.segments, indent=2))

    @crm_app.command("expire-points")
    def expire_command() -> None:
        """Expire loyalty points whose time is up (run daily)."""
        from merx.core.cli_support import console, upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.crm import loyalty

        db = upgraded_database()
        with UnitOfWork(db) as uow:
            points = loyalty.expire_due_points(uow)
        console.print(f"expired {points} points")

    @crm_app.command("export-events")
    def export_command(path: Path = typer.Argument(..., help="Parquet file to write"),
                       since: Optional[str] = typer.Option(None, help="ISO timestamp, inclusive"),
                       until: Optional[str] = typer.Option(None, help="ISO timestamp, exclusive")) -> None:
        """Write tracked events to one Parquet file (for analytics tools)."""
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from merx.core.cli_support import console, upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.crm.events_vocab import parse_timestamp
        from merx.crm.service import export_events_parquet

        db = upgraded_database()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(f"exporting to {path}", total=None)
            with UnitOfWork(db, readonly=True) as uow:
                count = export_events_parquet(uow, path, since=parse_timestamp(since) if since else None,
                                              until=parse_timestamp(until) if until else None)
            bar.update(task, completed=1, total=1)
        console.print(f"{count} events written to {path}")
