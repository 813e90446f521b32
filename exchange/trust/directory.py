"""The partner directory: who is registered, with which keys, valid when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, select
from sqlalchemy.orm import Session

from exchange.store.models import Partner, PartnerKey
from keys import KeyNotValid, UnknownKey, VerifyingKey
from schemas import partner_of

KEYS = cast(Table, PartnerKey.__table__)
PARTNERS = cast(Table, Partner.__table__)
# Every active partner id, space-separated (ids have no spaces): the directory is small, and
# fetching it with the key saves the route check a round trip.
ACTIVE_IDS = (
    select(func.aggregate_strings(PARTNERS.c.id, " "))
    .where(PARTNERS.c.status == "active")
    .scalar_subquery()
)
# A partner takes pushes (PROTOCOL §7) while its webhook is set, with its secret, and no 410
# has disabled it.
WEBHOOK_ACTIVE = and_(
    PARTNERS.c.webhook_url.is_not(None),
    PARTNERS.c.webhook_secret_sealed.is_not(None),
    PARTNERS.c.webhook_disabled_at.is_(None),
)
# The active partners that take pushes: intake queues their deliveries in the outbox.
PUSHED_IDS = (
    select(func.aggregate_strings(PARTNERS.c.id, " "))
    .where(PARTNERS.c.status == "active", WEBHOOK_ACTIVE)
    .scalar_subquery()
)
# Built once: a key with its window, its partner's status and own rate limit, the active
# partner ids and those of them with a webhook.
KEY_ROW = (
    select(
        KEYS.c.public_key,
        KEYS.c.not_before,
        KEYS.c.not_after,
        KEYS.c.revoked_at,
        PARTNERS.c.status,
        PARTNERS.c.rate_limit,
        ACTIVE_IDS,
        PUSHED_IDS,
    )
    .join(PARTNERS, PARTNERS.c.id == KEYS.c.partner_id)
    .where(KEYS.c.kid == bindparam("kid"))
)


class KeyLookup:
    """A ``KeyResolver`` over the store for one request: refuses unknown, revoked, expired keys.

    Resolved keys are remembered for the rest of the request, so the request signature, the
    message signature and the route check cost one query between them. With ``partner_id``,
    only that partner's keys count (a recipient signs its own acks).
    """

    def __init__(self, session: Session, now: datetime, *, partner_id: str | None = None) -> None:
        self.session = session
        self._now = now
        self._partner_id = partner_id
        self._resolved: dict[str, VerifyingKey] = {}
        #: The own rate limit (``partners set-limit``) of each partner whose key was resolved.
        self.rate_limits: dict[str, str | None] = {}
        self._active: set[str] | None = None
        self._pushed: set[str] | None = None

    def __call__(self, kid: str) -> VerifyingKey:
        """The key of ``kid`` if it may sign now; else ``UnknownKey`` or ``KeyNotValid``."""
        if kid in self._resolved:
            return self._resolved[kid]
        try:
            owner = partner_of(kid)
        except ValueError:
            raise UnknownKey(kid) from None
        if self._partner_id is not None and owner != self._partner_id:
            raise UnknownKey(kid)
        # Core on the session's connection: the ORM layer adds nothing to a plain row read.
        row = self.session.connection().execute(KEY_ROW, {"kid": kid}).first()
        if row is None:
            raise UnknownKey(kid)
        public_key, not_before, not_after, revoked_at, status, rate_limit, active, pushed = row
        self.rate_limits[owner] = rate_limit
        self._active = set((active or "").split())
        self._pushed = set((pushed or "").split())
        if status != "active" or not key_valid_at(self._now, not_before, not_after, revoked_at):
            raise KeyNotValid(kid)
        self._resolved[kid] = VerifyingKey.from_raw(public_key)
        return self._resolved[kid]

    def active_partners(self, ids: tuple[str, ...]) -> set[str]:
        """Which of ``ids`` are registered, active partners."""
        if self._active is None:
            self._active = set((self.session.scalar(select(ACTIVE_IDS)) or "").split())
        return self._active & set(ids)

    def pushed_partners(self, ids: tuple[str, ...]) -> set[str]:
        """Which of ``ids`` are active partners with a working webhook (pushes queued)."""
        if self._pushed is None:
            self._pushed = set((self.session.scalar(select(PUSHED_IDS)) or "").split())
        return self._pushed & set(ids)


def pushed_recipients(session: Session, recipients: Iterable[str]) -> set[str]:
    """Which of ``recipients`` are active partners with a working webhook, as of now."""
    return set(
        session.scalars(
            select(PARTNERS.c.id).where(
                PARTNERS.c.id.in_(list(recipients)), PARTNERS.c.status == "active", WEBHOOK_ACTIVE
            )
        )
    )


def key_valid_at(
    moment: datetime, not_before: datetime, not_after: datetime | None, revoked_at: datetime | None
) -> bool:
    """Whether a signature made at ``moment`` by a key with this window is acceptable."""
    if revoked_at is not None and moment >= revoked_at:
        return False
    if moment < not_before:
        return False
    return not_after is None or moment < not_after
