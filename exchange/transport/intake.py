"""Intake: verify → validate → route → store → log → receipt, for one message or a batch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from exchange.config import Config
from exchange.errors import ProblemError
from exchange.store.models import Message
from exchange.supervision.lifecycle import Lifecycles, lifecycle_reads
from exchange.transparency.log import format_time
from exchange.transport.review import log_release
from exchange.transport.writer import IntakeWriter, Stored, Transaction
from exchange.trust.agreements import Agreement, AgreementBook
from exchange.trust.directory import KeyLookup
from exchange.trust.hub_keys import RECEIPT_TYP, HubTrust
from keys import KeyNotValid, SignatureInvalid, UnknownKey, jws
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

MESSAGE_TYP = "exchange-message+jws"


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


class Intake:
    """Accepts signed messages from authenticated partners."""

    def __init__(
        self, writer: IntakeWriter, trust: HubTrust, agreements: AgreementBook, config: Config
    ) -> None:
        self.writer = writer
        self.lifecycles = Lifecycles()
        self.trust = trust
        self.agreements = agreements
        self.config = config

    def submit(self, partner_id: str, item: Any, *, lookup: KeyLookup, now: datetime) -> Outcome:
        """Check and store one submission; raise ``ProblemError`` on refusal."""
        checked = self.check(partner_id, item, lookup=lookup, now=now)
        result = self._store([checked], now=now)[0]
        if isinstance(result, ProblemError):
            raise result
        return result

    def submit_batch(
        self, partner_id: str, items: list[Any], *, lookup: KeyLookup, now: datetime
    ) -> list[Outcome | ProblemError]:
        """Check every item on its own, then store the good ones in one transaction."""
        results: list[Outcome | ProblemError | None] = []
        good: list[Checked] = []
        for item in items:
            try:
                good.append(self.check(partner_id, item, lookup=lookup, now=now))
                results.append(None)
            except ProblemError as refusal:
                results.append(refusal)
        stored = iter(self._store(good, now=now)) if good else iter(())
        return [next(stored) if r is None else r for r in results]

    def check(self, partner_id: str, item: Any, *, lookup: KeyLookup, now: datetime) -> Checked:
        """Everything before the write: shape, size, signature, schema, sender, route."""
        if not isinstance(item, dict):
            raise ProblemError("schema-invalid", errors={"": ["Expected a JSON object."]})
        errors: dict[str, list[str]] = {}
        for name in set(item) - {"envelope", "signature"}:
            errors[name] = ["Unknown field."]
        if not isinstance(item.get("envelope"), dict):
            errors["envelope"] = ["Missing or not an object."]
        if not isinstance(item.get("signature"), str):
            errors["signature"] = ["Missing or not a string."]
        if errors:
            raise ProblemError("schema-invalid", errors=errors)
        raw: dict[str, Any] = item["envelope"]
        signature: str = item["signature"]
        try:
            canonical = canonical_bytes(raw)
        except MessageInvalid as invalid:
            raise ProblemError("schema-invalid", errors=invalid.errors) from None
        if len(canonical) > self.config.max_message_bytes:
            raise ProblemError("payload-too-large", "A message may not exceed 1 MiB.")

        # Nothing of the envelope is trusted before its signature is.
        try:
            header = jws.verify_detached(signature, canonical, lookup, typ=MESSAGE_TYP)
        except UnknownKey:
            raise ProblemError(
                "unknown-key", "The message's kid is not a registered key."
            ) from None
        except KeyNotValid:
            raise ProblemError(
                "key-not-valid", "The message's key is revoked or not valid now."
            ) from None
        except SignatureInvalid:
            raise ProblemError(
                "signature-invalid", "The JWS does not verify over JCS(envelope)."
            ) from None
        kid = str(header["kid"])

        try:
            envelope = validate_envelope(raw)
        except ClassifiedContent as classified:
            raise ProblemError(
                "classified-content-refused",
                f"A state-secret marker was found at {classified.path}; "
                "the hub carries non-classified data only.",
            ) from None
        except MessageInvalid as invalid:
            raise ProblemError("schema-invalid", errors=invalid.errors) from None

        if envelope.sender != partner_of(kid) or envelope.sender != partner_id:
            raise ProblemError(
                "sender-mismatch",
                "`from` must be the partner of the signing key and of the request.",
            )
        agreement = self._route(lookup, envelope)
        sealed = self.trust.sealing.seal(canonical, aad=envelope.id.encode())
        digest = hashlib.sha256(canonical).hexdigest()
        pushed = frozenset(lookup.pushed_partners(envelope.recipients))
        return Checked(envelope, canonical, digest, signature, kid, agreement, sealed, pushed)

    def _route(self, lookup: KeyLookup, envelope: Envelope) -> Agreement:
        agreement = self.agreements.for_route(
            envelope.type, body_of(envelope.sender), {body_of(r) for r in envelope.recipients}
        )
        missing = sorted(set(envelope.recipients) - lookup.active_partners(envelope.recipients))
        if missing:
            raise ProblemError("route-not-allowed", f"Not an active partner: {', '.join(missing)}.")
        if agreement.reply_to is not None:
            self._check_reply(lookup.session, envelope, agreement.reply_to)
        return agreement

    @staticmethod
    def _check_reply(session: Session, envelope: Envelope, answered_type: str) -> None:
        # A feedback goes from a recipient of the original back to its sender only.
        original = session.get(Message, envelope.in_reply_to) if envelope.in_reply_to else None
        if original is None or original.type != answered_type or original.status != "released":
            raise ProblemError(
                "route-not-allowed",
                f"A {envelope.type} must answer a released {answered_type} (in_reply_to).",
            )
        recipients = {d.recipient for d in original.deliveries}
        if envelope.sender not in recipients or envelope.recipients != (original.sender,):
            raise ProblemError(
                "route-not-allowed",
                "A reply goes from a recipient of the original to its sender only.",
            )

    def _store(self, batch: list[Checked], *, now: datetime) -> list[Outcome | ProblemError]:
        results: list[Outcome | ProblemError] = []
        reads = lifecycle_reads(c.envelope for c in batch)
        with self.writer.transaction({c.envelope.id for c in batch}, now, reads) as tx:
            for checked in batch:
                prior = tx.known.get(checked.envelope.id)
                if prior is None:
                    # Under the lock: the business key's state cannot change meanwhile.
                    try:
                        self.lifecycles.check(tx.lifecycle, checked.envelope)
                    except ProblemError as refusal:
                        results.append(refusal)
                        continue
                    outcome = store_message(
                        tx, checked, trust=self.trust, lifecycles=self.lifecycles, now=now
                    )
                    tx.known[outcome.id] = Stored(
                        checked.digest, outcome.status, outcome.receipt, outcome.log_index
                    )
                    results.append(outcome)
                elif prior.envelope_sha256 == checked.digest:
                    results.append(
                        Outcome(
                            checked.envelope.id,
                            prior.status,
                            prior.receipt,
                            prior.log_index,
                            created=False,
                        )
                    )
                else:
                    results.append(
                        ProblemError(
                            "duplicate-conflict",
                            "This message id is already stored with a different digest.",
                        )
                    )
        return results


def store_message(
    tx: Transaction, checked: Checked, *, trust: HubTrust, lifecycles: Lifecycles, now: datetime
) -> Outcome:
    """Build the rows of one new message: message, deliveries, person refs, log entries,
    and its lifecycle step (intake's messages, and the hub's own notices)."""
    rows, log = tx.rows, tx.log
    envelope = checked.envelope
    status = "pending_review" if checked.agreement.reviewers else "released"
    log_index = log.append(
        at=now,
        actor=envelope.sender,
        action="message:received",
        message_id=envelope.id,
        type=envelope.type,
        envelope_sha256=checked.digest,
        kid=checked.kid,
        **lifecycles.entry_fields(tx.lifecycle, envelope),
    )
    cursor = None
    if status == "released":
        cursor = log_release(log, envelope.id, envelope.type, checked.digest, actor="hub", now=now)
    lifecycles.apply(tx.lifecycle, envelope, status=status, received_index=log_index, now=now)
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
    rows.messages.append(
        {
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
    )
    # The outbox rows of the transactional outbox (exchange.transport.outbox): a released message's
    # deliveries to partners with a webhook are due at once; a held one's at its release.
    pushed = checked.pushed if cursor is not None else frozenset()
    rows.deliveries.extend(
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
    )
    rows.persons.extend(
        {
            "message_id": envelope.id,
            "json_path": path,
            "masked": mask_id_number(number),
            "id_hmac": trust.person_hmac(number),
        }
        for path, number in id_numbers(envelope)
    )
    return Outcome(envelope.id, status, receipt, log_index, created=True)


def open_envelope(trust: HubTrust, message: Message) -> dict[str, Any]:
    """The stored envelope, unsealed (its bytes are the JCS the sender signed)."""
    envelope: dict[str, Any] = json.loads(
        trust.sealing.open(message.sealed_envelope, aad=message.id.encode())
    )
    return envelope
