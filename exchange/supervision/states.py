"""The states of the lifecycles (DOMAIN.md), in one place: their wire values are those of the
schemas' label tables (a test holds them equal), the rules that move them are the lifecycles'.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ReferralState(StrEnum):
    """One recipient's handling of a clue referral, as the hub tracks it."""

    PENDING_REVIEW = "pending_review"
    RELEASED = "released"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    ACKED = "acked"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    TRANSFERRED = "transferred"
    DISPOSED = "disposed"
    CONCLUDED = "concluded"


class ShareState(StrEnum):
    """One recipient's use of a shared result."""

    PENDING_REVIEW = "pending_review"
    RELEASED = "released"
    REJECTED = "rejected"
    USED = "used"


class RectificationStatus(StrEnum):
    """整改状态 of a ledger item."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ONGOING = "ongoing"
    NOT_RECTIFIED = "not_rectified"
    COMPLETED = "completed"
    CLOSED = "closed"


class HubEvent(StrEnum):
    """What the hub itself does to a message that moves its cases: review, pull, ack."""

    RELEASED = "released"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    ACKED = "acked"


REFERRAL_OPEN: Final = frozenset(
    {
        ReferralState.RELEASED,
        ReferralState.DELIVERED,
        ReferralState.ACKED,
        ReferralState.ACCEPTED,
        ReferralState.DISPOSED,
    }
)
"""A referral still awaits feedback in these (rejected, returned, transferred and concluded
ones are done; held ones have not reached the recipient)."""

REFERRAL_DONE: Final = frozenset(
    {
        ReferralState.REJECTED,
        ReferralState.RETURNED,
        ReferralState.TRANSFERRED,
        ReferralState.CONCLUDED,
    }
)
"""A referral's handling is over in these."""

LEDGER_DONE: Final = frozenset({RectificationStatus.COMPLETED, RectificationStatus.CLOSED})
"""整改到位: what 整改率 counts."""
