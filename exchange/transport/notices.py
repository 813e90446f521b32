"""Hub notices (hub.notice.v1, DOMAIN.md): messages the hub itself signs and sends.

A notice is stored like any released message — sealed envelope, signed receipt, a delivery per
recipient queued at its release entry, ``message:received`` and ``message:released`` in the
log — so it reaches inboxes (and webhooks) by the same road. Review sends ``review_rejected``
when it rejects a message; ``run_notices`` is the scheduled job that sends the overdue kinds,
each at most once a week per referral or ledger item.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, exists, select
from sqlalchemy.orm import Session

from exchange.errors import ClassifiedContentRefused, SchemaInvalid
from exchange.metrics import count_notice
from exchange.store.models import LedgerItem, Message, Partner, ReferralCase
from exchange.supervision.days import china_today
from exchange.supervision.lifecycles import Lifecycle, LifecycleState
from exchange.supervision.reminders import cases_due, items_due, reminded_lately
from exchange.transparency.log import format_time
from exchange.transparency.window import LogWindow, session_window
from exchange.transport.intake import Checked, store_message
from exchange.trust.agreements import Agreement
from exchange.trust.directory import pushed_recipients
from exchange.trust.hub_keys import HubTrust
from keys import jws
from keys.protocol import HUB_PARTNER_ID, MESSAGE_TYP
from schemas import (
    HUB_MESSAGE_TYPES,
    ClassifiedContent,
    Envelope,
    MessageInvalid,
    body_of,
    canonical_bytes,
    validate_envelope,
)

NOTICE_TYPE = "hub.notice.v1"
# Notices are non-classified by construction: ids, dates and a reviewer's reason.
NOTICE_CLASSIFICATION = "internal"
CASES = cast(Table, ReferralCase.__table__)
ITEMS = cast(Table, LedgerItem.__table__)


@dataclass(frozen=True)
class Notice:
    """What one notice says: its kind, what it is about, to whom; ``reason``, ``due``."""

    notice: str
    about: str
    recipients: tuple[str, ...]
    reason: str | None = None
    due: date | None = None

    def envelope(self, message_id: str, now: datetime) -> dict[str, Any]:
        """The wire envelope, ``from: "hub"``, recipients sorted."""
        payload: dict[str, Any] = {"notice": self.notice, "about": self.about}
        if self.reason is not None:
            payload["reason"] = self.reason
        if self.due is not None:
            payload["due"] = self.due.isoformat()
        return {
            "id": message_id,
            "type": NOTICE_TYPE,
            "from": HUB_PARTNER_ID,
            "to": sorted(self.recipients),
            "sent_at": format_time(now),
            "classification": NOTICE_CLASSIFICATION,
            "subject": self.about,
            "payload": payload,
        }


@dataclass(frozen=True)
class SentNotice:
    """A notice the hub stored and released: its message id and what it said, to whom."""

    message_id: str
    notice: str
    about: str
    recipients: tuple[str, ...]

    def line(self) -> str:
        """One line for the CLI: kind, about, recipients."""
        return f"{self.notice}\t{self.about}\t{','.join(sorted(self.recipients))}"


def send_notice(
    session: Session, window: LogWindow, trust: HubTrust, notice: Notice, *, now: datetime
) -> SentNotice | None:
    """Store one notice, released, in the caller's log window (the session's transaction).

    Recipients that are not active partners are left out, as intake routes nothing to them;
    with none left, nothing is stored and None is returned. Raises an ``ExchangeError`` when
    the notice does not validate (a reason too long, or carrying a state-secret marker).
    """
    active = set(
        session.scalars(
            select(Partner.id).where(
                Partner.id.in_(set(notice.recipients)), Partner.status == "active"
            )
        )
    )
    recipients = tuple(r for r in notice.recipients if r in active)
    if not recipients:
        return None
    raw = replace(notice, recipients=recipients).envelope(secrets.token_urlsafe(18), now)
    envelope = _validated(raw)
    canonical = canonical_bytes(raw)
    hub_key = trust.current
    checked = Checked(
        envelope=envelope,
        canonical=canonical,
        digest=hashlib.sha256(canonical).hexdigest(),
        signature=jws.sign_detached(
            canonical, hub_key.signing_key, kid=hub_key.kid, typ=MESSAGE_TYP
        ),
        kid=hub_key.kid,
        # No review: a notice is released as it is stored.
        agreement=Agreement(NOTICE_TYPE, HUB_PARTNER_ID, frozenset(body_of(r) for r in recipients)),
        sealed=trust.sealing.seal(canonical, aad=envelope.id.encode()),
        pushed=frozenset(pushed_recipients(session, recipients)),
    )
    store_message(window, LifecycleState(), Lifecycle(), checked, trust=trust, now=now)
    count_notice(notice.notice)
    return SentNotice(envelope.id, notice.notice, notice.about, tuple(sorted(recipients)))


def _validated(raw: dict[str, Any]) -> Envelope:
    try:
        return validate_envelope(raw, types=HUB_MESSAGE_TYPES)
    except ClassifiedContent:
        raise ClassifiedContentRefused(
            "A hub notice must not carry a state-secret marker (秘密, 机密, 绝密); "
            "a rejection's reason is sent to the sender in one.",
        ) from None
    except MessageInvalid as invalid:
        problems = "; ".join(f"{path}: {' '.join(m)}" for path, m in invalid.errors.items())
        raise SchemaInvalid(
            f"The hub notice would be invalid ({problems}).",
            errors=invalid.errors,
        ) from None


def review_rejected(
    session: Session,
    window: LogWindow,
    trust: HubTrust,
    message: Message,
    *,
    reason: str,
    now: datetime,
) -> SentNotice | None:
    """Tell the sender of a rejected message why it was rejected."""
    notice = Notice("review_rejected", message.id, (message.sender,), reason=reason)
    return send_notice(session, window, trust, notice, now=now)


def run_notices(session: Session, trust: HubTrust, now: datetime) -> list[SentNotice]:
    """The scheduled job: remind of overdue referral feedback and overdue ledger items.

    Days are Beijing days (the bodies' calendar). Takes the log lock for the caller's
    transaction, so intake cannot change the cases meanwhile; running it again at once sends
    nothing, as each reminded case or item keeps ``notified_at``.
    """
    today = china_today(now)
    cases, items = cases_due(today, now), items_due(today, now)
    # Most rounds find nothing: look first, as the log lock holds up every intake meanwhile.
    if not session.scalar(select(exists(cases.subquery()) | exists(items.subquery()))):
        return []
    with session_window(session, now) as window:
        return [
            *_feedback_overdue(session, window, trust, today, now),
            *_rectification_overdue(session, window, trust, today, now),
        ]


def _feedback_overdue(
    session: Session, window: LogWindow, trust: HubTrust, today: date, now: datetime
) -> list[SentNotice]:
    """One notice per overdue referral, to its sender and the recipients it is overdue with."""
    due_cases = session.scalars(
        cases_due(today, now).order_by(
            ReferralCase.feedback_due, ReferralCase.message_id, ReferralCase.recipient
        )
    )
    referrals: dict[str, list[ReferralCase]] = {}
    for case in due_cases:
        referrals.setdefault(case.message_id, []).append(case)
    if not referrals:
        return []
    # At most once a week per referral, whichever of its recipients was reminded.
    reminded = set(session.scalars(reminded_lately(list(referrals), now)))
    sent = []
    for message_id, cases in referrals.items():
        if message_id in reminded:
            continue
        first = cases[0]
        notice = Notice(
            "feedback_overdue",
            first.referral_id,
            (first.sender, *(c.recipient for c in cases)),
            due=first.feedback_due,
        )
        message = send_notice(session, window, trust, notice, now=now)
        if message is not None:
            _mark(
                window,
                CASES,
                [{"message_id": c.message_id, "recipient": c.recipient} for c in cases],
                now,
            )
            sent.append(message)
    return sent


def _rectification_overdue(
    session: Session, window: LogWindow, trust: HubTrust, today: date, now: datetime
) -> list[SentNotice]:
    """One notice per overdue ledger item, to its owner, naming the date that passed."""
    items = session.scalars(
        items_due(today, now).order_by(LedgerItem.owner, LedgerItem.ledger_item_id)
    ).all()
    sent = []
    for item in items:
        passed = item.deadline if item.deadline < today else item.milestone_due
        notice = Notice("rectification_overdue", item.ledger_item_id, (item.owner,), due=passed)
        message = send_notice(session, window, trust, notice, now=now)
        if message is not None:
            key = {"owner": item.owner, "ledger_item_id": item.ledger_item_id}
            _mark(window, ITEMS, [key], now)
            sent.append(message)
    return sent


def _mark(window: LogWindow, table: Table, keys: Sequence[dict[str, Any]], now: datetime) -> None:
    for key in keys:
        window.changes.update(table, {**key, "notified_at": now})
