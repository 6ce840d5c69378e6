"""`merx worker`, `merx events ...`, `merx webhooks ...`, `merx import run ...`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console(stderr=True)
events_app = typer.Typer(help="Domain events: tail the outbox, generate the event catalog.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhooks: send a signed test message, purge old payloads.", no_args_is_help=True)


def worker(partitions: Optional[int] = typer.Option(None, help="Partition count at the very first start."),
           worker_id: Optional[str] = typer.Option(None, help="Name in the lease table (default host:pid:random)."),
           migrate_first: bool = typer.Option(True, "--migrate/--no-migrate")) -> None:
    """Relay the outbox to webhooks and NATS JetStream, and run the durable subscribers (CRM,
    analytics), until SIGTERM/SIGINT. Run several for throughput and availability: they split
    the partitions between them, and each subscriber and each scheduled job runs on one of them at a time."""
    from merx.app import register_handlers
    from merx.core.cli_support import open_database, require_secret_key, upgraded_database
    from merx.integration.relay import run_worker
    from merx.integration.settings import get_integration_settings

    require_secret_key()  # it decrypts webhook secrets: same key as the servers, or refuse now
    db = upgraded_database() if migrate_first else open_database()
    settings = get_integration_settings()
    if partitions is not None:
        settings = settings.model_copy(update={"relay_partitions": partitions})
    nats = settings.nats_url or "embedded (MERX_NATS_URL unset: no broker)"
    register_handlers()
    console.print(f"merx worker: database {db.dialect}, NATS {nats}")
    from merx.app import build_scheduler
    from merx.core.jobs import start_scheduler_thread

    jobs_thread, stop_jobs = start_scheduler_thread(db, build_scheduler())  # timed work: core/jobs.py
    try:
        run_worker(db, settings, worker_id=worker_id)
    finally:
        stop_jobs.set()
        jobs_thread.join(timeout=30)


@events_app.command("tail")
def events_tail(follow: bool = typer.Option(True, "--follow/--no-follow", "-f"),
                last: int = typer.Option(20, help="Start with the N most recent events."),
                event_type: Optional[str] = typer.Option(None, "--type")) -> None:
    """Print outbox events as JSON lines (newest last), following new ones."""
    from merx.core.cli_support import open_database
    from merx.core.uow import UnitOfWork
    from merx.integration import service
    from merx.core.outbox import max_outbox_seq

    db = open_database()
    with UnitOfWork(db, readonly=True) as uow:
        after = max(0, max_outbox_seq(uow.session) - last)
    while True:
        with UnitOfWork(db, readonly=True) as uow:
            batch = service.events_after(uow, after)
        for ev in batch:
            after = ev.seq
            if event_type and ev.type != event_type:
                continue
            typer.echo(ev.model_dump_json())
        if not follow:
            return
        if not batch:
            time.sleep(0.5)


@events_app.command("catalog")
def events_catalog(output: Path = typer.Option(None, "--output", "-o", help="Default: docs/events.md"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """Generate the event catalog (docs/events.md and a JSON Schema per event in docs/events/)
    from the event classes."""
    from merx.integration.catalog_doc import DOC_PATH, SCHEMA_DIR, load_catalog, write_doc

    if as_json:
        typer.echo(json.dumps(load_catalog(), indent=2))
        return
    path = output or DOC_PATH
    written = write_doc(path, path.parent / SCHEMA_DIR.name)
    console.print(f"[green]wrote[/green] {path} and {len(written) - 1} schemas in {path.parent / SCHEMA_DIR.name}")


@webhooks_app.command("test")
def webhooks_test(url: str, secret: Optional[str] = typer.Option(None, help="whsec_... (default: a fresh one)")) -> None:
    """Send one signed `webhook.test` message to URL and show the receiver's answer."""
    from merx.integration.service import send_test_event

    used, result = send_test_event(url, secret)
    console.print(f"secret: {used}")
    colour = "green" if result.ok else "red"
    console.print(f"[{colour}]{result.outcome}[/{colour}] status={result.status_code} latency={result.latency_ms}ms "
                  f"{result.error or ''}")
    if result.response_snippet:
        console.print(result.response_snippet)
    raise typer.Exit(0 if result.ok else 1)


@webhooks_app.command("purge")
def webhooks_purge(days: Optional[int] = typer.Option(None, help="Default: MERX_DELIVERY_RETENTION_DAYS (14).")) -> None:
    """Drop stored delivery payloads older than the retention period (the attempt log stays)."""
    from merx.core.cli_support import open_database
    from merx.core.uow import UnitOfWork
    from merx.integration.relay import purge_delivery_payloads
    from merx.integration.settings import get_integration_settings

    with UnitOfWork(open_database()) as uow:
        n = purge_delivery_payloads(uow, days if days is not None else get_integration_settings().delivery_retention_days)
    console.print(f"purged {n} delivery payloads")


@webhooks_app.command("reencrypt")
def webhooks_reencrypt() -> None:
    """After setting a new MERX_SECRET_KEY (old one in MERX_SECRET_KEY_FALLBACKS): store every
    webhook secret under the new key before the fallback period ends."""
    from merx.core.cli_support import open_database, require_secret_key
    from merx.core.uow import UnitOfWork
    from merx.integration.secrets_box import reencrypt_webhook_secrets

    require_secret_key()
    with UnitOfWork(open_database()) as uow:
        n = reencrypt_webhook_secrets(uow)
    console.print(f"{n} webhook secrets now stored under the current key")


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(events_app, name="events")
    app.add_typer(webhooks_app, name="webhooks")
    try:
        from merx.integration.connectors.cli import register_import

        register_import(import_app)
    except ImportError:
        pass
