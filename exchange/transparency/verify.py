"""``exchange log verify``: recompute the whole log and every message digest from the store.

Catches what an operator or a database administrator could do behind the hub's back: an
entry edited, deleted or moved, a sealed payload changed, a digest swapped, a checkpoint
forged, the log cut short. The first failure is reported with the log index it concerns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import Message, PartnerKey
from exchange.transparency.checkpoints import CHECKPOINTS
from exchange.transparency.tree import ENTRIES
from exchange.trust.hub_keys import HubTrust
from keys import KeysError, VerifyingKey, jwks_resolver, jws, static_resolver
from keys.merkle import CompactTree, leaf_hash
from keys.protocol import CHECKPOINT_TYP, HUB_PARTNER_ID, MESSAGE_TYP, RECEIPT_TYP, LogAction

_CHUNK = 2000


class IntegrityFailure(Exception):
    """The store fails a check; ``index`` is the first log index it concerns."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"log index {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(frozen=True)
class IntegrityReport:
    """What a clean run checked."""

    entries: int
    checkpoints: int
    messages: int
    root_hash: str


def verify_store(
    session: Session, trust: HubTrust, *, progress: Callable[[int], None] | None = None
) -> IntegrityReport:
    """Check every entry, every checkpoint and every message; raise ``IntegrityFailure``."""
    connection = session.connection()
    checkpoints = list(connection.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.tree_size)))
    hub_keys = jwks_resolver(trust.jwks())
    tree = CompactTree()
    received: dict[str, tuple[int, str]] = {}
    pending = iter(checkpoints)
    due = next(pending, None)
    verified_size = 0
    while True:
        rows = list(
            connection.execute(
                select(
                    ENTRIES.c.idx,
                    ENTRIES.c.entry,
                    ENTRIES.c.leaf_hash,
                    ENTRIES.c.nodes,
                    ENTRIES.c.actor,
                    ENTRIES.c.action,
                    ENTRIES.c.message_id,
                    ENTRIES.c.at,
                )
                .where(ENTRIES.c.idx >= tree.size)
                .order_by(ENTRIES.c.idx)
                .limit(_CHUNK)
            )
        )
        for index, entry_bytes, stored_leaf, stored_nodes, *clear in rows:
            entry = _check_entry(tree, index, entry_bytes, stored_leaf, stored_nodes, received)
            _check_clear_columns(index, entry, *clear)
            while due is not None and due.tree_size == tree.size:
                _check_checkpoint(due, tree, hub_keys, verified_size)
                verified_size = tree.size
                due = next(pending, None)
        if progress is not None and rows:
            progress(len(rows))
        if len(rows) < _CHUNK:
            break
    if due is not None:
        raise IntegrityFailure(
            tree.size,
            f"a checkpoint covers {due.tree_size} entries but the log has {tree.size}: "
            "entries from here on were removed",
        )
    messages = _check_messages(session, trust, received, tree.size)
    return IntegrityReport(tree.size, len(checkpoints), messages, tree.root().hex())


def _check_entry(
    tree: CompactTree,
    index: int,
    entry_bytes: bytes,
    stored_leaf: bytes,
    stored_nodes: bytes,
    received: dict[str, tuple[int, str]],
) -> dict[str, Any]:
    expected = tree.size
    if index != expected:
        raise IntegrityFailure(expected, f"entry missing (the next stored index is {index})")
    try:
        entry = json.loads(entry_bytes)
    except ValueError:
        raise IntegrityFailure(index, "entry is not JSON") from None
    if not isinstance(entry, dict) or entry.get("index") != index:
        raise IntegrityFailure(index, "entry names another index (moved or replaced)")
    leaf = leaf_hash(bytes(entry_bytes))
    if not hmac.compare_digest(leaf, bytes(stored_leaf)):
        raise IntegrityFailure(index, "entry bytes do not match the stored leaf hash")
    if b"".join(tree.append(leaf)) != bytes(stored_nodes):
        raise IntegrityFailure(index, "stored interior hashes do not match the entries")
    if entry.get("action") == LogAction.MESSAGE_RECEIVED:
        received[str(entry.get("message_id"))] = (index, str(entry.get("envelope_sha256")))
    return entry


def _check_clear_columns(
    index: int, entry: dict[str, Any], actor: str, action: str, message_id: str | None, at: Any
) -> None:
    """The columns the hub queries by (who, what, which message, when) must say what the
    entry's bytes say: a DBA who edits only them changes what partners are shown.
    """
    try:
        logged_at = datetime.fromisoformat(str(entry.get("at")).replace("Z", "+00:00"))
    except ValueError:
        raise IntegrityFailure(index, "entry's time is not RFC 3339") from None
    for column, stored, logged in (
        ("actor", actor, entry.get("actor")),
        ("action", action, entry.get("action")),
        ("message_id", message_id, entry.get("message_id")),
        ("at", at, logged_at),
    ):
        if stored != logged:
            raise IntegrityFailure(index, f"the row's {column} column does not match the entry")


def _check_checkpoint(checkpoint: Any, tree: CompactTree, hub_keys: Any, since: int) -> None:
    size = checkpoint.tree_size
    try:
        _, payload = jws.verify_compact(checkpoint.signed, hub_keys, typ=CHECKPOINT_TYP)
        claims = json.loads(payload)
    except (KeysError, ValueError):
        raise IntegrityFailure(size - 1, f"checkpoint {size} is not signed by the hub") from None
    root = tree.root()
    if (
        claims.get("tree_size") != size
        or claims.get("root_hash") != root.hex()
        or bytes(checkpoint.root_hash) != root
    ):
        raise IntegrityFailure(
            since,
            f"checkpoint {size} does not match the entries: one of entries {since}..{size - 1} "
            "was altered",
        )


def _check_messages(
    session: Session, trust: HubTrust, received: dict[str, tuple[int, str]], size: int
) -> int:
    keys = {k.kid: VerifyingKey.from_raw(k.public_key) for k in session.scalars(select(PartnerKey))}
    # The hub's own notices are signed by a hub key, and only they may be.
    hub_signers = {k.kid: k.signing_key.public_key for k in trust.hub_keys}
    hub_keys = jwks_resolver(trust.jwks())
    count = 0
    for message in session.scalars(select(Message).order_by(Message.log_index)).yield_per(500):
        index = message.log_index
        logged = received.get(message.id)
        if logged is None or logged[0] != index:
            raise IntegrityFailure(
                index if 0 <= index < size else size,
                f"message {message.id} has no received entry at its log index",
            )
        try:
            plain = trust.sealing.open(message.sealed_envelope, aad=message.id.encode())
        except KeysError:
            raise IntegrityFailure(
                index, f"message {message.id}: sealed envelope altered"
            ) from None
        digest = hashlib.sha256(plain).hexdigest()
        if digest != message.envelope_sha256 or digest != logged[1]:
            raise IntegrityFailure(index, f"message {message.id}: digest does not match")
        known = hub_signers if message.sender == HUB_PARTNER_ID else keys
        signer = (
            {message.signer_kid: known[message.signer_kid]} if message.signer_kid in known else {}
        )
        try:
            jws.verify_detached(message.signature, plain, static_resolver(signer), typ=MESSAGE_TYP)
            _, receipt = jws.verify_compact(message.receipt, hub_keys, typ=RECEIPT_TYP)
        except KeysError:
            raise IntegrityFailure(
                index, f"message {message.id}: signature or receipt does not verify"
            ) from None
        claims = json.loads(receipt)
        if claims.get("envelope_sha256") != digest or claims.get("log_index") != index:
            raise IntegrityFailure(index, f"message {message.id}: receipt does not match")
        count += 1
    return count
