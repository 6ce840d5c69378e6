"""`merx marketing ...`: run the campaign preparer and the sender until there is nothing
left to do (a worker you can stop at any moment: a restart resumes without double sends)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    marketing_app = typer.Typer(help="Marketing: prepare campaigns and send due messages.", no_args_is_help=True)
    app.add_typer(marketing_app, name="marketing")

    @marketing_app.command("run")
    def run_command(until_idle: bool = typer.Option(True, "--until-idle/--forever",
                                                    help="Stop when nothing is due (default) or keep polling."),
                    poll_seconds: float = typer.Option(5.0, help="Pause between passes with --forever.")) -> None:
        """Prepare campaign batches and send due messages, batch by batch, with a progress count."""
        import time

        from merx.core.cli_support import console, require_secret_key, upgraded_database
        from merx.core.db import utcnow
        from merx.marketing import jobs, sending

        require_secret_key()
        db = upgraded_database()
        started = time.monotonic()
        total = sending.DispatchResult()
        with console.status("sending...") as status:
            while True:
                prepared = jobs.prepare_campaigns(db, utcnow(), time_budget=5.0)
                one = sending.dispatch(db)
                total.add(one)
                elapsed = max(time.monotonic() - started, 1e-9)
                status.update(f"sent {total.sent} ({total.sent / elapsed:.0f}/s), prepared {prepared} this pass, "
                              f"skipped {total.skipped}, deferred {total.deferred}")
                if prepared == 0 and one.seen == 0:
                    if until_idle:
                        break
                    time.sleep(poll_seconds)
        elapsed = time.monotonic() - started
        console.print(f"{total}; {total.sent / max(elapsed, 1e-9):.1f} messages/s over {elapsed:.1f} s")
