"""The console's deliveries page: pushes to partners' webhooks (dead letters first, as the
admins look for them) and resending them — the outbox's own reads and ``resend``
(``exchange.transport.outbox``, which ``exchange deliveries`` uses too), one message or every
dead letter at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from exchange.transport.outbox import DEAD, PUSH_STATES, push_deliveries, resend

STATES: Final = PUSH_STATES
"""The push states the page filters by (and every state)."""


@dataclass(frozen=True)
class PushRow:
    """One push as the page lists it."""

    message_id: str
    recipient: str
    state: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


def pushes(
    session: Session, *, state: str | None = DEAD, partner: str | None = None, limit: int = 100
) -> list[PushRow]:
    """Pushes in ``state`` (every state when None), to ``partner`` when given, latest attempt
    first.
    """
    return [
        PushRow(
            d.message_id,
            d.recipient,
            str(d.push_state),
            d.attempts,
            d.last_attempt_at,
            d.next_attempt_at,
            d.last_error,
        )
        for d in push_deliveries(session, state=state, recipient=partner, limit=limit)
    ]


def resend_push(
    session: Session, message_id: str, *, recipient: str | None, actor: str, now: datetime
) -> list[tuple[str, str]]:
    """Queue again the pushes of ``message_id`` (to ``recipient`` only, when given), logged as
    ``actor``'s resend; the (message, recipient) pairs queued. Refused (``NotFound``,
    ``InvalidTransition``) as the outbox refuses it, with nothing changed.
    """
    return [
        (d.message_id, d.recipient)
        for d in resend(session, message_id, recipient=recipient, actor=actor, now=now)
    ]
