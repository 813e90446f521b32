"""``exchange review``: the messages held for review, approvals and rejections."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from exchange.cli.common import hub, refusals
from exchange.transport.review import decide, pending


@click.group(cls=AppGroup)
def review() -> None:
    """Approve or reject messages held for review."""


@review.command("list")
def review_list() -> None:
    """Messages waiting for review."""
    with hub().readers() as session:
        for message in pending(session):
            approvals = sum(1 for r in message.reviews if r.decision == "approved")
            click.echo(
                f"{message.id}\t{message.type}\t{message.sender} → "
                f"{','.join(d.recipient for d in message.deliveries)}\t"
                f"{approvals}/{message.required_approvals} approvals"
            )


@review.command("approve")
@click.argument("message_id")
@click.option("--as", "reviewer", required=True, help="the reviewer's name")
def review_approve(message_id: str, reviewer: str) -> None:
    """Approve; the message is released once enough distinct reviewers approved."""
    _decide(message_id, reviewer, approve=True, reason=None)


@review.command("reject")
@click.argument("message_id")
@click.option("--as", "reviewer", required=True, help="the reviewer's name")
@click.option("--reason", required=True)
def review_reject(message_id: str, reviewer: str, reason: str) -> None:
    """Reject: the message is never released."""
    _decide(message_id, reviewer, approve=False, reason=reason)


def _decide(message_id: str, reviewer: str, *, approve: bool, reason: str | None) -> None:
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
        status = decide(
            session,
            message_id,
            reviewer=reviewer,
            approve=approve,
            reason=reason,
            now=the_hub.now(),
            trust=the_hub.trust,
        ).status
    click.echo(f"{message_id}: {status}")
