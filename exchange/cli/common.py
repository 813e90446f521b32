"""What every command group of the hub's CLI shares: the hub of the current app, and
refusals as one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app

from exchange.errors import ExchangeError
from exchange.hub import Hub
from keys import KeysError, VerifyingKey, load_verifying_key


def hub() -> Hub:
    """The hub of the app the CLI runs in."""
    the_hub: Hub = current_app.extensions["exchange"]
    return the_hub


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr (exit 1)."""
    raise click.ClickException(message)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the hub's refusals into a one-line CLI error."""
    try:
        yield
    except ExchangeError as refusal:
        raise click.ClickException(refusal.detail) from None


def load_public(path: Path) -> VerifyingKey:
    """A partner's public key file, or one line saying why not."""
    try:
        return load_verifying_key(path)
    except KeysError as bad:
        fail(f"{path}: not an Ed25519 key ({bad})")
