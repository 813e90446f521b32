"""``exchange backup`` and ``exchange restore``: the store in one snapshot, the keys apart or
beside it, and a restore that ends with the checks of ``exchange log verify``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from exchange.cli.common import fail, hub, plural, refusals
from exchange.hub import Hub
from exchange.store.backup import (
    BackupRefused,
    install_keys,
    key_source,
    load_tables,
    read_backup,
    store_holds_data,
    write_backup,
)
from exchange.store.db import store_unavailable
from exchange.transparency.parallel import verify_log
from exchange.transparency.verify import IntegrityFailure
from exchange.trust.hub_keys import HubTrust

_DIR = click.Path(file_okay=False, path_type=Path)


@click.command()
@click.option("--out", required=True, type=_DIR, help="A new (or empty) directory.")
@click.option("--without-keys", is_flag=True, help="Leave the hub's keys out of the backup.")
@click.option("--keys-out", type=_DIR, help="Write the hub's keys here, apart from the tables.")
@with_appcontext
def backup(out: Path, without_keys: bool, keys_out: Path | None) -> None:
    """Back up the store, read in one snapshot while the hub serves, with the hub's keys
    beside it (or apart, or not at all) and a manifest of every file's SHA-256.
    """
    if without_keys and keys_out is not None:
        fail("--without-keys and --keys-out exclude each other: choose one")
    the_hub = hub()
    with refusals():
        summary = write_backup(
            the_hub.config.database_url,
            out,
            keys_dir=the_hub.config.keys_dir,
            keys_out=keys_out,
            with_keys=not without_keys,
        )
    counts = summary.counts
    checkpoint = summary.checkpoint
    at = "no checkpoint yet" if checkpoint is None else f"checkpoint {checkpoint['tree_size']}"
    keys = {
        "included": f"keys in {out / 'keys'}",
        "separate": f"keys in {keys_out}",
        "omitted": "no keys",
    }[summary.manifest["keys"]]
    click.echo(
        f"backed up {plural(sum(counts.values()), 'row')} of {plural(len(counts), 'table')} "
        f"({plural(counts['messages'], 'message')}, {at}) to {out}; {keys}"
    )


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--keys", "keys", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace what the store (and keys) hold now.")
@with_appcontext
def restore(directory: Path, keys: Path | None, force: bool) -> None:
    """Restore a backup into this hub's store and EXCHANGE_HOME: every file checked against
    the manifest first, the log verified after (as `exchange log verify`).
    """
    config = current_app.extensions["exchange"].config
    keys_dir = config.keys_dir
    with refusals():
        summary = read_backup(directory, keys=keys)
        source = key_source(directory, summary.manifest, keys)
        if source is None and HubTrust.missing(keys_dir):
            raise BackupRefused(
                f"the backup holds no keys and {keys_dir} has none: give --keys DIR "
                "(where `exchange backup --keys-out` wrote them)"
            )
        if not force:
            _refuse_unless_empty(config.database_url, keys_dir if source else None)
        aside = None
        if source is not None:
            aside = install_keys(source, summary, keys_dir, now=config.clock())
        counts = load_tables(config.database_url, directory, summary)
    if aside is not None:
        click.echo(f"the keys that were in {keys_dir} are now in {aside}")
    if counts != summary.counts:
        fail(f"restored rows {counts} are not the backup's {summary.counts}")
    click.echo(f"restored {plural(sum(counts.values()), 'row')} into {config.database_url}")
    _verify(Hub(config), summary.checkpoint)


def _refuse_unless_empty(database_url: str, keys_dir: Path | None) -> None:
    try:
        holds_data = store_holds_data(database_url)
    except Exception as error:
        if not store_unavailable(error):
            raise
        raise BackupRefused(f"the store at {database_url} does not answer: {error}") from None
    if holds_data:
        raise BackupRefused(
            "the store holds data: restore into an empty one, or give --force to replace it"
        )
    if keys_dir is not None and keys_dir.exists() and any(keys_dir.iterdir()):
        raise BackupRefused(
            f"{keys_dir} holds keys: restore into a new EXCHANGE_HOME, or give --force "
            "(the keys there are moved aside, not deleted)"
        )


def _verify(the_hub: Hub, checkpoint: dict[str, object] | None) -> None:
    """The checks of ``exchange log verify``; and the newest checkpoint must be the backup's."""
    try:
        report = verify_log(
            the_hub.config.database_url,
            HubTrust.load(the_hub.config.keys_dir),
            the_hub.config.keys_dir,
            jobs=None,
        )
    except IntegrityFailure as failure:
        click.echo(f"FAILED at log index {failure.index}: {failure.reason}", err=True)
        sys.exit(1)
    verified = report.verified_checkpoint
    if checkpoint is not None and (
        verified is None
        or verified.tree_size != checkpoint["tree_size"]
        or verified.root_hash.hex() != checkpoint["root_hash"]
    ):
        fail(f"the restored log does not end at the backup's checkpoint {checkpoint}")
    click.echo(
        f"ok: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{report.messages} messages; root {report.root_hash}"
    )
