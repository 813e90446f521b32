"""``exchange review``: the messages held for review, approvals and rejections, each by a
reviewer account signed in with its password.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from exchange.admin.accounts import authenticate
from exchange.cli.common import hub, refusals
from exchange.cli.passwords import read_password
from exchange.transport.review import decide, pending

_AS = click.option("--as", "reviewer", required=True, help="the reviewer's account name")
_PASSWORD_FILE = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="read the account's password from this file's first line (else a hidden prompt)",
)


@click.group(cls=AppGroup)
def review() -> None:
    """Approve or reject messages held for review."""


@review.command("list")
def review_list() -> None:
    """Messages waiting for review."""
    with hub().readers() as session:
        held = pending(session)
        if not held:
            click.echo("no messages held for review")
        for message in held:
            approvals = sum(1 for r in message.reviews if r.decision == "approved")
            click.echo(
                f"{message.id}\t{message.type}\t{message.sender} → "
                f"{','.join(d.recipient for d in message.deliveries)}\t"
                f"{approvals}/{message.required_approvals} approvals"
            )


@review.command("approve")
@click.argument("message_id")
@_AS
@_PASSWORD_FILE
def review_approve(message_id: str, reviewer: str, password_file: Path | None) -> None:
    """Approve; the message is released once enough distinct reviewer accounts approved."""
    _decide(message_id, reviewer, password_file, approve=True, reason=None)


@review.command("reject")
@click.argument("message_id")
@_AS
@click.option("--reason", required=True)
@_PASSWORD_FILE
def review_reject(message_id: str, reviewer: str, reason: str, password_file: Path | None) -> None:
    """Reject: the message is never released; its sender gets the reason."""
    _decide(message_id, reviewer, password_file, approve=False, reason=reason)


def _decide(
    message_id: str,
    name: str,
    password_file: Path | None,
    *,
    approve: bool,
    reason: str | None,
) -> None:
    password = read_password(password_file)
    the_hub = hub()
    with refusals(bad_input=True):
        operator = authenticate(
            the_hub.sessions, name, password, address="cli", via="cli", now=the_hub.now()
        )
        with the_hub.sessions.begin() as session:
            status = decide(
                session,
                message_id,
                reviewer=operator,
                approve=approve,
                reason=reason,
                now=the_hub.now(),
                trust=the_hub.trust,
            ).status
    click.echo(f"{message_id}: {status}")
