"""Names the wire contract fixes (PROTOCOL.md): JWS ``typ`` values, log actions, formats.

Partners, the hub and offline verifiers compare these strings byte for byte: change one and
every signature or log entry made before stops verifying.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Final

# The JWS protected header's ``typ`` (RFC 7515 §4.1.9) says what a token is, so that a token
# of one kind can never be passed off as another (a receipt as a checkpoint, say).
MESSAGE_TYP: Final = "exchange-message+jws"
"""A message signed by its sender: detached JWS over ``JCS(envelope)`` (PROTOCOL §3)."""
RECEIPT_TYP: Final = "exchange-receipt+jws"
"""The hub's receipt for a message it accepted (PROTOCOL §5, ``POST /v1/messages``)."""
ACK_TYP: Final = "exchange-ack+jws"
"""A recipient's signed acknowledgement of a message (PROTOCOL §5, ``POST /v1/inbox/acks``)."""
CHECKPOINT_TYP: Final = "exchange-checkpoint+jws"
"""The hub's signed tree head of the transparency log (PROTOCOL §5, §6)."""

HUB_PARTNER_ID: Final = "hub"
"""The hub's own partner id: its key ids (``hub#2026-11``) and its notices' ``from``."""

EVIDENCE_FORMAT: Final = "exchange-evidence/1"
"""The ``format`` of an evidence bundle, verified offline by ``keys.verify_evidence``."""


@unique
class LogAction(StrEnum):
    """The ``action`` of a transparency-log entry (PROTOCOL §6): ``subject:event`` tags.

    A member is its string (``LogAction.MESSAGE_RECEIVED == "message:received"``), so entries
    serialize and compare as before.
    """

    MESSAGE_RECEIVED = "message:received"
    MESSAGE_RELEASED = "message:released"
    MESSAGE_REVIEW_APPROVED = "message:review:approved"
    MESSAGE_REVIEW_REJECTED = "message:review:rejected"
    MESSAGE_PULLED = "message:pulled"
    MESSAGE_ACKED = "message:acked"
    MESSAGE_DELIVERED = "message:delivered"
    MESSAGE_DELIVERY_FAILED = "message:delivery-failed"
    MESSAGE_DEAD_LETTERED = "message:dead-lettered"
    MESSAGE_DELIVERY_RESENT = "message:delivery-resent"
    PARTNER_ADDED = "partner:added"
    PARTNER_SUSPENDED = "partner:suspended"
    PARTNER_REINSTATED = "partner:reinstated"
    PARTNER_WEBHOOK_SET = "partner:webhook-set"
    PARTNER_WEBHOOK_REMOVED = "partner:webhook-removed"
    PARTNER_WEBHOOK_DISABLED = "partner:webhook-disabled"
    KEY_ADDED = "key:added"
    KEY_REVOKED = "key:revoked"
    ACCOUNT_ADDED = "account:added"
    ACCOUNT_DISABLED = "account:disabled"
    ACCOUNT_PASSWORD_RESET = "account:password-reset"
    ACCOUNT_LOGIN = "account:login"
    ACCOUNT_LOGIN_FAILED = "account:login-failed"
    ACCOUNT_LOGOUT = "account:logout"
