"""Trust-state changes: registering partners, adding and revoking their keys, suspending and
reinstating partners — each in the log window, each logged.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from exchange.config import rate_limit
from exchange.errors import BadRequest, InvalidTransition, NotFound
from exchange.store.models import Partner, PartnerKey
from exchange.transparency.window import LogWindow, session_window
from keys import VerifyingKey
from keys.protocol import LogAction
from schemas import KID_RE, PARTNER_ID_RE, body_of, partner_of

PARTNERS = cast(Table, Partner.__table__)
KEYS = cast(Table, PartnerKey.__table__)


def add_partner(
    session: Session,
    partner_id: str,
    *,
    name: str,
    kid: str,
    public_key: VerifyingKey,
    actor: str,
    now: datetime,
) -> None:
    """Register a partner with its first key (its webhook is set apart: ``set_webhook``)."""
    if not PARTNER_ID_RE.match(partner_id):
        raise BadRequest(f"Not a partner id: {partner_id!r}.")
    with session_window(session, now) as window:
        if session.get(Partner, partner_id) is not None:
            raise BadRequest(f"Partner {partner_id} exists.")
        window.changes.insert(
            PARTNERS,
            [
                {
                    "id": partner_id,
                    "name": name,
                    "body": body_of(partner_id),
                    "status": "active",
                    "webhook_allow_internal": False,
                    "created_at": now,
                }
            ],
        )
        window.log.append(
            at=now, actor=actor, action=LogAction.PARTNER_ADDED, partner_id=partner_id
        )
        _add_key(
            session,
            window,
            partner_id,
            kid=kid,
            public_key=public_key,
            not_before=now,
            not_after=None,
            actor=actor,
            now=now,
            new_partner=True,
        )


def add_key(
    session: Session,
    partner_id: str,
    *,
    kid: str,
    public_key: VerifyingKey,
    not_before: datetime,
    not_after: datetime | None,
    actor: str,
    now: datetime,
) -> None:
    """Add a key to a partner, valid from ``not_before`` until ``not_after``."""
    with session_window(session, now) as window:
        _add_key(
            session,
            window,
            partner_id,
            kid=kid,
            public_key=public_key,
            not_before=not_before,
            not_after=not_after,
            actor=actor,
            now=now,
        )


def _add_key(
    session: Session,
    window: LogWindow,
    partner_id: str,
    *,
    kid: str,
    public_key: VerifyingKey,
    not_before: datetime,
    not_after: datetime | None,
    actor: str,
    now: datetime,
    new_partner: bool = False,
) -> None:
    if not KID_RE.match(kid) or partner_of(kid) != partner_id:
        raise BadRequest(f"The kid must be {partner_id}#<label>.")
    if public_key.weak:
        raise BadRequest("The key is a small-order or non-canonical point: it verifies nothing.")
    if not new_partner and session.get(Partner, partner_id) is None:
        raise NotFound(f"No partner {partner_id}.")
    if session.get(PartnerKey, kid) is not None:
        raise BadRequest(f"Key {kid} exists.")
    if not_after is not None and not_after <= not_before:
        raise BadRequest("not_after must come after not_before.")
    # The key:added entry registers it: evidence bundles prove the key by its index.
    index = window.log.append(
        at=now,
        actor=actor,
        action=LogAction.KEY_ADDED,
        kid=kid,
        key_sha256=hashlib.sha256(public_key.raw).hexdigest(),
    )
    window.changes.insert(
        KEYS,
        [
            {
                "kid": kid,
                "partner_id": partner_id,
                "public_key": public_key.raw,
                "not_before": not_before,
                "not_after": not_after,
                "revoked_at": None,
                "created_at": now,
                "log_index": index,
            }
        ],
    )


def revoke_key(session: Session, kid: str, *, actor: str, now: datetime) -> None:
    """Revoke a key: signatures by it are refused from ``now`` on."""
    with session_window(session, now) as window:
        key = session.get(PartnerKey, kid)
        if key is None:
            raise NotFound(f"No key {kid}.")
        if key.revoked_at is not None:
            raise InvalidTransition(f"{kid} is already revoked.")
        window.changes.update(KEYS, {"kid": kid, "revoked_at": now})
        window.log.append(at=now, actor=actor, action=LogAction.KEY_REVOKED, kid=kid)


PARTNER_STATES = {"suspended": LogAction.PARTNER_SUSPENDED, "active": LogAction.PARTNER_REINSTATED}


def set_partner_status(
    session: Session, partner_id: str, status: str, *, actor: str, now: datetime
) -> None:
    """Suspend a partner (its keys stop working, nothing is routed to it) or reinstate it."""
    with session_window(session, now) as window:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise NotFound(f"No partner {partner_id}.")
        if status not in PARTNER_STATES:
            raise BadRequest(f"Not a partner status: {status!r}.")
        if partner.status == status:
            raise InvalidTransition(f"{partner_id} is already {status}.")
        window.changes.update(PARTNERS, {"id": partner_id, "status": status})
        window.log.append(at=now, actor=actor, action=PARTNER_STATES[status], partner_id=partner_id)


def set_rate_limit(session: Session, partner_id: str, limit: str | None) -> None:
    """Give a partner its own rate limit ("3000/minute"), or back the hub's default (None).

    An operating setting, not a trust state: nothing is logged.
    """
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"No partner {partner_id}.")
    if limit is not None:
        try:
            limit = rate_limit(limit)
        except ValueError as error:
            raise BadRequest(str(error)) from None
    partner.rate_limit = limit
