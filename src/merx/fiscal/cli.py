"""`merx fiscal seed-rates`: load the VAT rates a new shop starts with (fiscal/data.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    fiscal_app = typer.Typer(help="Taxes and shipping.", no_args_is_help=True)
    app.add_typer(fiscal_app, name="fiscal")

    @fiscal_app.command("seed-rates")
    def seed_rates() -> None:
        """Add the default VAT rates (PL, RO, DE, GB with their effective dates), the channel
        tax modes and the tax_class / weight product attributes; what exists is kept."""
        from merx.core.cli_support import console, upgraded_database
        from merx.core.uow import UnitOfWork
        from merx.fiscal import public as fiscal

        db = upgraded_database()
        with UnitOfWork(db) as uow:
            added = fiscal.seed_default_rates(uow)
        console.print(f"{added} tax rates added")
