"""Push delivery (PROTOCOL §7): the deliveries table as a transactional outbox, drained by
``exchange worker``.

Intake and review queue a push (``push_state`` pending, ``next_attempt_at`` now) in the very
transaction that releases the message, for each recipient with a working webhook. A worker
claims a batch of due rows — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that several
workers never wait for each other; SQLite's BEGIN IMMEDIATE serialises the claim — marks them
``sending`` until a lease runs out, and commits. It POSTs each outside any transaction, then
records the outcomes in a second transaction with their log entries. A worker killed mid-batch
leaves its rows ``sending``: when the lease runs out another worker claims them again, so a
partner sees every message at least once, always under the same ``webhook-id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from exchange.admin.webhooks import cancel_pending
from exchange.errors import InvalidTransition, NotFound
from exchange.store.models import Delivery, Message, Partner
from exchange.store.writer import Changes, SessionTransaction
from exchange.supervision.hub_events import HubStep, apply_hub_steps
from exchange.supervision.states import HubEvent
from exchange.transparency.log import format_time
from exchange.transparency.window import LogWindow, session_window
from exchange.transport.webhook_sender import Answer, WebhookSender, webhook_body, webhook_headers
from exchange.trust.directory import WEBHOOK_ACTIVE
from exchange.trust.hub_keys import HubTrust
from exchange.trust.webhook_secrets import open_secret
from keys import KeysError
from keys.protocol import LogAction

log = logging.getLogger(__name__)

DELIVERIES = cast(Table, Delivery.__table__)
MESSAGES = cast(Table, Message.__table__)
PARTNERS = cast(Table, Partner.__table__)

# PROTOCOL §7: a failed attempt is tried again after these delays; after the last, the
# delivery is dead-lettered (eight attempts in all, as Standard Webhooks schedules them).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# A claimed row stays the claimer's while the sends before it and its own could still be
# running (each at most the timeout), plus this margin to record the outcomes.
LEASE_MARGIN = timedelta(seconds=30)
# Outcomes are recorded at the end of a batch, or sooner when a batch has run this long (a
# slow partner does not hold up what was already sent).
RECORD_EVERY_SECONDS = 2.0
# Outbox states of a delivery (``Delivery.push_state``).
PENDING, SENDING, PUSHED, DEAD, CANCELLED = "pending", "sending", "pushed", "dead", "cancelled"
PUSH_STATES = (PENDING, SENDING, PUSHED, DEAD, CANCELLED)
WORKER_STOPPED = "no outcome recorded: the worker stopped during the attempt"


# --- the outbox: claim, send, record -----------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """One push a worker holds until its lease runs out: where to, which attempt, what."""

    message_id: str
    recipient: str
    attempt: int
    url: str
    secret_sealed: bytes
    allow_internal: bool
    type: str
    envelope_sha256: str
    sealed_envelope: bytes
    signature: str
    receipt: str


@dataclass(frozen=True)
class Outcome:
    """One attempt made: when, and what it came to."""

    push: Claimed
    at: datetime
    answer: Answer


@dataclass
class Tally:
    """What a round of pushes came to."""

    claimed: int = 0
    pushed: int = 0
    retrying: int = 0
    dead: int = 0
    disabled: list[str] = field(default_factory=list)
    lost: int = 0

    def add(self, other: Tally) -> None:
        """Count another batch in."""
        self.claimed += other.claimed
        self.pushed += other.pushed
        self.retrying += other.retrying
        self.dead += other.dead
        self.disabled += other.disabled
        self.lost += other.lost

    def __str__(self) -> str:
        text = f"{self.pushed} pushed, {self.retrying} to retry, {self.dead} dead-lettered" + (
            f", webhook disabled (410): {', '.join(self.disabled)}" if self.disabled else ""
        )
        return text + (f", {self.lost} taken over by another worker" if self.lost else "")


# The queue itself: the due rows of the partial outbox index, oldest first, on one table, so the
# plan is that index's ordered scan whatever the statistics say. A row another worker holds is
# skipped, not waited for (PostgreSQL; SQLite has no row locks and its claim runs alone).
_DUE = (
    select(
        DELIVERIES.c.message_id,
        DELIVERIES.c.recipient,
        DELIVERIES.c.attempts,
        DELIVERIES.c.push_state,
        DELIVERIES.c.last_error,
    )
    # Implies ``IS NOT NULL``: both databases read the partial outbox index.
    .where(
        DELIVERIES.c.next_attempt_at <= bindparam("now"),
        DELIVERIES.c.push_state.in_((PENDING, SENDING)),
    )
    .order_by(DELIVERIES.c.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_WEBHOOKS = select(
    PARTNERS.c.id,
    PARTNERS.c.status,
    PARTNERS.c.webhook_url,
    PARTNERS.c.webhook_secret_sealed,
    PARTNERS.c.webhook_allow_internal,
    WEBHOOK_ACTIVE.label("active"),
).where(PARTNERS.c.id.in_(bindparam("ids", expanding=True)))
_MESSAGES = select(
    MESSAGES.c.id,
    MESSAGES.c.type,
    MESSAGES.c.envelope_sha256,
    MESSAGES.c.sealed_envelope,
    MESSAGES.c.signature,
    MESSAGES.c.receipt,
).where(MESSAGES.c.id.in_(bindparam("ids", expanding=True)))
# A push to a suspended partner waits: it is looked at again this much later.
SUSPENDED_WAIT = timedelta(minutes=5)


class Dispatcher:
    """Drains the outbox: claims due pushes, sends them, records what came of them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        trust: HubTrust,
        sender: WebhookSender | None = None,
        *,
        batch_size: int = 20,
    ) -> None:
        self.sessions = sessions
        self.trust = trust
        self.sender = sender or WebhookSender()
        self.batch_size = batch_size

    def claim(self, now: datetime) -> list[Claimed]:
        """Take up to ``batch_size`` due pushes, each until its lease runs out; commit.

        A due push whose partner has no working webhook any more (removed, or disabled by a
        410 while the message was being released) is cancelled; one to a suspended partner
        waits.
        """
        with self.sessions.begin() as session:
            connection = session.connection()
            due = connection.execute(_DUE, {"now": now, "limit": self.batch_size}).all()
            if not due:
                return []
            partners = {
                row.id: row
                for row in connection.execute(_WEBHOOKS, {"ids": list({r.recipient for r in due})})
            }
            rows, changes = [], Changes()
            for row in due:
                partner = partners[row.recipient]
                key = {"message_id": row.message_id, "recipient": row.recipient}
                if not partner.active:
                    changes.update(
                        DELIVERIES, {**key, "push_state": CANCELLED, "next_attempt_at": None}
                    )
                elif partner.status != "active":
                    changes.update(DELIVERIES, {**key, "next_attempt_at": now + SUSPENDED_WAIT})
                else:
                    rows.append(row)
            timeout = timedelta(seconds=self.sender.timeout)
            for position, row in enumerate(rows):
                changes.update(
                    DELIVERIES,
                    {
                        "message_id": row.message_id,
                        "recipient": row.recipient,
                        "push_state": SENDING,
                        # Read under FOR UPDATE: no other worker counts it meanwhile.
                        "attempts": row.attempts + 1,
                        "next_attempt_at": now + (position + 1) * timeout + LEASE_MARGIN,
                        # Claimed while ``sending``: the worker that held it stopped.
                        "last_error": WORKER_STOPPED
                        if row.push_state == SENDING
                        else row.last_error,
                    },
                )
            SessionTransaction(session).write(changes)
            if not rows:
                return []
            messages = {
                m.id: m
                for m in connection.execute(_MESSAGES, {"ids": list({r.message_id for r in rows})})
            }
        return [
            Claimed(
                message_id=row.message_id,
                recipient=row.recipient,
                attempt=row.attempts + 1,
                url=partners[row.recipient].webhook_url,
                secret_sealed=bytes(partners[row.recipient].webhook_secret_sealed),
                allow_internal=bool(partners[row.recipient].webhook_allow_internal),
                type=messages[row.message_id].type,
                envelope_sha256=messages[row.message_id].envelope_sha256,
                sealed_envelope=bytes(messages[row.message_id].sealed_envelope),
                signature=messages[row.message_id].signature,
                receipt=messages[row.message_id].receipt,
            )
            for row in rows
        ]

    def send(self, push: Claimed, at: datetime) -> Outcome:
        """Make one attempt, stamped ``at``, outside any transaction."""
        try:
            envelope = self.trust.sealing.open(push.sealed_envelope, aad=push.message_id.encode())
            secret = open_secret(self.trust, push.recipient, push.secret_sealed)
        except KeysError:
            # A sealing key missing from the ring: retried on the schedule, never sent unsigned.
            log.exception("cannot open the envelope or secret of a push to %s", push.recipient)
            return Outcome(push, at, Answer(None, "the hub could not open what it sealed", 0))
        body = webhook_body(envelope, push.signature, push.receipt)
        headers = webhook_headers(
            push.message_id, int(at.timestamp()), body, secret, self.trust.current.signing_key
        )
        return Outcome(
            push,
            at,
            self.sender.post(
                push.url,
                body,
                headers,
                recipient=push.recipient,
                allow_internal=push.allow_internal,
            ),
        )

    def run_once(self, now: datetime) -> Tally:
        """One batch: claim at ``now``, send (the clock moving on from ``now`` as they go),
        record. Outcomes are recorded every couple of seconds if the batch runs long.
        """
        claimed = self.claim(now)
        tally = Tally(claimed=len(claimed))
        started = last_record = time.perf_counter()

        def clock() -> datetime:
            # Whole seconds, as webhook timestamps are: within its first second, a batch's
            # attempts are at ``now`` exactly.
            return now + timedelta(seconds=int(time.perf_counter() - started))

        outcomes: list[Outcome] = []
        for push in claimed:
            outcomes.append(self.send(push, clock()))
            if time.perf_counter() - last_record >= RECORD_EVERY_SECONDS:
                tally.add(self.record(outcomes, clock()))
                outcomes, last_record = [], time.perf_counter()
        if outcomes:
            tally.add(self.record(outcomes, clock()))
        return tally

    def record(self, outcomes: Iterable[Outcome], now: datetime) -> Tally:
        """Write what the attempts came to, with their log entries, in one transaction.

        An outcome whose row another worker has claimed since (this one's lease ran out) is
        dropped: the newer attempt's outcome is the one that counts.
        """
        outcomes = list(outcomes)
        tally = Tally()
        with self.sessions.begin() as session, session_window(session, now) as window:
            keys = [(o.push.message_id, o.push.recipient) for o in outcomes]
            deliveries = {
                (d.message_id, d.recipient): d
                for d in session.scalars(
                    select(Delivery)
                    .where(tuple_(Delivery.message_id, Delivery.recipient).in_(keys))
                    .with_for_update(of=Delivery)
                )
            }
            steps: list[HubStep] = []
            disabled: set[str] = set()
            for outcome in outcomes:
                push = outcome.push
                delivery = deliveries.get((push.message_id, push.recipient))
                if (
                    delivery is None
                    or delivery.push_state != SENDING
                    or delivery.attempts != push.attempt
                ):
                    tally.lost += 1
                    continue
                step = self._record_one(session, window, delivery, outcome, tally, disabled, now)
                if step is not None:
                    steps.append(step)
            apply_hub_steps(window.transaction, window.changes, steps, now=now)
        return tally

    def _record_one(
        self,
        session: Session,
        window: LogWindow,
        delivery: Delivery,
        outcome: Outcome,
        tally: Tally,
        disabled: set[str],
        now: datetime,
    ) -> HubStep | None:
        push, answer = outcome.push, outcome.answer
        update: dict[str, Any] = {
            "message_id": push.message_id,
            "recipient": push.recipient,
            "last_attempt_at": outcome.at,
            "last_duration_ms": answer.duration_ms,
        }
        entry: dict[str, Any] = {
            "at": now,
            "actor": "hub",
            "message_id": push.message_id,
            "type": push.type,
            "envelope_sha256": push.envelope_sha256,
            "recipient": push.recipient,
            "attempt": push.attempt,
            "http_status": answer.status,
        }
        step = None
        if answer.ok:
            update.update(push_state=PUSHED, next_attempt_at=None, last_error=None)
            first = delivery.delivered_at is None
            if first:
                update.update(delivered_at=outcome.at, delivered_via="push")
            if delivery.state == "queued":
                update["state"] = "delivered"
            index = window.log.append(action=LogAction.MESSAGE_DELIVERED, **entry)
            if first:
                step = HubStep(
                    push.message_id, push.type, HubEvent.DELIVERED, (push.recipient,), index
                )
            tally.pushed += 1
        elif answer.status == 410:
            # PROTOCOL §7: 410 Gone disables the webhook; the partner pulls from now on.
            update.update(
                push_state=CANCELLED,
                next_attempt_at=None,
                last_error="HTTP 410: the webhook is disabled",
            )
            window.log.append(
                action=LogAction.MESSAGE_DELIVERY_FAILED, webhook_disabled=True, **entry
            )
            partner = session.get(Partner, push.recipient)
            if (
                partner is not None
                and partner.webhook_disabled_at is None
                and push.recipient not in disabled
            ):
                disabled.add(push.recipient)
                window.changes.update(PARTNERS, {"id": push.recipient, "webhook_disabled_at": now})
                cancel_pending(session, window.changes, push.recipient)
                window.log.append(
                    at=now,
                    actor="hub",
                    action=LogAction.PARTNER_WEBHOOK_DISABLED,
                    partner_id=push.recipient,
                    http_status=410,
                )
                tally.disabled.append(push.recipient)
        elif push.attempt <= len(RETRY_DELAYS):
            retry_at = outcome.at + RETRY_DELAYS[push.attempt - 1]
            update.update(push_state=PENDING, next_attempt_at=retry_at, last_error=answer.error)
            window.log.append(
                action=LogAction.MESSAGE_DELIVERY_FAILED, retry_at=format_time(retry_at), **entry
            )
            tally.retrying += 1
        else:
            update.update(push_state=DEAD, next_attempt_at=None, last_error=answer.error)
            window.log.append(action=LogAction.MESSAGE_DEAD_LETTERED, **entry)
            tally.dead += 1
        # After cancel_pending: this row's own outcome is what counts for it.
        window.changes.update(DELIVERIES, update)
        return step


# --- the administrators' side: list, resend -----------------------------------------------------


def push_deliveries(
    session: Session, *, state: str | None, recipient: str | None, limit: int
) -> list[Delivery]:
    """Deliveries with a push (in ``state``, to ``recipient`` when given), latest attempt
    first.
    """
    query = select(Delivery).where(Delivery.push_state.is_not(None))
    if state is not None:
        query = query.where(Delivery.push_state == state)
    if recipient is not None:
        query = query.where(Delivery.recipient == recipient)
    order = (Delivery.last_attempt_at.desc().nulls_last(), Delivery.message_id, Delivery.recipient)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def resendable_dead_letters(session: Session, recipient: str | None) -> int:
    """How many dead letters (to ``recipient`` when given) ``resend`` would queue now."""
    working = select(Partner.id).where(WEBHOOK_ACTIVE)
    query = select(func.count()).where(
        Delivery.push_state == DEAD, Delivery.recipient.in_(working), Delivery.cursor.is_not(None)
    )
    if recipient is not None:
        query = query.where(Delivery.recipient == recipient)
    return int(session.scalar(query) or 0)


def resend(
    session: Session,
    message_id: str | None,
    *,
    recipient: str | None,
    actor: str,
    now: datetime,
    limit: int | None = None,
) -> list[Delivery]:
    """Queue again the pushes of one message (or, with no ``message_id``, the dead-lettered
    pushes, at most ``limit`` of them), to ``recipient`` only when given: the schedule starts
    over. Return them.

    A push still pending or being sent is left alone, and so is a recipient without a working
    webhook (it pulls) — unless it was named: then, as when nothing of a named message can be
    queued, the resend is refused.
    """
    with session_window(session, now) as window:
        query = select(Delivery).where(Delivery.cursor.is_not(None))
        if message_id is not None:
            if session.get(Message, message_id) is None:
                raise NotFound(f"No message {message_id}.")
            query = query.where(Delivery.message_id == message_id)
        else:
            # Only dead letters that can go now: a chunk (``limit``) is never all skipped.
            working = select(Partner.id).where(WEBHOOK_ACTIVE)
            query = query.where(Delivery.push_state == DEAD, Delivery.recipient.in_(working))
        if recipient is not None:
            query = query.where(Delivery.recipient == recipient)
        query = query.order_by(Delivery.message_id, Delivery.recipient)
        if limit is not None:
            query = query.limit(limit)
        deliveries = [d for d in session.scalars(query) if d.push_state not in (PENDING, SENDING)]
        pushed = set(
            session.scalars(
                select(Partner.id).where(
                    Partner.id.in_({d.recipient for d in deliveries}), WEBHOOK_ACTIVE
                )
            )
        )
        if recipient is not None and deliveries and recipient not in pushed:
            raise InvalidTransition(f"No working webhook for {recipient}: it pulls.")
        deliveries = [d for d in deliveries if d.recipient in pushed]
        if message_id is not None and not deliveries:
            raise InvalidTransition(
                f"Nothing to resend for {message_id}"
                + (f" to {recipient}" if recipient else "")
                + ": a push is already queued, or no recipient has a working webhook.",
            )
        for delivery in deliveries:
            window.log.append(
                at=now,
                actor=actor,
                action=LogAction.MESSAGE_DELIVERY_RESENT,
                message_id=delivery.message_id,
                type=delivery.message.type,
                envelope_sha256=delivery.message.envelope_sha256,
                recipient=delivery.recipient,
                previous_attempts=delivery.attempts,
            )
            window.changes.update(
                DELIVERIES,
                {
                    "message_id": delivery.message_id,
                    "recipient": delivery.recipient,
                    "push_state": PENDING,
                    "next_attempt_at": now,
                    "attempts": 0,
                },
            )
    return deliveries
