"""Review before release: distinct approvers (four eyes for referrals), rejection, release."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.errors import ProblemError
from exchange.store.models import Message, Review
from exchange.supervision.lifecycle import hub_step
from exchange.transparency.log import LogAppender, close_log, open_log
from exchange.trust.directory import pushed_recipients
from exchange.trust.hub_keys import HubTrust


def log_release(
    log: LogAppender,
    message_id: str,
    type_: str,
    envelope_sha256: str,
    *,
    actor: str,
    now: datetime,
) -> int:
    """Log a release; its index is the recipients' inbox cursor."""
    return log.append(
        at=now,
        actor=actor,
        action="message:released",
        message_id=message_id,
        type=type_,
        envelope_sha256=envelope_sha256,
    )


def release(
    log: LogAppender, message: Message, *, actor: str, now: datetime, pushed: set[str]
) -> int:
    """Make a held ``message`` visible to its recipients; queue the pushes to the ``pushed``
    ones (those with a webhook) in the outbox, in the same transaction."""
    index = log_release(
        log, message.id, message.type, message.envelope_sha256, actor=actor, now=now
    )
    message.status = "released"
    message.released_at = now
    for delivery in message.deliveries:
        delivery.state = "queued"
        delivery.cursor = index
        if delivery.recipient in pushed:
            delivery.push_state = "pending"
            delivery.next_attempt_at = now
    return index


def decide(
    session: Session,
    message_id: str,
    *,
    reviewer: str,
    approve: bool,
    reason: str | None,
    now: datetime,
    trust: HubTrust,
) -> Message:
    """Record one reviewer's decision; release once enough distinct reviewers approved.

    A rejection also sends the sender a ``review_rejected`` hub notice with the reason, signed
    with the hub's key (``trust``), in the same transaction.
    """
    log = open_log(session)
    message = session.get(Message, message_id)
    if message is None:
        raise ProblemError("not-found", f"No message {message_id}.")
    if message.status != "pending_review":
        raise ProblemError(
            "invalid-transition", f"Message is {message.status}, not pending_review."
        )
    if any(r.reviewer == reviewer for r in message.reviews):
        raise ProblemError("invalid-transition", f"{reviewer} has already reviewed this message.")
    if not approve and not reason:
        raise ProblemError("bad-request", "A rejection needs a reason.")
    decision = "approved" if approve else "rejected"
    session.add(
        Review(message_id=message.id, reviewer=reviewer, decision=decision, reason=reason, at=now)
    )
    decided = log.append(
        at=now,
        actor=f"admin:{reviewer}",
        action=f"message:review:{decision}",
        message_id=message.id,
        type=message.type,
        envelope_sha256=message.envelope_sha256,
    )
    if not approve:
        message.status = "rejected"
        for delivery in message.deliveries:
            delivery.state = "rejected"
        hub_step(session, message, "rejected", recipients=None, log_index=decided, now=now)
        # Imported here: notices stores through intake, which imports this module.
        from exchange.transport.notices import review_rejected

        review_rejected(session, log, trust, message, reason=str(reason), now=now)
    else:
        approvals = 1 + sum(1 for r in message.reviews if r.decision == "approved")
        if approvals >= message.required_approvals:
            pushed = pushed_recipients(session, (d.recipient for d in message.deliveries))
            released = release(log, message, actor="hub", now=now, pushed=pushed)
            hub_step(session, message, "released", recipients=None, log_index=released, now=now)
    close_log(session, log, now)
    return message


def pending(session: Session) -> list[Message]:
    """Messages waiting for review, oldest first."""
    return list(
        session.scalars(
            select(Message).where(Message.status == "pending_review").order_by(Message.received_at)
        )
    )
