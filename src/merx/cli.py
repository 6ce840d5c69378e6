"""The `merx` command. Each context may add a sub-command group in its own `cli.py`
(exposing `app: typer.Typer` and `NAME`); they are mounted here."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Optional

import typer

from merx.contexts import CONTEXTS, import_models, optional_module
from merx.core.auth import Role
from merx.core.cli_support import (console, open_database, require_secret_key,  # noqa: F401 - re-exported
                                   upgraded_database)
from merx.core.settings import get_settings, reset_settings_cache

app = typer.Typer(help="Merx: commerce operations platform.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Import data: real data sets, connector files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(import_app, name="import")
subscribers_app = typer.Typer(help="Durable subscribers (CRM, analytics reactions): cursors, dead letters.",
                              no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked)."""
    typer.echo(json.dumps(get_settings().masked(), indent=2, default=str))


@db_app.command("upgrade")
def db_upgrade(target: str = typer.Argument("heads")) -> None:
    """Apply migrations (default: all of them)."""
    from merx.contexts import import_models
    from merx.core import migrate

    import_models()
    db = open_database()
    migrate.upgrade(db, target)
    console.print(f"[green]database at[/green] {sorted(migrate.current_heads(db))}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied migration heads and whether the schema is up to date."""
    from merx.core import migrate

    db = open_database()
    typer.echo(json.dumps({"current": sorted(migrate.current_heads(db)), "latest": sorted(migrate.script_heads(db.url))}))


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m"), context: str = typer.Option(..., "--context"),
                new_branch: bool = typer.Option(False, "--new-branch")) -> None:
    """Autogenerate a migration on a context's branch (for developers)."""
    from merx.core import migrate

    db = upgraded_database()
    migrate.revision(db, message, branch=context, new_branch=new_branch)


@apikey_app.command("create")
def apikey_create(role: Role = typer.Option(..., "--role"), name: str = typer.Option(..., "--name"),
                  seller_id: Optional[int] = typer.Option(None, "--seller-id"),
                  customer_id: Optional[int] = typer.Option(None, "--customer-id")) -> None:
    """Create a user with ROLE and print its new API key alone on the last line."""
    from merx.core import accounts
    from merx.core.uow import UnitOfWork

    db = upgraded_database()
    with UnitOfWork(db) as uow:
        issued = accounts.create_user_with_key(uow, name=name, role=role, seller_id=seller_id, customer_id=customer_id)
    console.print(f"API key for {name} ({role.value}), shown once:")
    typer.echo(issued.key)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          migrate_first: bool = typer.Option(True, "--migrate/--no-migrate")) -> None:
    """Serve the API (and console) with Uvicorn; applies migrations first."""
    import uvicorn

    require_secret_key()
    _refuse_other_schema(migrate_first)
    console.print(f"Merx on http://{host}:{port}  (API docs: /docs)")
    import_models()  # every table mapped before the scheduler thread touches the database
    stop_jobs = _start_embedded_jobs()
    try:
        if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
            _serve_reuseport(host, port, workers)
            return
        uvicorn.run("merx.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning",
                    access_log=False)
    finally:
        stop_jobs()


def _refuse_other_schema(migrate_first: bool) -> None:
    """A replica serves only a database at exactly its own schema: with --migrate it applies
    what is missing first; it never serves (nor migrates) a database a newer version moved
    past it, and with --no-migrate it names the migration the database lacks."""
    from merx.core import migrate

    import_models()
    db = open_database()
    try:
        missing, unknown = migrate.schema_difference(db)
        if migrate_first and missing and not unknown:
            migrate.upgrade(db)
        problem = migrate.schema_problem(db)
    finally:
        db.dispose()
    if problem:
        console.print(f"[red]merx serve: refusing to serve: {problem}[/red]")
        raise typer.Exit(3)


def _start_embedded_jobs():  # type: ignore[no-untyped-def]
    """The scheduler loop on a thread of this (parent) process, so one command runs a whole
    shop; MERX_SERVE_RUNS_JOBS=false when `merx worker` processes run the jobs instead.
    Returns the function that stops it."""
    if not get_settings().serve_runs_jobs:
        return lambda: None
    from merx.app import build_scheduler
    from merx.core.jobs import start_scheduler_thread

    db = open_database()
    thread, stop = start_scheduler_thread(db, build_scheduler())

    def stop_and_wait() -> None:
        stop.set()
        thread.join(timeout=30)
        db.dispose()

    return stop_and_wait


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _run_worker(host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config("merx.app:create_app", factory=True, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[_reuseport_socket(host, port)])


def _serve_reuseport(host: str, port: int, workers: int) -> None:
    """Several worker processes, each with its own listening socket on the same port
    (SO_REUSEPORT): the kernel spreads connections across them evenly. With one shared
    socket (uvicorn's own --workers), whichever process wakes first takes the connection, and
    long-lived keep-alive connections pile up on one busy worker while the other idles."""
    import multiprocessing
    import signal

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_run_worker, args=(host, port), name=f"merx-worker-{i}") for i in range(workers)]
    for p in procs:
        p.start()

    def stop(*_: object) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for p in procs:
            p.join()
    finally:
        stop()
        for p in procs:
            p.join(timeout=20)


@app.command()
def demo(no_serve: bool = typer.Option(False, "--no-serve", help="Load the demo shop and exit."),
         host: str = "127.0.0.1", port: int = 8000, seed: int = 42,
         products: Optional[int] = typer.Option(None, help="How many products to generate (default by --size: "
                                                "600, 2,400 or 4,800)."),
         size: str = typer.Option("medium", help="The shop: small (600 products, 100 customers, ~1 order a day), "
                                  "medium (2,400, 300, ~3 a day) or large (4,800, 800, ~12 a day); 'none' is a "
                                  "medium catalog without the year of orders.")) -> None:
    """Create a fresh database with a realistic demo shop and serve it."""
    from merx import demo as demo_module
    from merx.integration.settings import get_integration_settings

    require_secret_key()
    # The demo shop takes test card payments; a real shop enables only the providers it configures.
    os.environ.setdefault("MERX_PAYMENT_PROVIDERS", "manual,test,testcard,bank_transfer,cod")
    reset_settings_cache()
    started, cpu_started = time.perf_counter(), time.process_time()
    if size not in ("none", "small", "medium", "large"):
        raise typer.BadParameter("must be none, small, medium or large", param_hint="--size")
    result = demo_module.build_demo(seed=seed, product_count=products, console=console, history=size)
    console.print(f"[green]demo loaded[/green] in {time.perf_counter() - started:.1f}s "
                  f"({time.process_time() - cpu_started:.1f} CPU s): {result.summary}")
    console.print(f"Admin API key (Authorization: Bearer ...): {result.admin_key}")
    console.print(f"Console sign-in: {demo_module.DEMO_CONSOLE_EMAIL} / {demo_module.DEMO_CONSOLE_PASSWORD}")
    if result.shoppers:
        also = f"   (also {', '.join(result.shoppers[1:])})" if len(result.shoppers) > 1 else ""
        console.print(f"Storefront sign-in (/account/sign-in): {result.shoppers[0]} / "
                      f"{demo_module.DEMO_SHOPPER_PASSWORD}{also}")
    from merx.instore import demo as instore_demo
    console.print(f"Store associate app (/associate, on a phone): {instore_demo.DEMO_ASSOCIATE_EMAIL} / "
                  f"{instore_demo.DEMO_ASSOCIATE_PASSWORD}   Kiosk: /kiosk/ST-WAW")
    allowed = get_integration_settings().outbound_allow  # stated, so nobody assumes the demo reaches localhost
    console.print("Webhooks and connectors may reach: public addresses" + (f" and {', '.join(allowed)}" if allowed
                  else " only (MERX_OUTBOUND_ALLOW='[\"127.0.0.1\"]' allows a local receiver)"), markup=False)
    console.print("The demo's webhook endpoints posted to a receiver that ran only while the demo loaded; "
                  "their delivery log is kept and they are deactivated.", markup=False)
    if no_serve:
        typer.echo(result.admin_key)
        return
    console.print(f"Shop: http://{host}:{port}/   Console: http://{host}:{port}/console   API: http://{host}:{port}/docs")
    serve(host=host, port=port, workers=1, migrate_first=False)


def _subscribers_db():  # type: ignore[no-untyped-def]
    from merx.app import register_handlers

    register_handlers()
    return upgraded_database()


@subscribers_app.command("list")
def subscribers_list() -> None:
    """Each durable subscriber: its cursor, how far behind the outbox it is, failures, dead letters."""
    from merx.core.subscribers import subscriber_status
    from merx.core.uow import UnitOfWork

    db = _subscribers_db()
    with UnitOfWork(db, readonly=True) as uow:
        rows = subscriber_status(uow)
    for row in rows:
        typer.echo(json.dumps(row, default=str))


@subscribers_app.command("dead-letters")
def subscribers_dead_letters(subscriber: Optional[str] = typer.Option(None, help="Only this subscriber's."),
                             all_: bool = typer.Option(False, "--all", help="Include those already retried.")) -> None:
    """Events a subscriber failed on too many times and parked, as JSON lines."""
    from merx.core.subscribers import dead_letters
    from merx.core.uow import UnitOfWork

    db = _subscribers_db()
    with UnitOfWork(db, readonly=True) as uow:
        for d in dead_letters(uow, subscriber=subscriber, include_retried=all_):
            typer.echo(json.dumps({"id": d.id, "subscriber": d.subscriber, "event_id": d.event_id,
                                   "event_type": d.event_type, "error": d.error, "attempts": d.attempts,
                                   "status": d.status, "last_tried_at": d.last_tried_at}, default=str))


@subscribers_app.command("retry")
def subscribers_retry(letter_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Run a dead-lettered event through its subscriber again."""
    from merx.core.errors import Problem
    from merx.core.subscribers import retry_dead_letter

    db = _subscribers_db()
    try:
        letter = retry_dead_letter(db, letter_id)
    except Problem as e:
        console.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(1)
    if letter.status != "retried":
        console.print(f"[red]failed again[/red]: {letter.error}")
        raise typer.Exit(1)
    console.print(f"[green]dead letter {letter_id} handled[/green] by {letter.subscriber}")


@subscribers_app.command("reset")
def subscribers_reset(name: str = typer.Argument(...),
                      to_seq: int = typer.Option(0, "--to", help="Outbox seq to restart after (0: the beginning).")) -> None:
    """Move a subscriber's cursor back so it handles the outbox again from --to (rebuild a
    projection whose context cleared it first: a handler that is not idempotent applies events again)."""
    from merx.core.subscribers import reset_cursor

    db = _subscribers_db()
    previous = reset_cursor(db, name, to_seq)
    console.print(f"{name}: cursor {previous} -> {to_seq}")


def _mount_context_commands() -> None:
    """A context's `cli.py` exposes `register(app, import_app)` to add its commands."""
    from merx import backup_cli, jobs_cli
    from merx.imports import cli as imports_cli

    jobs_cli.register(app)
    backup_cli.register(app)
    imports_cli.register(import_app)
    for name in CONTEXTS:
        mod = optional_module(name, "cli")
        if mod is not None:
            mod.register(app, import_app)


_mount_context_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
