"""逾期, defined once (DOMAIN.md), as SQL over a read model's columns — used by the lists,
the figures, the reports and the reminders alike.

A referral is overdue (逾期未反馈) when its feedback date has passed and it is still open; a
ledger item (逾期) when its deadline or an unfinished milestone's due date has passed and it
is neither completed nor closed. Days are Beijing days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from exchange.supervision.states import LEDGER_DONE, REFERRAL_OPEN


def referral_overdue(columns: Any, today: date) -> ColumnElement[bool]:
    """Over columns with ``state`` and ``feedback_due`` (a case table or a subquery's ``c``)."""
    return and_(columns.state.in_(sorted(REFERRAL_OPEN)), columns.feedback_due < today)


def ledger_overdue(columns: Any, today: date) -> ColumnElement[bool]:
    """Over columns with ``status``, ``deadline`` and ``milestone_due``."""
    return and_(
        columns.status.not_in(sorted(LEDGER_DONE)),
        or_(
            columns.deadline < today,
            and_(columns.milestone_due.is_not(None), columns.milestone_due < today),
        ),
    )
