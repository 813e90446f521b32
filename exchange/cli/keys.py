"""``exchange keys``: add a partner's key (rotation), revoke one; rotate and retire the hub's
own keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from exchange.admin.partners import add_key, revoke_key
from exchange.cli.common import fail, hub, load_public, plural, refusals
from exchange.trust.hub_keys import (
    add_hub_key,
    add_sealing_key,
    remove_sealing_key,
    retirable_sealing_ring,
    retire_hub_key,
)
from exchange.trust.resealing import Progress, Resealer, census


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Add and revoke partner keys; rotate the hub's signing and sealing keys."""


@keys_group.command("add")
@click.argument("partner_id")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--kid", required=True)
@click.option("--not-before", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None)
@click.option("--not-after", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None)
def keys_add(
    partner_id: str,
    key_path: Path,
    kid: str,
    not_before: datetime | None,
    not_after: datetime | None,
) -> None:
    """Add a key to a partner (dates are UTC)."""
    the_hub = hub()
    public_key = load_public(key_path)
    now = the_hub.now()
    with refusals(), the_hub.sessions.begin() as session:
        add_key(
            session,
            partner_id,
            kid=kid,
            public_key=public_key,
            not_before=not_before.replace(tzinfo=UTC) if not_before else now,
            not_after=not_after.replace(tzinfo=UTC) if not_after else None,
            actor="cli",
            now=now,
        )
    click.echo(f"added key {kid}")


@keys_group.command("revoke")
@click.argument("kid")
def keys_revoke(kid: str) -> None:
    """Revoke a key now: signatures by it are refused from this moment."""
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
        revoke_key(session, kid, actor="cli", now=the_hub.now())
    click.echo(f"revoked {kid}")


@keys_group.command("rotate-hub")
def keys_rotate_hub() -> None:
    """Make a new hub signing key: it signs receipts and checkpoints from now on; the old keys
    stay in the JWK Set, so what they signed still verifies.
    """
    the_hub = hub()
    with refusals():
        new = add_hub_key(the_hub.config.keys_dir, now=the_hub.now())
    published = [key["kid"] for key in the_hub.trust.jwks()["keys"]]
    click.echo(f"new hub key {new.kid} signs from now on; published: {', '.join(published)}")


@keys_group.command("retire-hub")
@click.argument("kid")
def keys_retire_hub(kid: str) -> None:
    """Delete an old hub signing key's private half (after `rotate-hub`); its public half
    stays in the JWK Set, so what it signed still verifies.
    """
    the_hub = hub()
    with refusals():
        public = retire_hub_key(the_hub.config.keys_dir, kid)
    click.echo(f"retired {kid}: it signs nothing more; its public key stays published ({public})")


RESEAL_STATE = "reseal-cursor.json"
"""Under ``$EXCHANGE_HOME``: where a re-sealing run saves its cursor after every batch."""


@keys_group.command("rotate-sealing")
@click.option("--batch", default=500, show_default=True, help="Rows re-sealed per transaction.")
def keys_rotate_sealing(batch: int) -> None:
    """Make a new sealing key current and re-seal every stored payload under it, in small
    transactions while the hub serves; a run that was stopped resumes from its cursor.
    """
    the_hub = hub()
    state_path = the_hub.config.home / RESEAL_STATE
    with refusals():
        if state_path.exists():
            target = the_hub.trust.sealing.primary_kid
            click.echo(f"resuming the re-sealing under {target}")
        else:
            target = add_sealing_key(the_hub.config.keys_dir, now=the_hub.now())
            click.echo(f"new sealing key {target} seals from now on")
        resealer = Resealer(
            the_hub.sessions, the_hub.readers, the_hub.trust, state_path, batch=batch
        )
        before = census(the_hub.readers, the_hub.trust.sealing)

        def report(progress: Progress) -> None:
            click.echo(f"{progress.column}: {progress.resealed}/{progress.total} re-sealed")

        after = resealer.run(before, report)
    stored = sum(after.values())
    click.echo(f"ok: {plural(stored, 'sealed payload')} all under {target}")


@keys_group.command("retire-sealing")
@click.argument("kid")
def keys_retire_sealing(kid: str) -> None:
    """Drop an old sealing key from the ring, once `rotate-sealing` has re-sealed everything
    under a newer one (refused while anything stored is still sealed under it).
    """
    the_hub = hub()
    with refusals():
        retirable_sealing_ring(the_hub.config.keys_dir, kid)
    if (the_hub.config.home / RESEAL_STATE).exists():
        fail(
            f"a re-sealing run is not finished: run `exchange keys rotate-sealing` to complete "
            f"it, then retire {kid}."
        )
    left = census(the_hub.readers, the_hub.trust.sealing)[kid]
    if left:
        fail(
            f"{plural(left, 'stored payload is', 'stored payloads are')} still sealed under "
            f"{kid}: run `exchange keys rotate-sealing` first."
        )
    with refusals():
        remove_sealing_key(the_hub.config.keys_dir, kid)
    click.echo(f"retired sealing key {kid}: the ring holds {', '.join(the_hub.trust.sealing.kids)}")
