"""The console's users page (admins only), read side: every account with its role, body and
status — never its password hash. Adding, disabling and resetting are ``exchange.admin.accounts``
as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from exchange.admin.accounts import accounts


@dataclass(frozen=True)
class AccountRow:
    """An account as the page lists it."""

    id: int
    name: str
    role: str
    body: str | None
    status: str
    created_at: datetime


def account_rows(session: Session) -> list[AccountRow]:
    """Every account, by id."""
    return [
        AccountRow(a.id, a.name, a.role, a.body, a.status, a.created_at) for a in accounts(session)
    ]
