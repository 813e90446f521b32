"""``exchange evidence``: export a message's evidence bundle, verify one offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from exchange.cli.common import fail, hub, plural, refusals
from exchange.transparency.evidence import export_evidence
from keys import (
    EvidenceInvalid,
    verify_evidence,
)


@click.group("evidence", cls=AppGroup)
def evidence_group() -> None:
    """Export a message's evidence bundle; verify one offline."""


@evidence_group.command("export")
@click.argument("message_id")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path))
def evidence_export(message_id: str, out_path: Path) -> None:
    """Write the evidence bundle of MESSAGE_ID to a JSON file."""
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
        bundle = export_evidence(
            session, the_hub.trust, the_hub.notary, message_id, now=the_hub.now()
        )
    out_path.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"wrote {out_path} ({plural(len(bundle['log']), 'log entry', 'log entries')})")


@evidence_group.command("verify", context_settings={"ignore_unknown_options": False})
@click.argument("bundle_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--hub-keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the hub's JWK Set to trust (e.g. a saved /.well-known/jwks.json)",
)
def evidence_verify(bundle_path: Path, hub_keys: Path | None) -> None:
    """Check an evidence bundle offline: no hub, no database, no network."""
    try:
        bundle = json.loads(bundle_path.read_text())
        pinned = json.loads(hub_keys.read_text()) if hub_keys else None
    except ValueError as bad:
        fail(f"not JSON: {bad}")
    try:
        verified = verify_evidence(bundle, hub_keys=pinned)
    except EvidenceInvalid as invalid:
        click.echo(f"INVALID: {invalid}", err=True)
        sys.exit(1)
    checkpoint = verified.checkpoint
    click.echo(
        f"ok: message {verified.message_id} from {verified.envelope['from']} "
        f"signed by {verified.sender_kid}; {len(verified.entries)} log entries proved in "
        f"tree {checkpoint['tree_size']} ({checkpoint['origin']}); "
        f"acked by {', '.join(verified.acked_by) or 'no one yet'}"
        + ("" if pinned else "; hub key taken from the bundle (pin it with --hub-keys)")
    )
