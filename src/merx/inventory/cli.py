"""`merx inventory ...`: release expired holds (once, or as a worker loop)."""

from __future__ import annotations

import time

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    inv = typer.Typer(help="Inventory: stock holds and sweeps.", no_args_is_help=True)

    @inv.command("sweep")
    def sweep(every: float = typer.Option(0, help="Repeat every N seconds (a worker); 0 runs once.")) -> None:
        """Release checkout holds whose time to live has passed."""
        from merx.cli import upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.inventory import service

        db = upgraded_database()
        try:
            while True:
                with UnitOfWork(db) as uow:
                    owners = service.sweep_expired(uow)
                try:
                    from merx.orders import service as orders_service

                    orders_service.after_holds_expired(db, owners)
                except ImportError:  # pragma: no cover - orders context absent
                    pass
                console.print(f"released the holds of {len(owners)} owners")
                if every <= 0:
                    break
                time.sleep(every)
        finally:
            db.dispose()

    app.add_typer(inv, name="inventory")
