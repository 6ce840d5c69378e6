"""`merx user create|set-password`: console users who sign in with an email and a password."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

import typer

from merx.core.auth import Role

user_app = typer.Typer(help="Console users (sign in at /console with email and password).", no_args_is_help=True)


@user_app.command("create")
def create(email: str = typer.Option(..., "--email"), password: str = typer.Option(..., "--password", prompt=True,
                                                                                    hide_input=True),
           role: Role = typer.Option(..., "--role"), name: Optional[str] = typer.Option(None, "--name"),
           seller_id: Optional[int] = typer.Option(None, "--seller-id"),
           customer_id: Optional[int] = typer.Option(None, "--customer-id")) -> None:
    """Create a user who can sign in to the console; the password is stored hashed (scrypt)."""
    from rich.console import Console

    from merx.core import accounts

    console = Console(stderr=True)
    if len(password) < 8:
        console.print("[red]The password needs at least 8 characters.[/red]")
        raise typer.Exit(2)
    with _unit_of_work(console) as uow:
        user = accounts.create_user(uow, name=name or email.split("@")[0], role=role, email=email,
                                    password=password, seller_id=seller_id, customer_id=customer_id)
        uow.commit()
        user_id = user.id
    console.print(f"[green]user {user_id}[/green] {email} ({role.value}) can sign in at /console")


@user_app.command("set-password")
def set_password(email: str = typer.Option(..., "--email"),
                 password: str = typer.Option(..., "--password", prompt=True, hide_input=True,
                                              confirmation_prompt=True)) -> None:
    """Change a console user's password; every session they have open is signed out."""
    from rich.console import Console

    from merx.core import accounts

    console = Console(stderr=True)
    with _unit_of_work(console) as uow:
        ended = accounts.change_password(uow, accounts.user_id_by_email(uow, email), password)
    console.print(f"[green]password changed[/green] for {email}; {ended} session(s) signed out")


@contextlib.contextmanager
def _unit_of_work(console: Any) -> Iterator[Any]:
    """A unit of work on the upgraded database; a refused change is printed, exit code 1."""
    from merx.core.cli_support import upgraded_database
    from merx.core.errors import Problem
    from merx.core.uow import UnitOfWork

    db = upgraded_database()
    try:
        with UnitOfWork(db) as uow:
            yield uow
    except Problem as e:
        console.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
