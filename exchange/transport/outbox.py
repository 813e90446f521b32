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

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import requests
from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from exchange.errors import ProblemError
from exchange.store.models import Delivery, Message, Partner
from exchange.supervision.lifecycle import hub_step
from exchange.transparency.log import LogAppender, close_log, format_time, open_log
from exchange.transport.destinations import (
    InternalDestination,
    check_webhook_url,
    guarded_session,
)
from exchange.trust.directory import WEBHOOK_ACTIVE
from exchange.trust.hub_keys import HubTrust
from keys import KeysError, SigningKey

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
TIMEOUT_SECONDS = 15.0
# A claimed row stays the claimer's while the sends before it and its own could still be
# running (each at most the timeout), plus this margin to record the outcomes.
LEASE_MARGIN = timedelta(seconds=30)
# Outcomes are recorded at the end of a batch, or sooner when a batch has run this long (a
# slow partner does not hold up what was already sent).
RECORD_EVERY_SECONDS = 2.0
# The most of a partner's answer that is read (to reuse the connection); the rest is dropped.
MAX_ANSWER_BYTES = 64 * 1024
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# Outbox states of a delivery (``Delivery.push_state``).
PENDING, SENDING, PUSHED, DEAD, CANCELLED = "pending", "sending", "pushed", "dead", "cancelled"
PUSH_STATES = (PENDING, SENDING, PUSHED, DEAD, CANCELLED)
WORKER_STOPPED = "no outcome recorded: the worker stopped during the attempt"
USER_AGENT = "joint-supervision-exchange-webhooks/1"


# --- the partner's webhook and its secret ------------------------------------------------------


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def _secret_aad(partner_id: str) -> bytes:
    # Bound to the partner: a sealed secret copied to another partner's row does not open.
    return f"webhook-secret:{partner_id}".encode()


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
    ``allow_internal`` lets it (and every push to it) reach loopback and link-local addresses."""
    check_webhook_url(url, allow_internal=allow_internal)
    # The log lock first, as every writer takes it (a worker disabling this webhook too).
    appender = open_log(session)
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise ProblemError("not-found", f"No partner {partner_id}.")
    secret = new_webhook_secret()
    partner.webhook_url = url
    partner.webhook_secret_sealed = trust.sealing.seal(secret.encode(), aad=_secret_aad(partner_id))
    partner.webhook_disabled_at = None
    partner.webhook_allow_internal = allow_internal
    session.flush()
    appender.append(
        at=now,
        actor=actor,
        action="partner:webhook-set",
        partner_id=partner_id,
        webhook_url_sha256=hashlib.sha256(url.encode()).hexdigest(),
        allow_internal=allow_internal or None,
    )
    close_log(session, appender, now)
    return secret


def remove_webhook(session: Session, partner_id: str, *, actor: str, now: datetime) -> int:
    """Remove a partner's webhook (it pulls from now on); cancel its pending pushes and return
    how many."""
    appender = open_log(session)
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise ProblemError("not-found", f"No partner {partner_id}.")
    if partner.webhook_url is None:
        raise ProblemError("invalid-transition", f"{partner_id} has no webhook.")
    partner.webhook_url = partner.webhook_secret_sealed = partner.webhook_disabled_at = None
    session.flush()
    cancelled = _cancel_pending(session, partner_id)
    appender.append(at=now, actor=actor, action="partner:webhook-removed", partner_id=partner_id)
    close_log(session, appender, now)
    return cancelled


def open_secret(trust: HubTrust, partner_id: str, sealed: bytes) -> bytes:
    """The HMAC key of a partner's sealed webhook secret."""
    return secret_key(trust.sealing.open(sealed, aad=_secret_aad(partner_id)).decode())


def _cancel_pending(session: Session, partner_id: str) -> int:
    """Cancel a partner's pushes not yet claimed (claimed ones are recorded as they end)."""
    result = session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.recipient == partner_id, DELIVERIES.c.push_state == PENDING)
        .values(push_state=CANCELLED, next_attempt_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the wire: body, headers, signatures -------------------------------------------------------


def webhook_body(envelope_jcs: bytes, signature: str, receipt: str) -> bytes:
    """``{"envelope", "receipt", "signature"}`` in JCS: the stored envelope bytes are already
    JCS, the two JWS strings are plain ASCII, and the members are in JCS order."""
    return b"".join(
        (
            b'{"envelope":',
            envelope_jcs,
            b',"receipt":',
            json.dumps(receipt).encode(),
            b',"signature":',
            json.dumps(signature).encode(),
            b"}",
        )
    )


def webhook_headers(
    message_id: str, timestamp: int, body: bytes, secret: bytes, hub_key: SigningKey
) -> dict[str, str]:
    """Standard Webhooks headers: ``v1`` (HMAC-SHA256 with the partner's secret) and ``v1a``
    (Ed25519 with the hub's key), both over ``{webhook-id}.{webhook-timestamp}.{body}``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    v1 = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    v1a = base64.b64encode(hub_key.sign(signed)).decode()
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{v1} v1a,{v1a}",
    }


@dataclass(frozen=True)
class Answer:
    """What one POST came to: the HTTP status (None without an answer) and, unless it was a
    2xx, a short reason in the hub's words (never the partner's answer)."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx: the delivery is done."""
        return self.error is None


class WebhookSender:
    """The one outbound HTTP client of push delivery: one ``requests.Session``, an explicit
    timeout, no redirects, no proxy or credentials from the environment, timing and a log
    line per request."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        # Every connection checked for an internal destination; the other session only for
        # the partners an operator allowed internal destinations for.
        self.session = guarded_session()
        self.internal = requests.Session()
        for session in (self.session, self.internal):
            # Only ever to the registered URL: no $HTTP_PROXY, no .netrc credentials.
            session.trust_env = False

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        recipient: str,
        allow_internal: bool = False,
    ) -> Answer:
        """POST ``body`` to ``url``; a timeout or a refused connection is an answer too."""
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        session = self.internal if allow_internal else self.session
        try:
            with session.post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
                _drain(response)
        except requests.Timeout:
            error = f"timed out after {self.timeout:g} s"
        except requests.ConnectionError as failure:
            error = f"connection failed ({_root_cause(failure)})"
        except requests.RequestException as failure:
            error = f"request failed ({type(failure).__name__})"
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        log.info(
            "webhook POST to %s: %s in %d ms", recipient, error or f"HTTP {status}", duration_ms
        )
        return Answer(status, error, duration_ms)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
        self.internal.close()


def _drain(response: requests.Response) -> None:
    # Read a bounded answer to the end so that the connection goes back to the pool; once the
    # status is in, a failure while reading changes nothing.
    read = 0
    try:
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                return
    except requests.RequestException:
        return


def _root_cause(failure: BaseException) -> str:
    cause: BaseException = failure
    for _ in range(10):  # requests wraps urllib3, which wraps the socket's error
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    if isinstance(cause, ConnectionRefusedError):
        return "refused"
    if isinstance(cause, InternalDestination):
        return "refused: a loopback or link-local destination"
    return type(cause).__name__


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
_SET_ASIDE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.message_id == bindparam("m"), DELIVERIES.c.recipient == bindparam("r"))
    .values(push_state=bindparam("outbox_state"), next_attempt_at=bindparam("due"))
)
# A push to a suspended partner waits: it is looked at again this much later.
SUSPENDED_WAIT = timedelta(minutes=5)
_LEASE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.message_id == bindparam("m"), DELIVERIES.c.recipient == bindparam("r"))
    .values(
        push_state=SENDING,
        attempts=DELIVERIES.c.attempts + 1,
        next_attempt_at=bindparam("lease"),
        last_error=bindparam("error"),
    )
)


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
            rows, set_aside = [], list[dict[str, Any]]()
            for row in due:
                partner = partners[row.recipient]
                if not partner.active:
                    set_aside.append({"outbox_state": CANCELLED, "due": None})
                elif partner.status != "active":
                    set_aside.append({"outbox_state": row.push_state, "due": now + SUSPENDED_WAIT})
                else:
                    rows.append(row)
                    continue
                set_aside[-1].update(m=row.message_id, r=row.recipient)
            if set_aside:
                connection.execute(_SET_ASIDE, set_aside)
            if not rows:
                return []
            timeout = timedelta(seconds=self.sender.timeout)
            connection.execute(
                _LEASE,
                [
                    {
                        "m": row.message_id,
                        "r": row.recipient,
                        "lease": now + (position + 1) * timeout + LEASE_MARGIN,
                        # Claimed while ``sending``: the worker that held it stopped.
                        "error": WORKER_STOPPED if row.push_state == SENDING else row.last_error,
                    }
                    for position, row in enumerate(rows)
                ],
            )
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
        record. Outcomes are recorded every couple of seconds if the batch runs long."""
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
        with self.sessions.begin() as session:
            appender = open_log(session)
            keys = [(o.push.message_id, o.push.recipient) for o in outcomes]
            deliveries = {
                (d.message_id, d.recipient): d
                for d in session.scalars(
                    select(Delivery)
                    # hub_step reads the message's id and type only: not its sealed envelope.
                    .options(selectinload(Delivery.message).load_only(Message.id, Message.type))
                    .where(tuple_(Delivery.message_id, Delivery.recipient).in_(keys))
                    .with_for_update(of=Delivery)
                )
            }
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
                self._record_one(session, appender, delivery, outcome, tally, now)
            close_log(session, appender, now)
        return tally

    def _record_one(
        self,
        session: Session,
        appender: LogAppender,
        delivery: Delivery,
        outcome: Outcome,
        tally: Tally,
        now: datetime,
    ) -> None:
        push, answer = outcome.push, outcome.answer
        delivery.last_attempt_at = outcome.at
        delivery.last_duration_ms = answer.duration_ms
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
        if answer.ok:
            delivery.push_state, delivery.next_attempt_at, delivery.last_error = PUSHED, None, None
            first = delivery.delivered_at is None
            if first:
                delivery.delivered_at, delivery.delivered_via = outcome.at, "push"
            if delivery.state == "queued":
                delivery.state = "delivered"
            index = appender.append(action="message:delivered", **entry)
            if first:
                hub_step(
                    session,
                    delivery.message,
                    "delivered",
                    recipients=[push.recipient],
                    log_index=index,
                    now=now,
                )
            tally.pushed += 1
        elif answer.status == 410:
            # PROTOCOL §7: 410 Gone disables the webhook; the partner pulls from now on.
            delivery.push_state, delivery.next_attempt_at = CANCELLED, None
            delivery.last_error = "HTTP 410: the webhook is disabled"
            appender.append(action="message:delivery-failed", webhook_disabled=True, **entry)
            partner = session.get(Partner, push.recipient)
            if partner is not None and partner.webhook_disabled_at is None:
                partner.webhook_disabled_at = now
                session.flush()
                _cancel_pending(session, push.recipient)
                appender.append(
                    at=now,
                    actor="hub",
                    action="partner:webhook-disabled",
                    partner_id=push.recipient,
                    http_status=410,
                )
                tally.disabled.append(push.recipient)
        elif push.attempt <= len(RETRY_DELAYS):
            retry_at = outcome.at + RETRY_DELAYS[push.attempt - 1]
            delivery.push_state, delivery.next_attempt_at = PENDING, retry_at
            delivery.last_error = answer.error
            appender.append(
                action="message:delivery-failed", retry_at=format_time(retry_at), **entry
            )
            tally.retrying += 1
        else:
            delivery.push_state, delivery.next_attempt_at = DEAD, None
            delivery.last_error = answer.error
            appender.append(action="message:dead-lettered", **entry)
            tally.dead += 1


# --- the administrators' side: list, resend -----------------------------------------------------


def push_deliveries(
    session: Session, *, state: str | None, recipient: str | None, limit: int
) -> list[Delivery]:
    """Deliveries with a push (in ``state``, to ``recipient`` when given), latest attempt
    first."""
    query = select(Delivery).where(Delivery.push_state.is_not(None))
    if state is not None:
        query = query.where(Delivery.push_state == state)
    if recipient is not None:
        query = query.where(Delivery.recipient == recipient)
    order = (Delivery.last_attempt_at.desc().nulls_last(), Delivery.message_id, Delivery.recipient)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def resend(
    session: Session,
    message_id: str | None,
    *,
    recipient: str | None,
    actor: str,
    now: datetime,
) -> list[Delivery]:
    """Queue again the pushes of one message (or, with no ``message_id``, every dead-lettered
    push), to ``recipient`` only when given: the schedule starts over. Return them.

    A push still pending or being sent is left alone, and so is a recipient without a working
    webhook (it pulls) — unless it was named: then, as when nothing of a named message can be
    queued, the resend is refused.
    """
    appender = open_log(session)
    query = select(Delivery).where(Delivery.cursor.is_not(None))
    if message_id is not None:
        if session.get(Message, message_id) is None:
            raise ProblemError("not-found", f"No message {message_id}.")
        query = query.where(Delivery.message_id == message_id)
    else:
        query = query.where(Delivery.push_state == DEAD)
    if recipient is not None:
        query = query.where(Delivery.recipient == recipient)
    deliveries = [
        d
        for d in session.scalars(query.order_by(Delivery.message_id, Delivery.recipient))
        if d.push_state not in (PENDING, SENDING)
    ]
    pushed = set(
        session.scalars(
            select(Partner.id).where(
                Partner.id.in_({d.recipient for d in deliveries}), WEBHOOK_ACTIVE
            )
        )
    )
    if recipient is not None and deliveries and recipient not in pushed:
        raise ProblemError("invalid-transition", f"No working webhook for {recipient}: it pulls.")
    deliveries = [d for d in deliveries if d.recipient in pushed]
    if message_id is not None and not deliveries:
        raise ProblemError(
            "invalid-transition",
            f"Nothing to resend for {message_id}"
            + (f" to {recipient}" if recipient else "")
            + ": a push is already queued, or no recipient has a working webhook.",
        )
    for delivery in deliveries:
        appender.append(
            at=now,
            actor=actor,
            action="message:delivery-resent",
            message_id=delivery.message_id,
            type=delivery.message.type,
            envelope_sha256=delivery.message.envelope_sha256,
            recipient=delivery.recipient,
            previous_attempts=delivery.attempts,
        )
        delivery.push_state, delivery.next_attempt_at, delivery.attempts = PENDING, now, 0
    close_log(session, appender, now)
    return deliveries
