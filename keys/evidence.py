"""Offline verification of an evidence bundle: one message, its signatures, receipt, acks and log.

An inspector checks, with no database and no network, that a message was sent (the sender's
signature), received (the hub's receipt), logged (RFC 6962 inclusion proofs under a signed
checkpoint) and acknowledged (each recipient's signed ack). Partner keys are trusted because the
log says the hub registered them; hub keys come from the bundle unless the inspector pins them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from keys.ed25519 import KeyResolver, VerifyingKey
from keys.errors import KeysError, ProofInvalid, UnknownKey
from keys.jws import verify_compact, verify_detached
from keys.merkle import leaf_hash, verify_inclusion
from keys.protocol import (
    ACK_TYP,
    CHECKPOINT_TYP,
    EVIDENCE_FORMAT,
    HUB_PARTNER_ID,
    MESSAGE_TYP,
    RECEIPT_TYP,
    LogAction,
)
from keys.resolvers import keys_from_jwk_set, static_resolver

_TOP_LEVEL: Final = frozenset(
    {
        "format",
        "message_id",
        "envelope",
        "envelope_jcs",
        "signature",
        "receipt",
        "acks",
        "log",
        "checkpoint",
        "keys",
    }
)
_STRINGS: Final = ("format", "message_id", "envelope_jcs", "signature", "receipt", "checkpoint")
# Exactly what VerifyingKey.to_jwk writes: a member nothing checks could be altered unseen.
_JWK_MEMBERS: Final = frozenset({"kty", "crv", "x", "kid", "use", "alg"})
_HEX_SHA256: Final = re.compile(r"[0-9a-f]{64}")


class EvidenceInvalid(KeysError):
    """An evidence bundle that does not verify; ``field`` is the JSON path of the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field or '(bundle)'}: {self.reason}"


@dataclass(frozen=True)
class VerifiedEvidence:
    """What a verified bundle proves: the signed envelope, its signer, the log and the acks."""

    message_id: str
    envelope: dict[str, Any]
    sender_kid: str
    checkpoint: dict[str, Any]
    entries: list[dict[str, Any]]
    acked_by: tuple[str, ...]
    receipt: dict[str, Any]


@dataclass(frozen=True)
class _Logged:
    """One log item whose inclusion under the checkpoint is proved."""

    field: str
    entry: dict[str, Any]


def verify_evidence(
    bundle: Mapping[str, Any], *, hub_keys: Mapping[str, Any] | None = None
) -> VerifiedEvidence:
    """Verify an ``exchange-evidence/1`` bundle and return what it proves, or raise.

    ``hub_keys`` is a JWK Set the inspector trusts; without it the bundle's ``keys.hub`` is used.
    Raises EvidenceInvalid naming the first part at fault (KeyFormatError for a bad ``hub_keys``).
    """
    _check_shape(bundle)
    message_id: str = bundle["message_id"]
    bundle_hub = _jwk_set(bundle["keys"]["hub"], "keys.hub")
    partners = _jwk_set(bundle["keys"]["partners"], "keys.partners")
    hub = bundle_hub if hub_keys is None else _pinned(keys_from_jwk_set(hub_keys), bundle_hub)
    resolve_hub = static_resolver(hub)

    envelope = _verify_envelope(bundle["envelope_jcs"], bundle["envelope"], message_id)
    checkpoint_kid, checkpoint = _verify_checkpoint(bundle["checkpoint"], resolve_hub)
    log = _verify_log(bundle["log"], checkpoint, message_id)
    envelope_sha256 = hashlib.sha256(_utf8(bundle["envelope_jcs"], "envelope_jcs")).hexdigest()
    _check_entries_agree(log, envelope, envelope_sha256)
    # A hub notice (from "hub") is signed by the hub's key; a partner's message by its own.
    from_hub = envelope["from"] == HUB_PARTNER_ID
    sender_kid = _verify_signature(bundle, envelope, hub if from_hub else partners)
    _check_partner_keys_logged(partners, log)
    receipt_kid, receipt = _verify_receipt(
        bundle["receipt"], resolve_hub, log, envelope, envelope_sha256, sender_kid
    )
    acked_by = _verify_acks(bundle["acks"], partners, log, envelope, envelope_sha256)
    _check_hub_keys_used(
        bundle_hub, {checkpoint_kid, receipt_kid} | ({sender_kid} if from_hub else set())
    )
    return VerifiedEvidence(
        message_id=message_id,
        envelope=envelope,
        sender_kid=sender_kid,
        checkpoint=checkpoint,
        entries=[log[index].entry for index in sorted(log)],
        acked_by=acked_by,
        receipt=receipt,
    )


def _check_shape(bundle: Any) -> None:
    """Exactly the members of the format, each of the right JSON type."""
    if not isinstance(bundle, Mapping):
        raise EvidenceInvalid("", "not a JSON object")
    _check_members(bundle, _TOP_LEVEL, "")
    for name in _STRINGS:
        _require(isinstance(bundle[name], str), name, "not a string")
    if bundle["format"] != EVIDENCE_FORMAT:
        raise EvidenceInvalid("format", f"not {EVIDENCE_FORMAT}")
    _require(isinstance(bundle["envelope"], Mapping), "envelope", "not an object")
    _require(isinstance(bundle["acks"], list), "acks", "not an array")
    for i, item in enumerate(bundle["acks"]):
        _check_members(item, {"recipient", "ack"}, f"acks[{i}]")
        _require(isinstance(item["recipient"], str), f"acks[{i}].recipient", "not a string")
        _require(isinstance(item["ack"], str), f"acks[{i}].ack", "not a string")
    _require(isinstance(bundle["log"], list), "log", "not an array")
    for i, item in enumerate(bundle["log"]):
        _check_members(item, {"entry", "proof"}, f"log[{i}]")
        _require(isinstance(item["entry"], str), f"log[{i}].entry", "not a string")
        _require(isinstance(item["proof"], list), f"log[{i}].proof", "not an array")
    _check_members(bundle["keys"], {"hub", "partners"}, "keys")


def _jwk_set(document: Any, field: str) -> dict[str, VerifyingKey]:
    """A bundle's JWK Set, strictly: every member an OKP/Ed25519 public key as to_jwk writes it."""
    _check_members(document, {"keys"}, field)
    members = document["keys"]
    _require(isinstance(members, list), f"{field}.keys", "not an array")
    found: dict[str, VerifyingKey] = {}
    for i, jwk in enumerate(members):
        where = f"{field}.keys[{i}]"
        _check_members(jwk, _JWK_MEMBERS, where)
        for name in sorted(_JWK_MEMBERS):
            _require(isinstance(jwk[name], str), f"{where}.{name}", "not a string")
        kid = jwk["kid"]
        _require(bool(kid), f"{where}.kid", "not a key id")
        _require(kid not in found, f"{where}.kid", "duplicate key id")
        try:
            found[kid] = VerifyingKey.from_jwk(jwk)
        except KeysError as e:
            raise EvidenceInvalid(where, str(e)) from e
    return found


def _pinned(
    pinned: dict[str, VerifyingKey], bundled: dict[str, VerifyingKey]
) -> dict[str, VerifyingKey]:
    """The inspector's hub keys, once the bundle's own hub keys are shown to be among them."""
    for i, (kid, key) in enumerate(bundled.items()):
        if pinned.get(kid) != key:
            raise EvidenceInvalid(f"keys.hub.keys[{i}]", f"{kid} is not a pinned hub key")
    return pinned


def _verify_checkpoint(token: str, resolve: KeyResolver) -> tuple[str, dict[str, Any]]:
    """The hub's signed tree head."""
    kid, payload = _verify_token(token, resolve, CHECKPOINT_TYP, "checkpoint")
    _require(isinstance(payload.get("origin"), str), "checkpoint", "origin is not a string")
    tree_size = payload.get("tree_size")
    _require(_is_int(tree_size) and tree_size >= 1, "checkpoint", "tree_size is not an int >= 1")
    _require(_is_sha256(payload.get("root_hash")), "checkpoint", "root_hash is not 64 hex")
    _require(isinstance(payload.get("issued_at"), str), "checkpoint", "issued_at is not a string")
    return kid, payload


def _verify_log(
    items: list[Any], checkpoint: Mapping[str, Any], message_id: str
) -> dict[int, _Logged]:
    """Each entry is in the checkpoint's tree and concerns this message or a key."""
    tree_size: int = checkpoint["tree_size"]
    root = bytes.fromhex(checkpoint["root_hash"])
    log: dict[int, _Logged] = {}
    for i, item in enumerate(items):
        field = f"log[{i}]"
        entry = _parse_object(item["entry"], f"{field}.entry")
        index = entry.get("index")
        if not (_is_int(index) and 0 <= index < tree_size):
            raise EvidenceInvalid(f"{field}.entry", "index is not an int inside the tree")
        _require(index not in log, f"{field}.entry", f"index {index} appears twice")
        for name in ("at", "actor", "action"):
            _require(isinstance(entry.get(name), str), f"{field}.entry", f"{name} not a string")
        proof: list[bytes] = []
        for j, hash_hex in enumerate(item["proof"]):
            _require(_is_sha256(hash_hex), f"{field}.proof[{j}]", "not 64 lower-case hex")
            proof.append(bytes.fromhex(hash_hex))
        leaf = leaf_hash(_utf8(item["entry"], f"{field}.entry"))
        try:
            verify_inclusion(leaf, index, tree_size, proof, root)
        except ProofInvalid as e:
            raise EvidenceInvalid(
                f"{field}.proof", f"entry not in the checkpoint's tree: {e}"
            ) from e
        if "message_id" in entry:
            _require(entry["message_id"] == message_id, f"{field}.entry", "another message")
        else:
            _require(
                entry["action"] == LogAction.KEY_ADDED, f"{field}.entry", "not about this message"
            )
        log[index] = _Logged(field, entry)
    return log


def _verify_envelope(text: str, shown: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    """The envelope shown is exactly the text signed, and it is this message."""
    envelope = _parse_object(text, "envelope_jcs")
    try:
        same = _same_json(envelope, shown)
    except RecursionError as e:
        raise EvidenceInvalid("envelope", "nested too deeply") from e
    _require(same, "envelope", "differs from envelope_jcs")
    _require(envelope.get("id") == message_id, "message_id", "is not the envelope's id")
    _require(isinstance(envelope.get("type"), str), "envelope.type", "not a string")
    _require(isinstance(envelope.get("from"), str), "envelope.from", "not a string")
    recipients = envelope.get("to")
    _require(
        isinstance(recipients, list) and all(isinstance(r, str) for r in recipients),
        "envelope.to",
        "not an array of partner ids",
    )
    return envelope


def _check_entries_agree(
    log: Mapping[int, _Logged], envelope: Mapping[str, Any], envelope_sha256: str
) -> None:
    """Entries about this message carry its digest and type, where they carry one."""
    for logged in log.values():
        entry = logged.entry
        if "message_id" not in entry:
            continue
        if "envelope_sha256" in entry:
            _require(
                entry["envelope_sha256"] == envelope_sha256,
                f"{logged.field}.entry",
                "envelope_sha256 differs from the envelope's",
            )
        if "type" in entry:
            _require(entry["type"] == envelope["type"], f"{logged.field}.entry", "another type")


def _verify_signature(
    bundle: Mapping[str, Any], envelope: Mapping[str, Any], signers: dict[str, VerifyingKey]
) -> str:
    """The sender signed envelope_jcs (PROTOCOL §3); return the signing kid."""
    content = _utf8(bundle["envelope_jcs"], "envelope_jcs")
    try:
        header = verify_detached(
            bundle["signature"], content, static_resolver(signers), typ=MESSAGE_TYP
        )
    except KeysError as e:
        raise EvidenceInvalid("signature", _why(e)) from e
    kid: str = header["kid"]
    _require(_partner_of(kid) == envelope["from"], "signature", f"{kid} is not the sender's key")
    return kid


def _check_partner_keys_logged(
    partners: Mapping[str, VerifyingKey], log: Mapping[int, _Logged]
) -> None:
    """Every partner key is one the log says the hub registered."""
    added = [
        logged.entry for logged in log.values() if logged.entry["action"] == LogAction.KEY_ADDED
    ]
    for i, (kid, key) in enumerate(partners.items()):
        key_sha256 = hashlib.sha256(key.raw).hexdigest()
        _require(
            any(e.get("kid") == kid and e.get("key_sha256") == key_sha256 for e in added),
            f"keys.partners.keys[{i}]",
            "no key:added entry binds it",
        )


def _verify_receipt(
    token: str,
    resolve: KeyResolver,
    log: Mapping[int, _Logged],
    envelope: Mapping[str, Any],
    envelope_sha256: str,
    sender_kid: str,
) -> tuple[str, dict[str, Any]]:
    """The hub's receipt, and the message:received entry it points at."""
    kid, receipt = _verify_token(token, resolve, RECEIPT_TYP, "receipt")
    for name, expected in (
        ("id", envelope["id"]),
        ("type", envelope["type"]),
        ("from", envelope["from"]),
        ("to", envelope["to"]),
        ("envelope_sha256", envelope_sha256),
    ):
        _require(receipt.get(name) == expected, "receipt", f"{name} differs from the envelope's")
    for name in ("received_at", "status"):
        _require(isinstance(receipt.get(name), str), "receipt", f"{name} is not a string")
    log_index = receipt.get("log_index")
    if not _is_int(log_index):
        raise EvidenceInvalid("receipt", "log_index is not an int")
    logged = log.get(log_index)
    if logged is None:
        raise EvidenceInvalid("receipt", f"log entry {log_index} is not in the bundle")
    entry = logged.entry
    _require(
        entry["action"] == LogAction.MESSAGE_RECEIVED
        and entry.get("message_id") == envelope["id"]
        and entry.get("envelope_sha256") == envelope_sha256
        and entry["actor"] == envelope["from"]
        and entry.get("kid") == sender_kid,
        "receipt",
        f"log entry {log_index} is not this message's message:received",
    )
    for index, other in log.items():
        if other.entry["action"] == LogAction.MESSAGE_RECEIVED and index != log_index:
            raise EvidenceInvalid(f"{other.field}.entry", "a second message:received entry")
    return kid, receipt


def _verify_acks(
    acks: list[Mapping[str, str]],
    partners: Mapping[str, VerifyingKey],
    log: Mapping[int, _Logged],
    envelope: Mapping[str, Any],
    envelope_sha256: str,
) -> tuple[str, ...]:
    """Each recipient's signed ack, and the message:acked entry that logged it."""
    acked = [logged for logged in log.values() if logged.entry["action"] == LogAction.MESSAGE_ACKED]
    recipients: list[str] = []
    ack_digests: list[tuple[str, str]] = []
    for i, item in enumerate(acks):
        field, recipient = f"acks[{i}]", item["recipient"]
        _require(recipient not in recipients, f"{field}.recipient", "acknowledged twice")
        _require(recipient in envelope["to"], f"{field}.recipient", "not a recipient")
        own = {kid: key for kid, key in partners.items() if _partner_of(kid) == recipient}
        _, claims = _verify_token(item["ack"], static_resolver(own), ACK_TYP, f"{field}.ack")
        _require(claims.get("id") == envelope["id"], f"{field}.ack", "id is not the message's")
        _require(
            claims.get("envelope_sha256") == envelope_sha256,
            f"{field}.ack",
            "envelope_sha256 differs from the envelope's",
        )
        _require(isinstance(claims.get("acked_at"), str), f"{field}.ack", "acked_at not a string")
        ack_sha256 = hashlib.sha256(_utf8(item["ack"], f"{field}.ack")).hexdigest()
        _require(
            any(
                logged.entry["actor"] == recipient
                and logged.entry.get("message_id") == envelope["id"]
                and logged.entry.get("ack_sha256") == ack_sha256
                for logged in acked
            ),
            f"{field}.ack",
            "no message:acked entry logs it",
        )
        recipients.append(recipient)
        ack_digests.append((recipient, ack_sha256))
    # The converse: an acked entry shown without its ack would claim more than the acks prove.
    for logged in acked:
        _require(
            any(
                logged.entry["actor"] == recipient and logged.entry.get("ack_sha256") == digest
                for recipient, digest in ack_digests
            ),
            f"{logged.field}.entry",
            "message:acked entry without its ack",
        )
    return tuple(recipients)


def _check_hub_keys_used(bundled: Mapping[str, VerifyingKey], used: set[str]) -> None:
    """The bundle's hub keys are exactly the ones that signed: an unused one could change unseen."""
    for i, kid in enumerate(bundled):
        _require(kid in used, f"keys.hub.keys[{i}]", "signs nothing in the bundle")
    missing = sorted(used - bundled.keys())
    if missing:
        raise EvidenceInvalid("keys.hub", f"lacks {missing[0]}, which signed")


def _verify_token(
    token: str, resolve: KeyResolver, typ: str, field: str
) -> tuple[str, dict[str, Any]]:
    """A JWS compact with a JSON object payload: (kid, payload) or EvidenceInvalid."""
    try:
        header, payload = verify_compact(token, resolve, typ=typ)
    except KeysError as e:
        raise EvidenceInvalid(field, _why(e)) from e
    return header["kid"], _parse_object(payload, field)


def _parse_object(text: str | bytes, field: str) -> dict[str, Any]:
    """Strict JSON: UTF-8, no duplicate member names, no NaN/Infinity, an object at the top."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise EvidenceInvalid(field, "not JSON") from e
    _require(isinstance(value, dict), field, "not a JSON object")
    return value  # type: ignore[no-any-return]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise ValueError(f"duplicate member {name!r}")
        found[name] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _same_json(parsed: Any, shown: Any) -> bool:
    """Deep equality that tells types apart: Python's own says True == 1 == 1.0."""
    if isinstance(parsed, dict):
        return (
            isinstance(shown, Mapping)
            and parsed.keys() == shown.keys()
            and all(_same_json(value, shown[name]) for name, value in parsed.items())
        )
    if isinstance(parsed, list):
        return (
            isinstance(shown, list)
            and len(parsed) == len(shown)
            and all(_same_json(a, b) for a, b in zip(parsed, shown, strict=True))
        )
    return type(parsed) is type(shown) and bool(parsed == shown)


def _check_members(value: Any, members: set[str] | frozenset[str], field: str) -> None:
    _require(isinstance(value, Mapping), field, "not an object")
    prefix = f"{field}." if field else ""
    missing = sorted(members - value.keys())
    if missing:
        raise EvidenceInvalid(prefix + missing[0], "missing")
    unknown = sorted(value.keys() - members, key=str)
    if unknown:
        raise EvidenceInvalid(prefix + str(unknown[0]), "unknown member")


def _partner_of(kid: str) -> str | None:
    """The partner id of a kid ``<partner>#<label>`` (PROTOCOL §1)."""
    partner, sep, _ = kid.partition("#")
    return partner if sep else None


def _utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise EvidenceInvalid(field, "not encodable as UTF-8") from e


def _why(error: KeysError) -> str:
    if isinstance(error, UnknownKey):
        return f"signed by unknown key {error}"
    return str(error)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and _HEX_SHA256.fullmatch(value) is not None


def _require(condition: bool, field: str, reason: str) -> None:
    if not condition:
        raise EvidenceInvalid(field, reason)
