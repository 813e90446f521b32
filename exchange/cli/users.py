"""``exchange users``: the operators' accounts — add, list, disable, reset a password."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from exchange.admin.accounts import ROLES, accounts, add_account, disable_account, reset_password
from exchange.cli.common import hub, refusals
from exchange.cli.passwords import read_password
from exchange.transparency.log import format_time
from schemas import BODIES

_PASSWORD_FILE = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="read the password from this file's first line (else a hidden prompt)",
)


@click.group(cls=AppGroup)
def users() -> None:
    """Operator accounts of the console and the review commands."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--body",
    type=click.Choice(list(BODIES)),
    default=None,
    help="the body the account works for: it may not review that body's messages",
)
@_PASSWORD_FILE
def users_add(name: str, role: str, body: str | None, password_file: Path | None) -> None:
    """Add an account; print its id."""
    password = read_password(password_file, confirm=True)
    the_hub = hub()
    with refusals(bad_input=True), the_hub.sessions.begin() as session:
        added = add_account(
            session, name, role=role, body=body, password=password, actor="cli", now=the_hub.now()
        )
    click.echo(f"account {added.id}: {added.name} ({added.role})")


@users.command("list")
def users_list() -> None:
    """Every account: id, name, role, body, status, created."""
    with hub().readers() as session:
        for account in accounts(session):
            click.echo(
                f"{account.id}\t{account.name}\t{account.role}\t{account.body or '-'}\t"
                f"{account.status}\t{format_time(account.created_at)}"
            )


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable an account: no more sign-ins, its sessions end."""
    the_hub = hub()
    with refusals(bad_input=True), the_hub.sessions.begin() as session:
        disabled = disable_account(session, name, actor="cli", now=the_hub.now())
    click.echo(f"account {disabled.id}: disabled")


@users.command("reset-password")
@click.argument("name")
@_PASSWORD_FILE
def users_reset_password(name: str, password_file: Path | None) -> None:
    """Set a new password; the account's sessions end."""
    password = read_password(password_file, confirm=True)
    the_hub = hub()
    with refusals(bad_input=True), the_hub.sessions.begin() as session:
        reset = reset_password(session, name, password=password, actor="cli", now=the_hub.now())
    click.echo(f"account {reset.id}: password reset")
