"""Evidence bundles: one JSON file that proves what happened to a message, checkable offline.

The format (``exchange-evidence/1``) and its checks live in ``keys.evidence``: a partner or
an inspector verifies a bundle with ``keys`` alone, no hub, no database, no network.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.errors import NotFound
from exchange.store.models import LogEntry, Message, PartnerKey
from exchange.transparency.checkpoints import Notary, latest_checkpoint
from exchange.transparency.tree import StoredTree
from exchange.transparency.window import sign_checkpoint
from exchange.trust.hub_keys import HubTrust
from keys import VerifyingKey, jwk_set, jws
from keys.protocol import EVIDENCE_FORMAT, HUB_PARTNER_ID


def export_evidence(
    session: Session, trust: HubTrust, notary: Notary, message_id: str, *, now: datetime
) -> dict[str, Any]:
    """The evidence bundle of one message, proved against a checkpoint covering its entries."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"No message {message_id}.")
    entries: list[tuple[int, bytes]] = list(
        session.execute(
            select(LogEntry.index, LogEntry.entry)
            .where(LogEntry.message_id == message_id)
            .order_by(LogEntry.index)
        )
    )
    acks = [
        {"recipient": d.recipient, "ack": d.ack}
        for d in sorted(message.deliveries, key=lambda d: d.recipient)
        if d.ack is not None
    ]
    # Every key the bundle relies on, proved by the log entry that registered it.
    kids = {message.signer_kid} | {str(jws.unverified_header(a["ack"])["kid"]) for a in acks}
    keys = list(session.scalars(select(PartnerKey).where(PartnerKey.kid.in_(kids))))
    key_entries = list(
        session.execute(
            select(LogEntry.index, LogEntry.entry).where(
                LogEntry.index.in_([k.log_index for k in keys if k.log_index is not None])
            )
        )
    )
    logged = sorted({(int(i), bytes(e)) for i, e in [*entries, *key_entries]})

    connection = session.connection()
    checkpoint = latest_checkpoint(connection)
    if checkpoint is None or checkpoint.tree_size <= logged[-1][0]:
        checkpoint = sign_checkpoint(session, notary, now)
    tree = StoredTree(connection)
    hub_signers = {_kid(message.receipt), _kid(checkpoint.signed)}
    if message.sender == HUB_PARTNER_ID:  # a hub notice: the hub signed the envelope too
        hub_signers.add(message.signer_kid)
    # The sealed bytes are the JCS the sender signed.
    envelope_jcs = trust.sealing.open(message.sealed_envelope, aad=message.id.encode()).decode()
    return {
        "format": EVIDENCE_FORMAT,
        "message_id": message.id,
        "envelope": json.loads(envelope_jcs),
        "envelope_jcs": envelope_jcs,
        "signature": message.signature,
        "receipt": message.receipt,
        "acks": acks,
        "log": [
            {
                "entry": entry.decode(),
                "proof": [h.hex() for h in tree.inclusion(index, checkpoint.tree_size)],
            }
            for index, entry in logged
        ],
        "checkpoint": checkpoint.signed,
        "keys": {
            # Exactly the hub keys that signed this bundle: the verifier refuses unused ones.
            "hub": {"keys": [jwk for jwk in trust.jwks()["keys"] if jwk["kid"] in hub_signers]},
            "partners": jwk_set({k.kid: VerifyingKey.from_raw(k.public_key) for k in keys}),
        },
    }


def _kid(token: str) -> str:
    return str(jws.unverified_header(token)["kid"])
