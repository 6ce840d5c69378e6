"""`merx jobs list|run|enable|disable`: the scheduler's jobs (core/jobs.py) from the command line."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now, enable or disable.", no_args_is_help=True)
console = Console(stderr=True)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "never"


def _open():  # type: ignore[no-untyped-def]
    from merx.app import build_scheduler
    from merx.core.cli_support import upgraded_database

    return upgraded_database(), build_scheduler()


@jobs_app.command("list")
def list_jobs() -> None:
    """Every job: schedule, last run, next run, last error."""
    from merx.core.jobs import job_statuses, sync_jobs

    db, scheduler = _open()
    try:
        sync_jobs(db, scheduler)
        table = Table(title="Jobs (UTC)")
        for col in ("name", "schedule", "last run", "status", "next run", "last error"):
            table.add_column(col, overflow="fold")
        for j in job_statuses(db, scheduler):
            status = "running" if j["running"] else (j["last_status"] or "-")
            if not j["enabled"]:
                status += " (disabled)"
            if j["attempts"]:
                status += f" ({j['attempts']} failures)"
            table.add_row(j["name"], j["schedule"], _when(j["last_run_at"]), status, _when(j["next_run_at"]),
                          j["last_error"] or "")
        Console(width=200).print(table)
    finally:
        db.dispose()


@jobs_app.command("run")
def run_job(name: str) -> None:
    """Run one job now, whatever its schedule, and show its result (exit 1 when it fails)."""
    from merx.core.errors import Problem
    from merx.core.jobs import run_job_now

    db, scheduler = _open()
    try:
        try:
            run = run_job_now(db, scheduler, name)
        except Problem as e:
            console.print(f"[red]{e.detail}[/red]")
            raise typer.Exit(2) from None
        if run.succeeded:
            typer.echo(f"{name}: succeeded in {run.duration_ms} ms: {run.result or 'done'}")
        else:
            typer.echo(f"{name}: failed in {run.duration_ms} ms: {run.error} (next try {_when(run.next_run_at)})")
            raise typer.Exit(1)
    finally:
        db.dispose()


def _set_enabled(name: str, enabled: bool) -> None:
    from merx.core.errors import Problem
    from merx.core.jobs import set_enabled

    db, scheduler = _open()
    try:
        set_enabled(db, scheduler, name, enabled)
    except Problem as e:
        console.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"{name}: {'enabled' if enabled else 'disabled'}")


@jobs_app.command("enable")
def enable(name: str) -> None:
    """Let the scheduler run a job again."""
    _set_enabled(name, True)


@jobs_app.command("disable")
def disable(name: str) -> None:
    """Stop the scheduler from running a job (`merx jobs run` still runs it by hand)."""
    _set_enabled(name, False)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
