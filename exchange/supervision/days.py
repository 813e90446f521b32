"""The bodies keep Beijing time: a deadline passes at midnight in China Standard Time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Final

CHINA: Final = timezone(timedelta(hours=8), "CST")


def china_today(now: datetime) -> date:
    """The calendar date in Beijing at ``now``."""
    return now.astimezone(CHINA).date()


def china_date(moment: datetime) -> date:
    """The Beijing calendar date of a stored UTC moment."""
    return moment.astimezone(CHINA).date()
