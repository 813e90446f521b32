"""The console's partners page, read side: every partner with its status, webhook and keys.
The admin actions on it (add a partner, add or revoke a key, set or remove the webhook,
suspend or reinstate) are ``exchange.admin.partners`` and ``exchange.admin.webhooks`` as they
are; a webhook's secret is what ``set_webhook`` returns, shown once and never stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import Partner, PartnerKey


@dataclass(frozen=True)
class KeyRow:
    """One of a partner's keys; ``usable`` at the moment asked about."""

    kid: str
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None
    usable: bool


@dataclass(frozen=True)
class PartnerRow:
    """A partner as the page lists it."""

    id: str
    name: str
    body: str
    status: str
    webhook_url: str | None
    webhook_disabled: bool
    keys: list[KeyRow]


def partner_rows(session: Session, now: datetime) -> list[PartnerRow]:
    """Every partner by id, its keys by kid (two queries, whatever the number of partners)."""
    keys: dict[str, list[KeyRow]] = {}
    for key in session.scalars(select(PartnerKey).order_by(PartnerKey.kid)):
        usable = (
            key.revoked_at is None
            and key.not_before <= now
            and (key.not_after is None or now < key.not_after)
        )
        keys.setdefault(key.partner_id, []).append(
            KeyRow(key.kid, key.not_before, key.not_after, key.revoked_at, usable)
        )
    return [
        PartnerRow(
            p.id,
            p.name,
            p.body,
            p.status,
            p.webhook_url,
            p.webhook_disabled_at is not None,
            keys.get(p.id, []),
        )
        for p in session.scalars(select(Partner).order_by(Partner.id))
    ]
