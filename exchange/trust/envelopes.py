"""Stored envelopes are sealed (AES-256-GCM, bound to the message id): opening one."""

from __future__ import annotations

import json
from typing import Any

from exchange.store.models import Message
from exchange.trust.hub_keys import HubTrust


def open_envelope(trust: HubTrust, message: Message) -> dict[str, Any]:
    """The stored envelope, unsealed (its bytes are the JCS the sender signed)."""
    envelope: dict[str, Any] = json.loads(
        open_envelope_bytes(trust, message.id, message.sealed_envelope)
    )
    return envelope


def open_envelope_bytes(trust: HubTrust, message_id: str, sealed: bytes) -> bytes:
    """The exact JCS bytes of a stored envelope."""
    return trust.sealing.open(sealed, aad=message_id.encode())
