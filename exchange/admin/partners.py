"""Trust-state changes: registering partners, adding and revoking their keys — each logged."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from exchange.errors import ProblemError
from exchange.store.models import Partner, PartnerKey
from exchange.transparency.log import append_one
from keys import VerifyingKey
from schemas import KID_RE, PARTNER_ID_RE, body_of, partner_of


def add_partner(
    session: Session,
    partner_id: str,
    *,
    name: str,
    kid: str,
    public_key: VerifyingKey,
    actor: str,
    now: datetime,
) -> Partner:
    """Register a partner with its first key (its webhook is set apart: ``set_webhook``)."""
    if not PARTNER_ID_RE.match(partner_id):
        raise ProblemError("bad-request", f"Not a partner id: {partner_id!r}.")
    if session.get(Partner, partner_id) is not None:
        raise ProblemError("bad-request", f"Partner {partner_id} exists.")
    partner = Partner(
        id=partner_id,
        name=name,
        body=body_of(partner_id),
        status="active",
        created_at=now,
    )
    session.add(partner)
    session.flush()
    append_one(session, at=now, actor=actor, action="partner:added", partner_id=partner_id)
    add_key(
        session,
        partner_id,
        kid=kid,
        public_key=public_key,
        not_before=now,
        not_after=None,
        actor=actor,
        now=now,
    )
    return partner


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
) -> PartnerKey:
    """Add a key to a partner, valid from ``not_before`` until ``not_after``."""
    if not KID_RE.match(kid) or partner_of(kid) != partner_id:
        raise ProblemError("bad-request", f"The kid must be {partner_id}#<label>.")
    if session.get(Partner, partner_id) is None:
        raise ProblemError("not-found", f"No partner {partner_id}.")
    if session.get(PartnerKey, kid) is not None:
        raise ProblemError("bad-request", f"Key {kid} exists.")
    if not_after is not None and not_after <= not_before:
        raise ProblemError("bad-request", "not_after must come after not_before.")
    key = PartnerKey(
        kid=kid,
        partner_id=partner_id,
        public_key=public_key.raw,
        not_before=not_before,
        not_after=not_after,
        created_at=now,
    )
    session.add(key)
    session.flush()
    key.log_index = append_one(
        session,
        at=now,
        actor=actor,
        action="key:added",
        kid=kid,
        key_sha256=hashlib.sha256(public_key.raw).hexdigest(),
    )
    return key


def revoke_key(session: Session, kid: str, *, actor: str, now: datetime) -> PartnerKey:
    """Revoke a key: signatures by it are refused from ``now`` on."""
    key = session.get(PartnerKey, kid)
    if key is None:
        raise ProblemError("not-found", f"No key {kid}.")
    if key.revoked_at is not None:
        raise ProblemError("invalid-transition", f"{kid} is already revoked.")
    key.revoked_at = now
    append_one(session, at=now, actor=actor, action="key:revoked", kid=kid)
    return key


PARTNER_STATES = {"suspended": "partner:suspended", "active": "partner:reinstated"}


def set_partner_status(
    session: Session, partner_id: str, status: str, *, actor: str, now: datetime
) -> Partner:
    """Suspend a partner (its keys stop working, nothing is routed to it) or reinstate it."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise ProblemError("not-found", f"No partner {partner_id}.")
    if status not in PARTNER_STATES:
        raise ProblemError("bad-request", f"Not a partner status: {status!r}.")
    if partner.status == status:
        raise ProblemError("invalid-transition", f"{partner_id} is already {status}.")
    partner.status = status
    session.flush()
    append_one(session, at=now, actor=actor, action=PARTNER_STATES[status], partner_id=partner_id)
    return partner
