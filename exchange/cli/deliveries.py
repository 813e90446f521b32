"""``exchange deliveries``: pushes to partners' webhooks — list, resend."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from exchange.cli.common import fail, hub, plural, refusals
from exchange.hub import Hub
from exchange.transparency.log import format_time
from exchange.transport.outbox import (
    PUSH_STATES,
    push_deliveries,
    resend,
    resendable_dead_letters,
)


@click.group("deliveries", cls=AppGroup)
def deliveries_group() -> None:
    """Pushes to partners' webhooks: list them, resend dead-lettered ones."""


@deliveries_group.command("list")
@click.option(
    "--state",
    type=click.Choice([*PUSH_STATES, "all"]),
    default="dead",
    show_default=True,
    help="pending (retrying included), sending, pushed, dead (dead-lettered), cancelled",
)
@click.option("--partner", default=None, help="only the pushes to this partner")
@click.option("--limit", default=100, show_default=True)
def deliveries_list(state: str, partner: str | None, limit: int) -> None:
    """Pushes, latest attempt first: message, recipient, state, attempts, last attempt, next
    attempt, last error.
    """
    with hub().readers() as session:
        found = push_deliveries(
            session, state=None if state == "all" else state, recipient=partner, limit=limit
        )
        if not found:
            which = "" if state == "all" else f" {state}"
            to = f" to {partner}" if partner else ""
            click.echo(f"no{which} pushes{to}")
        for d in found:
            click.echo(
                "\t".join(
                    (
                        d.message_id,
                        d.recipient,
                        str(d.push_state),
                        f"{d.attempts} attempts",
                        f"last {format_time(d.last_attempt_at)}" if d.last_attempt_at else "-",
                        f"next {format_time(d.next_attempt_at)}" if d.next_attempt_at else "-",
                        d.last_error or "-",
                    )
                )
            )


@deliveries_group.command("resend")
@click.argument("message_ids", nargs=-1)
@click.option("--dead", is_flag=True, help="every dead-lettered push (instead of message ids)")
@click.option("--to", "recipient", default=None, help="only the push to this partner")
def deliveries_resend(message_ids: tuple[str, ...], dead: bool, recipient: str | None) -> None:
    """Queue pushes again (the retry schedule starts over): those of the given messages, or
    with --dead every dead-lettered one. The next worker round sends them.
    """
    if dead == bool(message_ids):
        fail("give message ids or --dead")
    the_hub = hub()
    queued: list[tuple[str, str]] = []
    with refusals():
        if dead:
            queued = _resend_dead(the_hub, recipient)
        else:
            with the_hub.sessions.begin() as session:
                for message_id in message_ids:
                    resent = resend(
                        session, message_id, recipient=recipient, actor="cli", now=the_hub.now()
                    )
                    queued += [(d.message_id, d.recipient) for d in resent]
    for message_id, to in queued:
        click.echo(f"{message_id}\t{to}\tqueued")
    click.echo(f"{plural(len(queued), 'push', 'pushes')} queued", err=True)


def _resend_dead(the_hub: Hub, recipient: str | None) -> list[tuple[str, str]]:
    """Every dead letter, a chunk per transaction, with a progress bar (there may be many)."""
    with the_hub.readers() as session:
        total = resendable_dead_letters(session, recipient)
    queued: list[tuple[str, str]] = []
    with click.progressbar(length=total, label="resending", file=sys.stderr) as bar:
        while True:
            with the_hub.sessions.begin() as session:
                resent = resend(
                    session, None, recipient=recipient, actor="cli", now=the_hub.now(), limit=500
                )
            if not resent:
                return queued
            queued += [(d.message_id, d.recipient) for d in resent]
            bar.update(len(resent))
