"""``exchange deliveries``: pushes to partners' webhooks — list, resend."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from exchange.cli.common import fail, hub, refusals
from exchange.transparency.log import format_time
from exchange.transport.outbox import (
    PUSH_STATES,
    push_deliveries,
    resend,
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
        for d in push_deliveries(
            session, state=None if state == "all" else state, recipient=partner, limit=limit
        ):
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
    with refusals(), the_hub.sessions.begin() as session:
        queued = [
            d
            for message_id in (message_ids or (None,))
            for d in resend(
                session, message_id, recipient=recipient, actor="cli", now=the_hub.now()
            )
        ]
    for d in queued:
        click.echo(f"{d.message_id}\t{d.recipient}\tqueued")
    click.echo(f"{len(queued)} pushes queued", err=True)
