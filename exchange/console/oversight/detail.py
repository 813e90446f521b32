"""The console's message detail: the message as its readers see it over the API (envelope,
deliveries with acks and pushes, log entries oldest first — ``exchange.api.messages``'s
``message_view``), for any message. Its evidence bundle is ``exchange.transparency.evidence``'s,
as the API gives it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from exchange.api.messages import message_view
from exchange.errors import NotFound
from exchange.store.models import Message
from exchange.trust.hub_keys import HubTrust


def message_detail(session: Session, trust: HubTrust, message_id: str) -> dict[str, Any]:
    """The message's view; ``NotFound`` for an unknown id."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"No message {message_id}.")
    return message_view(session, trust, message)
