"""``exchange log``: verify the whole store, sign a checkpoint."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from exchange.cli.common import hub
from exchange.transparency.tree import StoredTree
from exchange.transparency.verify import IntegrityFailure, verify_store
from exchange.transparency.window import sign_checkpoint


@click.group("log", cls=AppGroup)
def log_group() -> None:
    """Check the transparency log and sign checkpoints."""


@log_group.command("verify")
def log_verify() -> None:
    """Recompute every entry, the tree, every checkpoint and every message digest."""
    the_hub = hub()
    with the_hub.readers() as session:
        size = StoredTree(session.connection()).size()
        try:
            with click.progressbar(length=size, label="checking the log", file=sys.stderr) as bar:
                report = verify_store(session, the_hub.trust, progress=bar.update)
        except IntegrityFailure as failure:
            click.echo(f"FAILED at log index {failure.index}: {failure.reason}", err=True)
            sys.exit(1)
    click.echo(
        f"ok: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{report.messages} messages; root {report.root_hash}"
    )


@log_group.command("checkpoint")
def log_checkpoint() -> None:
    """Sign a checkpoint of the log as it is now."""
    the_hub = hub()
    with the_hub.sessions.begin() as session:
        checkpoint = sign_checkpoint(session, the_hub.notary, the_hub.now())
    click.echo(f"checkpoint: tree_size {checkpoint.tree_size}, root {checkpoint.root_hash.hex()}")
