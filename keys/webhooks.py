"""Standard Webhooks signatures of a push (PROTOCOL §7): ``v1`` HMAC-SHA256, ``v1a`` Ed25519.

Both sign ``"{webhook-id}.{webhook-timestamp}.{body}"``: ``v1`` with the partner's ``whsec_``
secret, ``v1a`` with the hub's key, so a partner may check either or both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from keys._clock import aware_now
from keys.ed25519 import SigningKey, VerifyingKey
from keys.errors import KeyFormatError, SignatureInvalid, WebhookSignatureInvalid

SECRET_PREFIX: Final = "whsec_"
"""How a webhook secret is written: ``whsec_`` and the base64 of its key bytes."""
SECRET_BYTES: Final = 32
DEFAULT_TOLERANCE: Final = 300
"""Seconds a ``webhook-timestamp`` may be from now, either way (the Standard Webhooks 5 min)."""

WEBHOOK_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
"""The headers ``sign_webhook`` writes and ``verify_webhook`` reads."""

_TIMESTAMP_RE: Final = re.compile(r"\A[0-9]{1,12}\Z")


@dataclass(frozen=True)
class VerifiedWebhook:
    """A push whose signatures verified: its id, its timestamp and the body they cover."""

    message_id: str
    timestamp: int
    body: bytes


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for; KeyFormatError if it is not base64."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    except binascii.Error as e:
        raise KeyFormatError("webhook secret is not base64") from e


def sign_webhook(
    message_id: str, timestamp: int, body: bytes, *, secret: bytes, hub_key: SigningKey
) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of a push:
    ``v1,<HMAC-SHA256 with secret> v1a,<Ed25519 with hub_key>``, each in standard base64.
    """
    content = _signed_content(message_id, str(timestamp), body)
    v1 = base64.b64encode(_hmac(secret, content)).decode()
    v1a = base64.b64encode(hub_key.sign(content)).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{v1} v1a,{v1a}",
    }


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: bytes | None = None,
    hub_keys: Iterable[VerifyingKey] | None = None,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> VerifiedWebhook:
    """Verify a push's headers over ``body``; return what they cover, or raise.

    With ``secret`` a ``v1`` must match; with ``hub_keys`` a ``v1a`` must verify with one of them
    (give one or both). Raises WebhookSignatureInvalid with a short reason.
    """
    if secret is None and hub_keys is None:
        raise ValueError("give the webhook secret, the hub's keys or both")
    named = {name.lower(): value for name, value in headers.items()}
    message_id = named.get("webhook-id", "")
    timestamp = named.get("webhook-timestamp", "")
    if not message_id or not timestamp or not named.get("webhook-signature"):
        raise WebhookSignatureInvalid("webhook-id, webhook-timestamp or webhook-signature missing")
    if _TIMESTAMP_RE.match(timestamp) is None:
        raise WebhookSignatureInvalid("webhook-timestamp is not unix seconds")
    # A replayed push is refused once its timestamp is stale: the signature covers it.
    if abs(aware_now(now).timestamp() - int(timestamp)) > tolerance:
        raise WebhookSignatureInvalid("webhook-timestamp too far from now")
    signatures = _signatures(named["webhook-signature"])
    content = _signed_content(message_id, timestamp, body)
    if hub_keys is not None and not _ed25519_verifies(signatures, list(hub_keys), content):
        raise WebhookSignatureInvalid("v1a is not the hub's signature")
    if secret is not None:
        expected = base64.b64encode(_hmac(secret, content))
        # compare_digest: the time taken tells nothing of how much of a guess was right. As
        # bytes, because it refuses str with non-ASCII characters (a header may hold any).
        given = [text.encode("utf-8", "surrogatepass") for text in signatures.get("v1", [])]
        if not any(hmac.compare_digest(expected, text) for text in given):
            raise WebhookSignatureInvalid("v1 does not match the webhook secret")
    return VerifiedWebhook(message_id, int(timestamp), body)


def _signed_content(message_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def _hmac(secret: bytes, content: bytes) -> bytes:
    return hmac.new(secret, content, hashlib.sha256).digest()


def _signatures(header: str) -> dict[str, list[str]]:
    """``v1,abc v1a,def`` → ``{"v1": ["abc"], "v1a": ["def"]}`` (space-separated, in order)."""
    found: dict[str, list[str]] = {}
    for entry in header.split(" "):
        if not entry:
            continue
        version, comma, signature = entry.partition(",")
        if not comma:
            raise WebhookSignatureInvalid("webhook-signature is not version,signature pairs")
        found.setdefault(version, []).append(signature)
    return found


def _ed25519_verifies(
    signatures: Mapping[str, list[str]], hub_keys: list[VerifyingKey], content: bytes
) -> bool:
    decoded = [_canonical_b64decode(text) for text in signatures.get("v1a", [])]
    return any(
        _verifies(key, raw, content) for raw in decoded if raw is not None for key in hub_keys
    )


def _verifies(key: VerifyingKey, signature: bytes, content: bytes) -> bool:
    try:
        key.verify(signature, content)
    except SignatureInvalid:
        return False
    return True


def _canonical_b64decode(text: str) -> bytes | None:
    """Standard base64 (RFC 4648 §4) written the one way it encodes, else None.

    Non-zero padding bits would let two spellings carry one signature (RFC 4648 §3.5).
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None
