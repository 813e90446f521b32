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


HUNDREDTH_OF_A_DAY: Final = 864_000_000
"""A hundredth of a day, in microseconds."""


def hundredths_of_a_day(span: timedelta) -> int:
    """A span in hundredths of a day, half up (the figures print days to two decimals)."""
    return (span // timedelta(microseconds=1) + HUNDREDTH_OF_A_DAY // 2) // HUNDREDTH_OF_A_DAY
