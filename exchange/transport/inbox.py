"""Pull delivery: a recipient's inbox in release order, and signed acknowledgements."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from exchange.errors import ExchangeError, NotFound, SchemaInvalid, SignatureInvalid
from exchange.store.models import Delivery
from exchange.store.plans import read_in_index_order
from exchange.supervision.hub_events import HubStep, apply_hub_steps
from exchange.supervision.states import HubEvent
from exchange.transparency.window import LogWindow, session_window
from exchange.transport.release import DELIVERIES
from exchange.trust.directory import KeyLookup
from exchange.trust.envelopes import open_envelope
from exchange.trust.hub_keys import HubTrust
from keys import KeysError, jws
from keys.protocol import ACK_TYP, LogAction
from schemas import MESSAGE_ID_RE


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
    query = inbox_query(recipient, after=after, limit=limit, unacked=unacked)
    read_in_index_order(session)
    deliveries = list(session.scalars(query))
    first_pulls = [d for d in deliveries if d.delivered_at is None]
    if first_pulls:
        # The log lock only when a pull changes something: most pages are read again.
        with session_window(session, now) as window:
            steps = []
            for delivery in first_pulls:
                window.changes.update(
                    DELIVERIES,
                    {
                        "message_id": delivery.message_id,
                        "recipient": recipient,
                        "delivered_at": now,
                        "delivered_via": "pull",
                        "state": "delivered",
                    },
                )
                pulled = window.log.append(
                    at=now,
                    actor=recipient,
                    action=LogAction.MESSAGE_PULLED,
                    message_id=delivery.message_id,
                    type=delivery.message.type,
                    envelope_sha256=delivery.message.envelope_sha256,
                )
                steps.append(
                    HubStep(
                        delivery.message_id,
                        delivery.message.type,
                        HubEvent.DELIVERED,
                        (recipient,),
                        pulled,
                    )
                )
            apply_hub_steps(window.transaction, window.changes, steps, now=now)
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


def inbox_query(recipient: str, *, after: int | None, limit: int, unacked: bool) -> Select[Any]:
    """The deliveries of one inbox page, in cursor order (the messages load by primary key
    in a second query: a join could become a hash join over every message without
    statistics).
    """
    query = (
        select(Delivery)
        .options(selectinload(Delivery.message))
        .where(Delivery.recipient == recipient, Delivery.cursor.is_not(None))
        .order_by(Delivery.cursor)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Delivery.cursor > after)
    if unacked:
        query = query.where(Delivery.acked_at.is_(None))
    return query


@dataclass(frozen=True)
class AckResult:
    """One ack's outcome: acked, or the refusal (the others go on)."""

    id: str | None
    refusal: ExchangeError | None = None


def acknowledge(
    session: Session, recipient: str, acks: list[Any], *, now: datetime
) -> list[AckResult]:
    """Verify and keep each signed ack; acking twice is harmless (the first ack is kept)."""
    resolve = KeyLookup(session, now, partner_id=recipient)
    results: list[AckResult] = []
    with session_window(session, now) as window:
        acked: set[str] = set()
        steps: list[HubStep] = []
        for item in acks:
            message_id = item.get("id") if isinstance(item, dict) else None
            try:
                step = _ack_one(session, window, resolve, recipient, item, acked, now)
            except ExchangeError as refusal:
                results.append(AckResult(message_id, refusal))
                continue
            if step is not None:
                steps.append(step)
            results.append(AckResult(item["id"]))
        apply_hub_steps(window.transaction, window.changes, steps, now=now)
    return results


def _ack_one(
    session: Session,
    window: LogWindow,
    resolve: KeyLookup,
    recipient: str,
    item: Any,
    acked: set[str],
    now: datetime,
) -> HubStep | None:
    if not (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and isinstance(item.get("ack"), str)
        and set(item) == {"id", "ack"}
    ):
        raise SchemaInvalid(errors={"": ['Expected {"id", "ack"}.']})
    if MESSAGE_ID_RE.match(item["id"]) is None:
        raise SchemaInvalid(errors={"id": ["Not a valid message id."]})
    delivery = session.scalars(
        select(Delivery).where(
            Delivery.message_id == item["id"],
            Delivery.recipient == recipient,
            Delivery.cursor.is_not(None),
        )
    ).one_or_none()
    if delivery is None:
        raise NotFound("No released message with this id for you.")
    message = delivery.message
    try:
        _header, payload = jws.verify_compact(item["ack"], resolve, typ=ACK_TYP)
        claims = json.loads(payload)
    except (KeysError, ValueError):
        raise SignatureInvalid("The ack does not verify with your key.") from None
    if (
        not isinstance(claims, dict)
        or claims.get("id") != message.id
        or claims.get("envelope_sha256") != message.envelope_sha256
        or not isinstance(claims.get("acked_at"), str)
    ):
        raise SignatureInvalid("The ack must sign this message's id and envelope_sha256.")
    if delivery.acked_at is not None or message.id in acked:
        return None
    acked.add(message.id)
    ack_sha256 = hashlib.sha256(item["ack"].encode()).hexdigest()
    window.changes.update(
        DELIVERIES,
        {
            "message_id": message.id,
            "recipient": recipient,
            "ack": item["ack"],
            "ack_sha256": ack_sha256,
            "acked_at": now,
            "state": "acked",
            "delivered_at": delivery.delivered_at or now,
        },
    )
    index = window.log.append(
        at=now,
        actor=recipient,
        action=LogAction.MESSAGE_ACKED,
        message_id=message.id,
        type=message.type,
        envelope_sha256=message.envelope_sha256,
        ack_sha256=ack_sha256,
    )
    return HubStep(message.id, message.type, HubEvent.ACKED, (recipient,), index)
