"""What every command group of the hub's CLI shares: the hub of the current app, and
refusals as one line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app

from exchange.errors import ExchangeError
from exchange.hub import Hub
from keys import KeysError, VerifyingKey


def hub() -> Hub:
    """The hub of the app the CLI runs in; before ``exchange init``, one line and exit 2."""
    the_hub: Hub = current_app.extensions["exchange"]
    refuse_unless_set_up(the_hub)
    return the_hub


def refuse_unless_set_up(the_hub: Hub) -> None:
    """Say in one line what ``exchange init`` has not made yet, and exit 2 (creating nothing)."""
    missing = the_hub.missing()
    if missing:
        home = the_hub.config.home
        click.echo(
            f"Error: the hub at EXCHANGE_HOME={home} is not set up: run `exchange init` "
            f"first (missing: {', '.join(missing)}).",
            err=True,
        )
        sys.exit(2)


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr (exit 1)."""
    raise click.ClickException(message)


class Refused(click.ClickException):
    """A refusal of bad input: one line, exit 2 (as click's usage errors)."""

    exit_code = 2


@contextmanager
def refusals(*, bad_input: bool = False) -> Iterator[None]:
    """Turn the hub's refusals into a one-line CLI error: exit 1, or 2 for ``bad_input``
    (commands whose refusals are all of what was given).
    """
    try:
        yield
    except ExchangeError as refusal:
        kind = Refused if bad_input else click.ClickException
        raise kind(refusal.detail) from None


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 message``, ``2 messages`` (``nouns`` where the plural is not noun + s)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def load_public(path: Path) -> VerifyingKey:
    """A partner's Ed25519 public key file, or one line saying why not (a private key is
    refused: it belongs on the partner's machine, never on the hub's).
    """
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        fail(
            f"{path} is a private key: register the partner's public key (the .pub.pem file "
            "keygen wrote); the private key stays on the partner's machine."
        )
    try:
        return VerifyingKey.from_pem(data)
    except KeysError as bad:
        fail(f"{path}: not an Ed25519 public key ({bad}).")
