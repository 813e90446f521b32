"""Pull delivery: a recipient's inbox in release order, and signed acknowledgements."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from exchange.errors import ProblemError
from exchange.store.models import Delivery, Message
from exchange.supervision.lifecycle import hub_step
from exchange.transparency.log import LogAppender, close_log, open_log
from exchange.transport.intake import open_envelope
from exchange.trust.directory import KeyLookup
from exchange.trust.hub_keys import HubTrust
from keys import KeysError, jws
from schemas import MESSAGE_ID_RE

ACK_TYP = "exchange-ack+jws"


def pull(
    session: Session,
    trust: HubTrust,
    recipient: str,
    *,
    after: int | None,
    limit: int,
    unacked: bool,
    now: datetime,
) -> tuple[list[dict[str, Any]], int | None]:
    """Released messages for ``recipient`` after the cursor; first pulls are logged."""
    query = (
        select(Delivery)
        .options(joinedload(Delivery.message))
        .where(Delivery.recipient == recipient, Delivery.cursor.is_not(None))
        .order_by(Delivery.cursor)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Delivery.cursor > after)
    if unacked:
        query = query.where(Delivery.acked_at.is_(None))
    deliveries = list(session.scalars(query))
    first_pulls = [d for d in deliveries if d.delivered_at is None]
    if first_pulls:
        log = open_log(session)
        for delivery in first_pulls:
            delivery.delivered_at = now
            delivery.delivered_via = "pull"
            delivery.state = "delivered"
            pulled = log.append(
                at=now,
                actor=recipient,
                action="message:pulled",
                message_id=delivery.message_id,
                type=delivery.message.type,
                envelope_sha256=delivery.message.envelope_sha256,
            )
            hub_step(
                session,
                delivery.message,
                "delivered",
                recipients=[recipient],
                log_index=pulled,
                now=now,
            )
        close_log(session, log, now)
    items = [
        {
            "cursor": str(d.cursor),
            "envelope": open_envelope(trust, d.message),
            "signature": d.message.signature,
            "receipt": d.message.receipt,
            "acked": d.acked_at is not None,
        }
        for d in deliveries
    ]
    next_cursor = deliveries[-1].cursor if len(deliveries) == limit else None
    return items, next_cursor


def acknowledge(
    session: Session, recipient: str, acks: list[Any], *, now: datetime
) -> list[dict[str, Any]]:
    """Verify and keep each signed ack; acking twice is harmless (the first ack is kept)."""
    resolve = KeyLookup(session, now, partner_id=recipient)
    results: list[dict[str, Any]] = []
    log = open_log(session)
    for item in acks:
        message_id = item.get("id") if isinstance(item, dict) else None
        try:
            results.append(_ack_one(session, log, resolve, recipient, item, now))
        except ProblemError as refusal:
            results.append({"id": message_id, "error": refusal.to_problem()})
    close_log(session, log, now)
    return results


def _ack_one(
    session: Session, log: LogAppender, resolve: KeyLookup, recipient: str, item: Any, now: datetime
) -> dict[str, Any]:
    if not (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and isinstance(item.get("ack"), str)
        and set(item) == {"id", "ack"}
    ):
        raise ProblemError("schema-invalid", errors={"": ['Expected {"id", "ack"}.']})
    if MESSAGE_ID_RE.match(item["id"]) is None:
        raise ProblemError("schema-invalid", errors={"id": ["Not a valid message id."]})
    delivery = session.scalars(
        select(Delivery).where(
            Delivery.message_id == item["id"],
            Delivery.recipient == recipient,
            Delivery.cursor.is_not(None),
        )
    ).one_or_none()
    if delivery is None:
        raise ProblemError("not-found", "No released message with this id for you.")
    message: Message = delivery.message
    try:
        _header, payload = jws.verify_compact(item["ack"], resolve, typ=ACK_TYP)
        claims = json.loads(payload)
    except (KeysError, ValueError):
        raise ProblemError("signature-invalid", "The ack does not verify with your key.") from None
    if (
        not isinstance(claims, dict)
        or claims.get("id") != message.id
        or claims.get("envelope_sha256") != message.envelope_sha256
        or not isinstance(claims.get("acked_at"), str)
    ):
        raise ProblemError(
            "signature-invalid", "The ack must sign this message's id and envelope_sha256."
        )
    if delivery.acked_at is None:
        ack_sha256 = hashlib.sha256(item["ack"].encode()).hexdigest()
        delivery.ack = item["ack"]
        delivery.ack_sha256 = ack_sha256
        delivery.acked_at = now
        delivery.state = "acked"
        delivery.delivered_at = delivery.delivered_at or now
        acked = log.append(
            at=now,
            actor=recipient,
            action="message:acked",
            message_id=message.id,
            type=message.type,
            envelope_sha256=message.envelope_sha256,
            ack_sha256=ack_sha256,
        )
        hub_step(session, message, "acked", recipients=[recipient], log_index=acked, now=now)
    return {"id": message.id, "status": "acked"}
