"""Review before release: distinct reviewer accounts (four eyes for referrals), rejection,
release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from exchange.admin.accounts import Operator
from exchange.errors import BadRequest, ClassifiedContentRefused, InvalidTransition, NotFound
from exchange.store.models import Account, Message, Review
from exchange.store.rows import ReviewRow
from exchange.supervision.hub_events import HubStep, apply_hub_steps
from exchange.supervision.states import HubEvent
from exchange.transparency.window import session_window
from exchange.transport.notices import review_rejected
from exchange.transport.release import DELIVERIES, MESSAGES, release_held
from exchange.trust.directory import pushed_recipients
from exchange.trust.hub_keys import HubTrust
from keys.protocol import LogAction
from schemas import body_of, contains_marker

REVIEWS = cast(Table, Review.__table__)


@dataclass(frozen=True)
class Decision:
    """What one review decision came to: the message's status after it."""

    message_id: str
    status: str


def decide(
    session: Session,
    message_id: str,
    *,
    reviewer: Operator,
    approve: bool,
    reason: str | None,
    now: datetime,
    trust: HubTrust,
    version: int | None = None,
) -> Decision:
    """Record one reviewer account's decision; release once enough distinct accounts approved.

    ``version`` is the number of decisions the reviewer saw (``review_version``): when another
    decision came first, this one is refused, so two at once cannot both win. A rejection
    also sends the sender a ``review_rejected`` hub notice with the reason, signed with the
    hub's key (``trust``), in the same transaction.
    """
    if not approve and not (reason or "").strip():
        raise BadRequest("A rejection needs a reason.", errors={"reason": ["Required."]})
    if reason is not None and contains_marker(reason):
        # The notice carries the reason to the sender: non-classified data only (PROTOCOL §8).
        raise ClassifiedContentRefused(
            "The reason carries a state-secret marker.", errors={"reason": ["Classified."]}
        )
    with session_window(session, now) as window:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"No message {message_id}.")
        _check_reviewer(session, reviewer, message)
        if message.status != "pending_review":
            raise InvalidTransition(f"Message is {message.status}, not pending_review.")
        if any(r.reviewer == reviewer.actor for r in message.reviews):
            raise InvalidTransition(f"Account {reviewer.id} has already reviewed this message.")
        if version is not None and version != review_version(message):
            raise InvalidTransition(
                "Another reviewer decided on this message while you were reading it; "
                "look at it again."
            )
        decision = "approved" if approve else "rejected"
        review: ReviewRow = {
            "message_id": message.id,
            "reviewer": reviewer.actor,
            "decision": decision,
            "reason": reason,
            "at": now,
        }
        window.changes.insert(REVIEWS, [review])
        decided = window.log.append(
            at=now,
            actor=reviewer.actor,
            action=LogAction(f"message:review:{decision}"),
            message_id=message.id,
            type=message.type,
            envelope_sha256=message.envelope_sha256,
        )
        recipients = [d.recipient for d in message.deliveries]
        status = message.status
        if not approve:
            status = "rejected"
            window.changes.update(MESSAGES, {"id": message.id, "status": status})
            for recipient in recipients:
                window.changes.update(
                    DELIVERIES, {"message_id": message.id, "recipient": recipient, "state": status}
                )
            step = HubStep(message.id, message.type, HubEvent.REJECTED, None, decided)
            apply_hub_steps(window.transaction, window.changes, [step], now=now)
            review_rejected(session, window, trust, message, reason=str(reason), now=now)
        elif 1 + sum(r.decision == "approved" for r in message.reviews) >= (
            message.required_approvals
        ):
            status = "released"
            pushed = pushed_recipients(session, recipients)
            released = release_held(
                window, message, recipients, pushed=pushed, actor="hub", now=now
            )
            step = HubStep(message.id, message.type, HubEvent.RELEASED, None, released)
            apply_hub_steps(window.transaction, window.changes, [step], now=now)
    return Decision(message.id, status)


def pending(session: Session) -> list[Message]:
    """Messages waiting for review, oldest first."""
    return list(
        session.scalars(
            select(Message).where(Message.status == "pending_review").order_by(Message.received_at)
        )
    )


def review_version(message: Message) -> int:
    """How many decisions a held message has had: what a decision must have seen."""
    return len(message.reviews)


def _check_reviewer(session: Session, reviewer: Operator, message: Message) -> None:
    """The account is an active reviewer and not of the sender's body."""
    account = session.get(Account, reviewer.id)
    if account is None or account.status != "active":
        raise BadRequest(f"Account {reviewer.id} is not an active account.")
    if account.role != "reviewer":
        raise BadRequest(f"Account {reviewer.id} is not a reviewer.")
    if (
        account.body is not None
        and message.sender != "hub"
        and body_of(message.sender) == (account.body)
    ):
        raise BadRequest(
            f"Account {reviewer.id} works for {account.body}, which sent this message: "
            "a reviewer may not decide on a message of their own body."
        )
