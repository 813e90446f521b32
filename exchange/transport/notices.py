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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from exchange.errors import ProblemError
from exchange.store.models import LedgerItem, Message, Partner, ReferralCase
from exchange.supervision.figures import LEDGER_DONE, REFERRAL_OPEN, china_today
from exchange.supervision.lifecycle import Lifecycles, LifecycleState
from exchange.transparency.log import LogAppender, close_log, format_time, open_log
from exchange.transport.intake import MESSAGE_TYP, Checked, open_envelope, store_message
from exchange.transport.writer import Transaction
from exchange.trust.agreements import Agreement
from exchange.trust.directory import pushed_recipients
from exchange.trust.hub_keys import HUB_ID, HubTrust
from keys import jws
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
# An overdue referral or ledger item is reminded of at most once in this span.
REMIND_EVERY = timedelta(days=7)


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
            "from": HUB_ID,
            "to": sorted(self.recipients),
            "sent_at": format_time(now),
            "classification": NOTICE_CLASSIFICATION,
            "subject": self.about,
            "payload": payload,
        }


def send_notice(
    session: Session, log: LogAppender, trust: HubTrust, notice: Notice, *, now: datetime
) -> Message | None:
    """Store one notice, released, in the caller's transaction (which holds ``log``).

    Recipients that are not active partners are left out, as intake routes nothing to them;
    with none left, nothing is stored and None is returned. Raises ``ProblemError`` when the
    notice does not validate (a reason too long, or carrying a state-secret marker).
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
        agreement=Agreement(NOTICE_TYPE, HUB_ID, frozenset(body_of(r) for r in recipients)),
        sealed=trust.sealing.seal(canonical, aad=envelope.id.encode()),
        pushed=frozenset(pushed_recipients(session, recipients)),
    )
    tx = Transaction(known={}, log=log, lifecycle=LifecycleState())
    store_message(tx, checked, trust=trust, lifecycles=Lifecycles(), now=now)
    connection = session.connection()
    for table, rows in tx.inserts():
        connection.execute(table.insert(), rows)
    return session.get(Message, envelope.id, options=[selectinload(Message.deliveries)])


def _validated(raw: dict[str, Any]) -> Envelope:
    try:
        return validate_envelope(raw, types=HUB_MESSAGE_TYPES)
    except ClassifiedContent:
        raise ProblemError(
            "classified-content-refused",
            "A hub notice must not carry a state-secret marker (秘密, 机密, 绝密); "
            "a rejection's reason is sent to the sender in one.",
        ) from None
    except MessageInvalid as invalid:
        problems = "; ".join(f"{path}: {' '.join(m)}" for path, m in invalid.errors.items())
        raise ProblemError(
            "schema-invalid",
            f"The hub notice would be invalid ({problems}).",
            errors=invalid.errors,
        ) from None


def review_rejected(
    session: Session,
    log: LogAppender,
    trust: HubTrust,
    message: Message,
    *,
    reason: str,
    now: datetime,
) -> Message | None:
    """Tell the sender of a rejected message why it was rejected."""
    notice = Notice("review_rejected", message.id, (message.sender,), reason=reason)
    return send_notice(session, log, trust, notice, now=now)


def run_notices(session: Session, trust: HubTrust, now: datetime) -> list[Message]:
    """The scheduled job: remind of overdue referral feedback and overdue ledger items.

    Days are Beijing days (the bodies' calendar). Takes the log lock for the caller's
    transaction, so intake cannot change the cases meanwhile; running it again at once sends
    nothing, as each reminded case or item keeps ``notified_at``.
    """
    today = china_today(now)
    remind_before = now - REMIND_EVERY
    cases = _overdue_cases(today, remind_before)
    items = _overdue_items(today, remind_before)
    # Most rounds find nothing: look first, as the log lock holds up every intake meanwhile.
    if not (session.scalar(select(cases.exists())) or session.scalar(select(items.exists()))):
        return []
    log = open_log(session)
    sent = [
        *_feedback_overdue(session, log, trust, cases, remind_before, now),
        *_rectification_overdue(session, log, trust, items, today, now),
    ]
    close_log(session, log, now)
    return sent


def _overdue_cases(today: date, remind_before: datetime) -> Select[ReferralCase]:
    """Cases past their feedback date, still open, not reminded of within the week."""
    return select(ReferralCase).where(
        ReferralCase.state.in_(REFERRAL_OPEN),
        ReferralCase.feedback_due < today,
        or_(ReferralCase.notified_at.is_(None), ReferralCase.notified_at <= remind_before),
    )


def _overdue_items(today: date, remind_before: datetime) -> Select[LedgerItem]:
    """Items past their deadline or a milestone's due date, not done, not reminded of lately."""
    return select(LedgerItem).where(
        LedgerItem.status.not_in(LEDGER_DONE),
        or_(LedgerItem.deadline < today, LedgerItem.milestone_due < today),
        or_(LedgerItem.notified_at.is_(None), LedgerItem.notified_at <= remind_before),
    )


def _feedback_overdue(
    session: Session,
    log: LogAppender,
    trust: HubTrust,
    overdue: Select[ReferralCase],
    remind_before: datetime,
    now: datetime,
) -> list[Message]:
    """One notice per overdue referral, to its sender and the recipients it is overdue with."""
    due_cases = session.scalars(
        overdue.order_by(ReferralCase.feedback_due, ReferralCase.message_id, ReferralCase.recipient)
    )
    referrals: dict[str, list[ReferralCase]] = {}
    for case in due_cases:
        referrals.setdefault(case.message_id, []).append(case)
    if not referrals:
        return []
    # At most once a week per referral, whichever of its recipients was reminded.
    reminded = set(
        session.scalars(
            select(ReferralCase.message_id).where(
                ReferralCase.message_id.in_(list(referrals)),
                ReferralCase.notified_at > remind_before,
            )
        )
    )
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
        message = send_notice(session, log, trust, notice, now=now)
        if message is not None:
            _mark(cases, now)
            sent.append(message)
    return sent


def _rectification_overdue(
    session: Session,
    log: LogAppender,
    trust: HubTrust,
    overdue: Select[LedgerItem],
    today: date,
    now: datetime,
) -> list[Message]:
    """One notice per overdue ledger item, to its owner, naming the date that passed."""
    items = session.scalars(overdue.order_by(LedgerItem.owner, LedgerItem.ledger_item_id)).all()
    sent = []
    for item in items:
        passed = item.deadline if item.deadline < today else item.milestone_due
        notice = Notice("rectification_overdue", item.ledger_item_id, (item.owner,), due=passed)
        message = send_notice(session, log, trust, notice, now=now)
        if message is not None:
            _mark([item], now)
            sent.append(message)
    return sent


def _mark(rows: Iterable[ReferralCase | LedgerItem], now: datetime) -> None:
    for row in rows:
        row.notified_at = now


def notice_line(trust: HubTrust, message: Message) -> str:
    """One line on a sent notice: kind, about, recipients (for the CLI)."""
    payload = open_envelope(trust, message)["payload"]
    recipients = ",".join(sorted(d.recipient for d in message.deliveries))
    return f"{payload['notice']}\t{payload['about']}\t{recipients}"
