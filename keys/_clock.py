"""The current time, or the time a caller passes (always timezone-aware)."""

from __future__ import annotations

from datetime import UTC, datetime


def aware_now(now: datetime | None) -> datetime:
    """``now`` when given (ValueError unless it is timezone-aware), else the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now
