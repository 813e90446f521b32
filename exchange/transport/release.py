"""Release: a message becomes visible to its recipients — at intake when no review is due,
after review otherwise. The release entry's log index is the recipients' inbox cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table

from exchange.store.models import Delivery, Message
from exchange.transparency.log import LogAppender
from exchange.transparency.window import LogWindow
from keys.protocol import LogAction

MESSAGES = cast(Table, Message.__table__)
DELIVERIES = cast(Table, Delivery.__table__)


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
        action=LogAction.MESSAGE_RELEASED,
        message_id=message_id,
        type=type_,
        envelope_sha256=envelope_sha256,
    )


def release_held(
    window: LogWindow,
    message: Message,
    recipients: Iterable[str],
    *,
    pushed: set[str],
    actor: str,
    now: datetime,
) -> int:
    """Release a held message: its deliveries get the cursor, and those to the ``pushed``
    recipients (a working webhook) go into the outbox, in the same transaction.
    """
    index = log_release(
        window.log, message.id, message.type, message.envelope_sha256, actor=actor, now=now
    )
    window.changes.update(MESSAGES, {"id": message.id, "status": "released", "released_at": now})
    for recipient in recipients:
        window.changes.update(
            DELIVERIES,
            {
                "message_id": message.id,
                "recipient": recipient,
                "state": "queued",
                "cursor": index,
                **(
                    {"push_state": "pending", "next_attempt_at": now} if recipient in pushed else {}
                ),
            },
        )
    return index
