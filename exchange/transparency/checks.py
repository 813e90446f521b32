"""The checks of ``exchange log verify``, one row at a time: an entry against its stored hashes
and its clear columns, a checkpoint against the tree, a message against its received entry.

Both verifiers run exactly these: the reference one (``verify.verify_store``, one pass) and the
parallel one (``parallel.verify_log``, index ranges in several processes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from exchange.store.models import PartnerKey
from exchange.trust.hub_keys import HubTrust
from keys import KeysError, SealingKeyRing, VerifyingKey, jws, static_resolver
from keys.ed25519 import KeyResolver
from keys.merkle import CompactTree, leaf_hash
from keys.protocol import CHECKPOINT_TYP, HUB_PARTNER_ID, MESSAGE_TYP, RECEIPT_TYP, LogAction

# What a received entry says of its message: (log index, envelope digest).
Logged = tuple[int, str]


class IntegrityFailure(Exception):
    """The store fails a check; ``index`` is the first log index it concerns."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"log index {index}: {reason}")
        self.index = index
        self.reason = reason

    def __reduce__(self) -> tuple[type[IntegrityFailure], tuple[int, str]]:
        # Raised in worker processes and re-raised in the parent: pickle the two fields.
        return IntegrityFailure, (self.index, self.reason)


@dataclass(frozen=True)
class MessageKeys:
    """What checking a message needs: partner keys, the hub's signers and JWKS, the sealing
    ring.
    """

    partners: dict[str, VerifyingKey]
    hub_signers: dict[str, VerifyingKey]
    hub: KeyResolver
    sealing: SealingKeyRing

    @classmethod
    def load(cls, connection: Connection, trust: HubTrust) -> MessageKeys:
        """Every registered partner key (revoked ones too: old messages stay verifiable);
        every key of the hub, a signing one checking its own signatures by signing again
        (``SigningKey.checker``: a receipt a message, a third of a verification's cost).
        """
        rows = connection.execute(select(PartnerKey.kid, PartnerKey.public_key))
        trust = trust.pinned()
        hub = trust.public_keys() | {k.kid: k.signing_key.checker() for k in trust.hub_keys}
        return cls(
            partners={kid: VerifyingKey.from_raw(raw) for kid, raw in rows},
            # The hub's own notices are signed by a hub key, and only they may be.
            hub_signers=hub,
            hub=static_resolver(hub),
            sealing=trust.sealing,
        )


def check_entry(
    tree: CompactTree, index: int, entry_bytes: bytes, stored_leaf: bytes, stored_nodes: bytes
) -> dict[str, Any]:
    """Append the entry's leaf to ``tree`` after checking its index, bytes and stored hashes;
    return the entry.
    """
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
    return entry


def received_by(entry: dict[str, Any]) -> tuple[str, Logged] | None:
    """For a ``message:received`` entry, its message id and (index, digest); else None."""
    if entry.get("action") != LogAction.MESSAGE_RECEIVED:
        return None
    return str(entry.get("message_id")), (int(entry["index"]), str(entry.get("envelope_sha256")))


def check_clear_columns(
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


def check_checkpoint(checkpoint: Any, root: bytes, hub_keys: KeyResolver, since: int) -> None:
    """A checkpoint row against the root of the tree of its size; ``since`` is the size of
    the previous checkpoint that passed (the failure names the first entry it covers).
    """
    size = checkpoint.tree_size
    try:
        _, payload = jws.verify_compact(checkpoint.signed, hub_keys, typ=CHECKPOINT_TYP)
        claims = json.loads(payload)
    except (KeysError, ValueError):
        raise IntegrityFailure(size - 1, f"checkpoint {size} is not signed by the hub") from None
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


def check_message(message: Any, logged: Logged | None, size: int, keys: MessageKeys) -> None:
    """A message row against the received entry that names it (``logged``, the newest one),
    its sealed envelope, its digest, its signature and its receipt; ``size`` is the log's.
    """
    index = message.log_index
    if logged is None or logged[0] != index:
        raise unlogged(message, size)
    try:
        plain = keys.sealing.open(message.sealed_envelope, aad=message.id.encode())
    except KeysError:
        raise IntegrityFailure(index, f"message {message.id}: sealed envelope altered") from None
    digest = hashlib.sha256(plain).hexdigest()
    if digest != message.envelope_sha256 or digest != logged[1]:
        raise IntegrityFailure(index, f"message {message.id}: digest does not match")
    known = keys.hub_signers if message.sender == HUB_PARTNER_ID else keys.partners
    signer = {message.signer_kid: known[message.signer_kid]} if message.signer_kid in known else {}
    try:
        jws.verify_detached(message.signature, plain, static_resolver(signer), typ=MESSAGE_TYP)
        _, receipt = jws.verify_compact(message.receipt, keys.hub, typ=RECEIPT_TYP)
    except KeysError:
        raise IntegrityFailure(
            index, f"message {message.id}: signature or receipt does not verify"
        ) from None
    claims = json.loads(receipt)
    if claims.get("envelope_sha256") != digest or claims.get("log_index") != index:
        raise IntegrityFailure(index, f"message {message.id}: receipt does not match")


def unlogged(message: Any, size: int) -> IntegrityFailure:
    """The failure of a message that no received entry names at its log index."""
    index = message.log_index
    return IntegrityFailure(
        index if 0 <= index < size else size,
        f"message {message.id} has no received entry at its log index",
    )
