"""The hub's own events on a message — released or rejected after review, pulled, acked —
move the lifecycle rows it opened (a referral's cases, a share's uses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from exchange.store.writer import Changes, Transaction
from exchange.supervision.lifecycles import LIFECYCLES, lifecycle_of, load, reads_of_messages
from exchange.supervision.lifecycles.base import Lifecycle

# Only the types whose lifecycle overrides hub_event have rows for the hub to move.
_MOVED = frozenset(
    type_ for type_, cycle in LIFECYCLES.items() if type(cycle).hub_event is not Lifecycle.hub_event
)


@dataclass(frozen=True)
class HubStep:
    """One event on one message: to all its recipients' rows (None) or to some."""

    message_id: str
    message_type: str
    event: str
    recipients: tuple[str, ...] | None
    log_index: int


def apply_hub_steps(
    tx: Transaction, changes: Changes, steps: Sequence[HubStep], *, now: datetime
) -> None:
    """Load the rows the steps move (one query per read model), move them, add the changes."""
    moving = [s for s in steps if s.message_type in _MOVED]
    if not moving:
        return
    concerned = reads_of_messages({s.message_id for s in moving}, tx.dialect)
    state = load([m for m, _ in concerned], tx.read([r for _, r in concerned]))
    for step in moving:
        lifecycle_of(step.message_type).hub_event(
            state, step.message_id, step.event, step.recipients, log_index=step.log_index, now=now
        )
    changes.merge(state.changes)
