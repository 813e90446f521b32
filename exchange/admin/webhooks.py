"""Partners' webhooks (PROTOCOL §7): an operator sets one (a new secret, shown once) or
removes it; each change is logged, and removing one cancels the pushes still pending.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from exchange.errors import InvalidTransition, NotFound
from exchange.store.models import Delivery, Partner
from exchange.store.writer import Changes
from exchange.transparency.window import session_window
from exchange.trust.destinations import check_webhook_url
from exchange.trust.hub_keys import HubTrust
from exchange.trust.webhook_secrets import new_webhook_secret, seal_secret
from keys.protocol import LogAction

DELIVERIES = cast(Table, Delivery.__table__)
PARTNERS = cast(Table, Partner.__table__)
PENDING, CANCELLED = "pending", "cancelled"


def set_webhook(
    session: Session,
    partner_id: str,
    url: str,
    *,
    trust: HubTrust,
    actor: str,
    now: datetime,
    allow_internal: bool = False,
) -> str:
    """Set (or replace) a partner's webhook with a new secret, sealed; return the secret, which
    is shown once. Re-enables a webhook a 410 disabled; pushes still pending use the new one.
    ``allow_internal`` lets it (and every push to it) reach loopback and link-local addresses.
    """
    check_webhook_url(url, allow_internal=allow_internal)
    # In the log window, as every writer (a worker disabling this webhook too).
    with session_window(session, now) as window:
        if session.get(Partner, partner_id) is None:
            raise NotFound(f"No partner {partner_id}.")
        secret = new_webhook_secret()
        window.changes.update(
            PARTNERS,
            {
                "id": partner_id,
                "webhook_url": url,
                "webhook_secret_sealed": seal_secret(trust, partner_id, secret),
                "webhook_disabled_at": None,
                "webhook_allow_internal": allow_internal,
            },
        )
        window.log.append(
            at=now,
            actor=actor,
            action=LogAction.PARTNER_WEBHOOK_SET,
            partner_id=partner_id,
            webhook_url_sha256=hashlib.sha256(url.encode()).hexdigest(),
            allow_internal=allow_internal or None,
        )
    return secret


def remove_webhook(session: Session, partner_id: str, *, actor: str, now: datetime) -> int:
    """Remove a partner's webhook (it pulls from now on); cancel its pending pushes and return
    how many.
    """
    with session_window(session, now) as window:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise NotFound(f"No partner {partner_id}.")
        if partner.webhook_url is None:
            raise InvalidTransition(f"{partner_id} has no webhook.")
        window.changes.update(
            PARTNERS,
            {
                "id": partner_id,
                "webhook_url": None,
                "webhook_secret_sealed": None,
                "webhook_disabled_at": None,
            },
        )
        cancelled = cancel_pending(session, window.changes, partner_id)
        window.log.append(
            at=now, actor=actor, action=LogAction.PARTNER_WEBHOOK_REMOVED, partner_id=partner_id
        )
    return cancelled


def cancel_pending(session: Session, changes: Changes, partner_id: str) -> int:
    """Cancel a partner's pushes not yet claimed (claimed ones are recorded as they end)."""
    pending = session.execute(
        select(DELIVERIES.c.message_id).where(
            DELIVERIES.c.recipient == partner_id, DELIVERIES.c.push_state == PENDING
        )
    ).scalars()
    count = 0
    for message_id in pending:
        changes.update(
            DELIVERIES,
            {
                "message_id": message_id,
                "recipient": partner_id,
                "push_state": CANCELLED,
                "next_attempt_at": None,
            },
        )
        count += 1
    return count
