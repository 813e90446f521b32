"""Intake: verify → validate → route → store → log → receipt, for one message or a batch.

Everything that needs no write is checked first (``check``); the good ones are then stored in
one log window: the lock, the log's head, the ids already stored and every read-model row the
batch concerns in one round trip; the lifecycle checks and steps under the lock; the rows,
entries and receipts flushed with the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from exchange.config import Config
from exchange.errors import (
    ClassifiedContentRefused,
    DuplicateConflict,
    ExchangeError,
    KeyNotAccepted,
    PayloadTooLarge,
    RouteNotAllowed,
    SchemaInvalid,
    SenderMismatch,
    SignatureInvalid,
    UnregisteredKey,
)
from exchange.metrics import observe_group
from exchange.store.models import Delivery, Message, PersonRef
from exchange.store.rows import DeliveryRow, MessageRow, PersonRefRow
from exchange.store.writer import Store, among
from exchange.supervision import lifecycles
from exchange.supervision.lifecycles import Lifecycle, LifecycleState, Step, lifecycle_of
from exchange.transparency.checkpoints import Notary
from exchange.transparency.log import format_time
from exchange.transparency.window import LogWindow, log_window
from exchange.transport.group_commit import GroupCommit
from exchange.transport.release import log_release
from exchange.trust.agreements import Agreement, AgreementBook
from exchange.trust.directory import KeyLookup
from exchange.trust.hub_keys import HubTrust
from keys import KeyNotValid, UnknownKey, jws
from keys import SignatureInvalid as JwsInvalid
from keys.protocol import MESSAGE_TYP, RECEIPT_TYP, LogAction
from schemas import (
    ClassifiedContent,
    Envelope,
    MessageInvalid,
    body_of,
    canonical_bytes,
    id_numbers,
    mask_id_number,
    partner_of,
    validate_envelope,
)

MESSAGES = cast(Table, Message.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
PERSON_REFS = cast(Table, PersonRef.__table__)


@dataclass(frozen=True)
class Checked:
    """A submission that passed every check that needs no write."""

    envelope: Envelope
    canonical: bytes
    digest: str
    signature: str
    kid: str
    agreement: Agreement
    sealed: bytes
    # The recipients whose deliveries go to the outbox (a webhook set): pushed once released.
    pushed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Outcome:
    """The hub's answer to one accepted submission (``created`` is false on a resubmission)."""

    id: str
    status: str
    receipt: str
    log_index: int
    created: bool

    def as_json(self) -> dict[str, Any]:
        """The response body of PROTOCOL §5."""
        return {"status": self.status, "receipt": self.receipt, "log_index": self.log_index}


@cache
def _known(dialect: str) -> Select[Any]:
    """What is already stored under a batch's ids: digest and the answer it was given."""
    return select(
        MESSAGES.c.id,
        MESSAGES.c.envelope_sha256,
        MESSAGES.c.receipt_status,
        MESSAGES.c.receipt,
        MESSAGES.c.log_index,
    ).where(among(MESSAGES.c.id, "ids", dialect))


class Intake:
    """Accepts signed messages from authenticated partners."""

    def __init__(
        self,
        store: Store,
        notary: Notary | None,
        trust: HubTrust,
        agreements: AgreementBook,
        config: Config,
    ) -> None:
        self.store = store
        self.notary = notary
        self.trust = trust
        self.agreements = agreements
        self.config = config
        # Concurrent single submissions of this process are stored in groups (group_commit).
        self._groups: GroupCommit[Checked, Outcome | ExchangeError] = GroupCommit(
            self._store_group, limit=config.max_batch_items
        )

    @property
    def queued(self) -> int:
        """Single submissions checked and waiting for their group's commit."""
        return self._groups.queued

    def submit(self, partner_id: str, item: Any, *, lookup: KeyLookup, now: datetime) -> Outcome:
        """Check and store one submission; raise ``ExchangeError`` on refusal.

        The answer comes once the group it was stored with has committed.
        """
        checked = self.check(partner_id, item, lookup=lookup, now=now, trust=self.trust)
        if isinstance(checked, Outcome):
            return checked
        # The read session's connection goes back to the pool before the wait: a request
        # waiting for its group holds none, so the group's writer always finds one (on
        # PostgreSQL reads and writes share one pool; 15 waiting requests would empty it).
        lookup.session.close()
        result = self._groups.commit(checked, now)
        if isinstance(result, ExchangeError):
            raise result
        return result

    def submit_batch(
        self, partner_id: str, items: list[Any], *, lookup: KeyLookup, now: datetime
    ) -> list[Outcome | ExchangeError]:
        """Check every item on its own, then store the good ones in one transaction."""
        results: list[Outcome | ExchangeError | None] = []
        good: list[Checked] = []
        trust = self.trust.pinned()
        for item in items:
            try:
                checked = self.check(partner_id, item, lookup=lookup, now=now, trust=trust)
            except ExchangeError as refusal:
                results.append(refusal)
                continue
            if isinstance(checked, Outcome):
                results.append(checked)
            else:
                good.append(checked)
                results.append(None)
        lookup.session.close()  # as in submit: no read connection held while it writes
        stored = iter(self._store(good, now=now)) if good else iter(())
        return [next(stored) if r is None else r for r in results]

    def check(
        self, partner_id: str, item: Any, *, lookup: KeyLookup, now: datetime, trust: HubTrust
    ) -> Checked | Outcome:
        """Everything before the write: shape, size, signature, schema, sender, route.

        A message already stored as it is now sent (a client's retry) is answered with the
        outcome it was given, even if its route is no longer open.
        """
        raw, signature = _submission(item)
        try:
            canonical = canonical_bytes(raw)
        except MessageInvalid as invalid:
            raise SchemaInvalid(errors=invalid.errors) from None
        if len(canonical) > self.config.max_message_bytes:
            raise PayloadTooLarge("A message may not exceed 1 MiB.")
        # Nothing of the envelope is trusted before its signature is.
        kid = _verified_kid(signature, canonical, lookup)
        envelope = _validated(raw)
        if envelope.sender != partner_of(kid) or envelope.sender != partner_id:
            raise SenderMismatch(
                "`from` must be the partner of the signing key and of the request.",
            )
        digest = hashlib.sha256(canonical).hexdigest()
        try:
            agreement = self._route(lookup, envelope)
        except RouteNotAllowed:
            prior = _stored_as(lookup.session, envelope.id, digest)
            if prior is None:
                raise
            return prior
        sealed = trust.sealing.seal(canonical, aad=envelope.id.encode())
        pushed = frozenset(lookup.pushed_partners(envelope.recipients))
        return Checked(envelope, canonical, digest, signature, kid, agreement, sealed, pushed)

    def _route(self, lookup: KeyLookup, envelope: Envelope) -> Agreement:
        agreement = self.agreements.for_route(
            envelope.type, body_of(envelope.sender), {body_of(r) for r in envelope.recipients}
        )
        missing = sorted(set(envelope.recipients) - lookup.active_partners(envelope.recipients))
        if missing:
            raise RouteNotAllowed(f"Not an active partner: {', '.join(missing)}.")
        if agreement.reply_to is not None:
            self._check_reply(lookup.session, envelope, agreement.reply_to)
        return agreement

    @staticmethod
    def _check_reply(session: Session, envelope: Envelope, answered_type: str) -> None:
        # A feedback goes from a recipient of the original back to its sender only.
        original = session.get(Message, envelope.in_reply_to) if envelope.in_reply_to else None
        if original is None or original.type != answered_type or original.status != "released":
            raise RouteNotAllowed(
                f"A {envelope.type} must answer a released {answered_type} (in_reply_to).",
            )
        recipients = {d.recipient for d in original.deliveries}
        if envelope.sender not in recipients or envelope.recipients != (original.sender,):
            raise RouteNotAllowed(
                "A reply goes from a recipient of the original to its sender only.",
            )

    def _store_group(
        self, group: Sequence[Checked], now: datetime
    ) -> list[Outcome | ExchangeError]:
        observe_group(len(group))
        return self._store(group, now=now)

    def _store(self, batch: Sequence[Checked], *, now: datetime) -> list[Outcome | ExchangeError]:
        dialect = self.store.dialect
        concerned = lifecycles.reads((c.envelope for c in batch), dialect)
        known_read = (_known(dialect), {"ids": sorted({c.envelope.id for c in batch})})
        results: list[Outcome | ExchangeError] = []
        trust = self.trust.pinned()
        with (
            self.store.transaction() as tx,
            log_window(tx, now, self.notary, [known_read, *(r for _, r in concerned)]) as window,
        ):
            known = {row["id"]: row for row in window.reads[0]}
            state = lifecycles.load([m for m, _ in concerned], window.reads[1:], now=now)
            for checked in batch:
                results.append(self._store_one(window, state, known, checked, trust, now))
            window.changes.merge(state.changes)
        return results

    def _store_one(
        self,
        window: LogWindow,
        state: LifecycleState,
        known: dict[str, dict[str, Any]],
        checked: Checked,
        trust: HubTrust,
        now: datetime,
    ) -> Outcome | ExchangeError:
        prior = known.get(checked.envelope.id)
        if prior is not None:
            if prior["envelope_sha256"] != checked.digest:
                return DuplicateConflict(
                    "This message id is already stored with a different digest."
                )
            return Outcome(
                checked.envelope.id,
                prior["receipt_status"],
                prior["receipt"],
                prior["log_index"],
                created=False,
            )
        # Under the lock: the business key's state cannot change meanwhile.
        lifecycle = lifecycle_of(checked.envelope.type)
        try:
            lifecycle.check(state, checked.envelope)
        except ExchangeError as refusal:
            return refusal
        outcome = store_message(window, state, lifecycle, checked, trust=trust, now=now)
        known[outcome.id] = {
            "envelope_sha256": checked.digest,
            "receipt_status": outcome.status,
            "receipt": outcome.receipt,
            "log_index": outcome.log_index,
        }
        return outcome


def _stored_as(session: Session, message_id: str, digest: str) -> Outcome | None:
    """The outcome a message with this id and digest was given when it was stored, if it was."""
    row = session.execute(
        select(
            MESSAGES.c.envelope_sha256,
            MESSAGES.c.receipt_status,
            MESSAGES.c.receipt,
            MESSAGES.c.log_index,
        ).where(MESSAGES.c.id == message_id)
    ).first()
    if row is None or row.envelope_sha256 != digest:
        return None
    return Outcome(message_id, row.receipt_status, row.receipt, row.log_index, created=False)


def _submission(item: Any) -> tuple[dict[str, Any], str]:
    """``{"envelope": {...}, "signature": "..."}`` and nothing else; its two parts."""
    if not isinstance(item, dict):
        raise SchemaInvalid(errors={"": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {
        name: ["Unknown field."] for name in set(item) - {"envelope", "signature"}
    }
    if not isinstance(item.get("envelope"), dict):
        errors["envelope"] = ["Missing or not an object."]
    if not isinstance(item.get("signature"), str):
        errors["signature"] = ["Missing or not a string."]
    if errors:
        raise SchemaInvalid(errors=errors)
    return item["envelope"], item["signature"]


def _verified_kid(signature: str, canonical: bytes, lookup: KeyLookup) -> str:
    """The kid of the detached JWS over the envelope's JCS bytes, once it verifies."""
    try:
        header = jws.verify_detached(signature, canonical, lookup, typ=MESSAGE_TYP)
    except UnknownKey:
        raise UnregisteredKey("The message's kid is not a registered key.") from None
    except KeyNotValid:
        raise KeyNotAccepted("The message's key is revoked or not valid now.") from None
    except JwsInvalid:
        raise SignatureInvalid("The JWS does not verify over JCS(envelope).") from None
    return str(header["kid"])


def _validated(raw: dict[str, Any]) -> Envelope:
    """The envelope and payload against their schemas; state-secret markers first."""
    try:
        return validate_envelope(raw)
    except ClassifiedContent as classified:
        raise ClassifiedContentRefused(
            f"A state-secret marker was found at {classified.path}; "
            "the hub carries non-classified data only.",
        ) from None
    except MessageInvalid as invalid:
        raise SchemaInvalid(errors=invalid.errors) from None


def store_message(
    window: LogWindow,
    state: LifecycleState,
    lifecycle: Lifecycle,
    checked: Checked,
    *,
    trust: HubTrust,
    now: datetime,
) -> Outcome:
    """Write one new message into the window: its row, deliveries, person refs, log entries,
    signed receipt and lifecycle step (intake's messages, and the hub's own notices).
    """
    envelope, log = checked.envelope, window.log
    status = "pending_review" if checked.agreement.reviewers else "released"
    log_index = log.append(
        at=now,
        actor=envelope.sender,
        action=LogAction.MESSAGE_RECEIVED,
        message_id=envelope.id,
        type=envelope.type,
        envelope_sha256=checked.digest,
        kid=checked.kid,
        **lifecycle.entry_fields(state, envelope),
    )
    cursor = None
    if status == "released":
        cursor = log_release(log, envelope.id, envelope.type, checked.digest, actor="hub", now=now)
    lifecycle.apply(state, envelope, Step(status, log_index, now))
    receipt = trust.sign_compact(
        canonical_bytes(
            {
                "id": envelope.id,
                "type": envelope.type,
                "from": envelope.sender,
                "to": list(envelope.recipients),
                "envelope_sha256": checked.digest,
                "received_at": format_time(now),
                "status": status,
                "log_index": log_index,
            }
        ),
        RECEIPT_TYP,
    )
    message: MessageRow = {
        "id": envelope.id,
        "type": envelope.type,
        "sender": envelope.sender,
        "subject": envelope.subject,
        "in_reply_to": envelope.in_reply_to,
        "classification": envelope.classification,
        "sent_at": envelope.sent_at,
        "received_at": now,
        "released_at": now if cursor is not None else None,
        "envelope_sha256": checked.digest,
        "sealed_envelope": checked.sealed,
        "signature": checked.signature,
        "signer_kid": checked.kid,
        "status": status,
        "required_approvals": checked.agreement.reviewers,
        "receipt": receipt,
        "receipt_status": status,
        "log_index": log_index,
        "size_bytes": len(checked.canonical),
    }
    # The outbox rows of the transactional outbox (transport.outbox): a released message's
    # deliveries to partners with a webhook are due at once; a held one's at its release.
    pushed = checked.pushed if cursor is not None else frozenset()
    deliveries: list[DeliveryRow] = [
        {
            "message_id": envelope.id,
            "recipient": recipient,
            "state": "queued" if cursor is not None else "held",
            "cursor": cursor,
            "attempts": 0,
            "push_state": "pending" if recipient in pushed else None,
            "next_attempt_at": now if recipient in pushed else None,
        }
        for recipient in envelope.recipients
    ]
    persons: list[PersonRefRow] = [
        {
            "message_id": envelope.id,
            "json_path": path,
            "masked": mask_id_number(number),
            "id_hmac": trust.person_hmac(number),
        }
        for path, number in id_numbers(envelope)
    ]
    window.changes.insert_rows({MESSAGES: [message], DELIVERIES: deliveries, PERSON_REFS: persons})
    return Outcome(envelope.id, status, receipt, log_index, created=True)
