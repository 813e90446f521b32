"""``exchange notices``: send the hub notices that are due."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from exchange.cli.common import hub
from exchange.hub import Hub
from exchange.transport.notices import run_notices


@click.group("notices", cls=AppGroup)
def notices_group() -> None:
    """Hub notices: reminders of overdue feedback and rectification (rejections go at review)."""


@notices_group.command("run-once")
def notices_run_once() -> None:
    """Send the overdue notices due now; print one line per notice (kind, about, recipients)."""
    the_hub = hub()
    lines = send_notices(the_hub, the_hub.now())
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no notices due")


def send_notices(the_hub: Hub, now: datetime) -> list[str]:
    """Send the notices due now; one line each."""
    with the_hub.sessions.begin() as session:
        return [notice.line() for notice in run_notices(session, the_hub.trust, now)]
