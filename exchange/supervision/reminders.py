"""Which referrals and ledger items are due a reminder: overdue, and not reminded of within
the week (the hub's notices say so; ``exchange.transport.notices`` sends them).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import Select, or_, select

from exchange.store.models import LedgerItem, ReferralCase
from exchange.supervision.overdue import ledger_overdue, referral_overdue

REMIND_EVERY: Final = timedelta(days=7)
"""An overdue referral or ledger item is reminded of at most once in this span."""


def cases_due(today: date, now: datetime) -> Select[ReferralCase]:
    """Overdue cases not reminded of within the week."""
    remind_before = now - REMIND_EVERY
    return select(ReferralCase).where(
        referral_overdue(ReferralCase.__table__.c, today),
        or_(ReferralCase.notified_at.is_(None), ReferralCase.notified_at <= remind_before),
    )


def reminded_lately(message_ids: list[str], now: datetime) -> Select[str]:
    """Which of these referrals had a case reminded of within the week."""
    return select(ReferralCase.message_id).where(
        ReferralCase.message_id.in_(message_ids), ReferralCase.notified_at > now - REMIND_EVERY
    )


def items_due(today: date, now: datetime) -> Select[LedgerItem]:
    """Overdue ledger items not reminded of within the week."""
    remind_before = now - REMIND_EVERY
    return select(LedgerItem).where(
        ledger_overdue(LedgerItem.__table__.c, today),
        or_(LedgerItem.notified_at.is_(None), LedgerItem.notified_at <= remind_before),
    )
