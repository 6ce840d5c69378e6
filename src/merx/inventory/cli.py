"""`merx inventory sweep`: release expired holds once (the inventory.release_expired_holds job
does it on a schedule under `merx worker` and `merx serve`)."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    inv = typer.Typer(help="Inventory: stock holds and sweeps.", no_args_is_help=True)

    @inv.command("sweep")
    def sweep() -> None:
        """Release holds whose time to live has passed, now."""
        from merx.core.cli_support import upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.inventory import holds

        db = upgraded_database()
        try:
            with UnitOfWork(db) as uow:
                owners = holds.sweep_expired(uow)
            console.print(f"released the holds of {len(owners)} owners")
        finally:
            db.dispose()

    app.add_typer(inv, name="inventory")
