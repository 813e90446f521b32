"""The partner directory: who is registered, with which keys, valid when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import Partner, PartnerKey
from keys import KeyNotValid, KeyResolver, UnknownKey, VerifyingKey
from schemas import partner_of


def key_resolver(session: Session, now: datetime, *, partner_id: str | None = None) -> KeyResolver:
    """Resolve a partner ``kid`` to its public key, refusing unknown, revoked, expired keys.

    With ``partner_id``, only that partner's keys count (a recipient signs its own acks).
    """
    cache: dict[str, VerifyingKey] = {}

    def resolve(kid: str) -> VerifyingKey:
        if kid in cache:
            return cache[kid]
        try:
            owner = partner_of(kid)
        except ValueError:
            raise UnknownKey(kid) from None
        if partner_id is not None and owner != partner_id:
            raise UnknownKey(kid)
        row = session.execute(
            select(PartnerKey, Partner.status)
            .join(Partner, Partner.id == PartnerKey.partner_id)
            .where(PartnerKey.kid == kid)
        ).first()
        if row is None:
            raise UnknownKey(kid)
        key, status = row
        if status != "active" or not key.valid_at(now):
            raise KeyNotValid(kid)
        cache[kid] = VerifyingKey.from_raw(key.public_key)
        return cache[kid]

    return resolve


def active_partners(session: Session, ids: list[str] | tuple[str, ...]) -> set[str]:
    """Which of ``ids`` are registered, active partners."""
    return set(
        session.scalars(select(Partner.id).where(Partner.id.in_(ids), Partner.status == "active"))
    )
