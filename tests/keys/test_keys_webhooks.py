"""Standard Webhooks signatures (PROTOCOL §7): interop with the reference ``standardwebhooks``
library for ``v1`` both ways, the hub's ``v1a``, and every refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from keys import (
    KeyFormatError,
    SigningKey,
    VerifiedWebhook,
    VerifyingKey,
    WebhookSignatureInvalid,
    new_webhook_secret,
    sign_webhook,
    verify_webhook,
    webhook_secret_key,
)
from keys.webhooks import WEBHOOK_HEADERS

SECRET = new_webhook_secret()
KEY = webhook_secret_key(SECRET)
HUB_KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
MESSAGE_ID = "msg-0000000000000001"
NOW = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
TIMESTAMP = int(NOW.timestamp())
BODY = json.dumps({"envelope": {"id": MESSAGE_ID}, "receipt": "r", "signature": "s"}).encode()


def signed(timestamp: int = TIMESTAMP, body: bytes = BODY) -> dict[str, str]:
    return sign_webhook(MESSAGE_ID, timestamp, body, secret=KEY, hub_key=HUB_KEY)


def test_the_headers_are_the_protocols() -> None:
    """Three headers; the signature is ``v1,<HMAC> v1a,<Ed25519>`` over ``id.timestamp.body``."""
    headers = signed()
    assert list(headers) == list(WEBHOOK_HEADERS)
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == (MESSAGE_ID, str(TIMESTAMP))
    content = f"{MESSAGE_ID}.{TIMESTAMP}.".encode() + BODY
    v1 = base64.b64encode(hmac.new(KEY, content, hashlib.sha256).digest()).decode()
    v1a = base64.b64encode(HUB_KEY.sign(content)).decode()  # Ed25519 is deterministic
    assert headers["webhook-signature"] == f"v1,{v1} v1a,{v1a}"


def test_the_reference_library_verifies_v1_made_here() -> None:
    """``Webhook.verify`` holds the timestamp to the real clock: sign at the real time."""
    now = int(datetime.now(UTC).timestamp())
    assert Webhook(SECRET).verify(BODY, signed(now)) == json.loads(BODY)


def test_v1_made_by_the_reference_library_verifies_here() -> None:
    signature = Webhook(SECRET).sign(MESSAGE_ID, NOW, BODY.decode())
    headers = {
        "Webhook-Id": MESSAGE_ID,  # header names are case-insensitive (RFC 9110 §5.1)
        "Webhook-Timestamp": str(TIMESTAMP),
        "Webhook-Signature": signature,
    }
    verified = verify_webhook(headers, BODY, secret=KEY, now=NOW)
    assert verified == VerifiedWebhook(MESSAGE_ID, TIMESTAMP, BODY)
    # Only v1: a receiver that also wants the hub's v1a refuses it.
    with pytest.raises(WebhookSignatureInvalid, match="v1a"):
        verify_webhook(headers, BODY, secret=KEY, hub_keys=[HUB_KEY.public_key], now=NOW)


def test_v1a_verifies_with_any_of_the_hubs_keys() -> None:
    ring = [OTHER_KEY.public_key, HUB_KEY.public_key]
    verified = verify_webhook(signed(), BODY, hub_keys=ring, now=NOW)
    assert verified.body == BODY
    with pytest.raises(WebhookSignatureInvalid, match="v1a is not the hub's"):
        verify_webhook(signed(), BODY, hub_keys=[OTHER_KEY.public_key], now=NOW)
    with pytest.raises(WebhookSignatureInvalid, match="v1 does not match"):
        verify_webhook(signed(), BODY, secret=b"another secret", hub_keys=ring, now=NOW)


def flipped(data: bytes) -> Iterator[bytes]:
    """``data`` with each of its bits flipped in turn."""
    for index in range(len(data)):
        for bit in range(8):
            yield data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


def header_flips(headers: dict[str, str], name: str, part: slice) -> Iterator[dict[str, str]]:
    """The headers with each bit of ``part`` of one header flipped (as latin-1, as on the wire)."""
    value = headers[name].encode("latin-1")
    for bad in flipped(value[part]):
        changed = value[: part.start] + bad + value[part.stop :]
        yield {**headers, name: changed.decode("latin-1")}


HUB_KEYS = [HUB_KEY.public_key]
# What a receiver checks, and which entries of webhook-signature those checks read.
CHECKS = {
    "v1 and v1a": (KEY, HUB_KEYS, ("v1", "v1a")),
    "v1 alone": (KEY, None, ("v1",)),
    "v1a alone": (None, HUB_KEYS, ("v1a",)),
}


@pytest.mark.parametrize(("secret", "hub_keys", "read"), CHECKS.values(), ids=list(CHECKS))
def test_any_bit_flip_of_what_is_checked_is_refused(
    secret: bytes | None, hub_keys: list[VerifyingKey] | None, read: tuple[str, ...]
) -> None:
    """The id, the timestamp, the body, each checked signature: one bit flipped, refused."""
    headers = signed()
    assert verify_webhook(headers, BODY, secret=secret, hub_keys=hub_keys, now=NOW)
    signature = headers["webhook-signature"]
    space = signature.index(" ")
    entries = {"v1": slice(0, space + 1), "v1a": slice(space, len(signature))}
    cases = [
        *((headers, body) for body in flipped(BODY)),
        *((bad, BODY) for bad in header_flips(headers, "webhook-id", slice(0, len(MESSAGE_ID)))),
        *((bad, BODY) for bad in header_flips(headers, "webhook-timestamp", slice(0, 10))),
        *(
            (bad, BODY)
            for version in read
            for bad in header_flips(headers, "webhook-signature", entries[version])
        ),
    ]
    assert len(cases) > 8 * (len(BODY) + len(MESSAGE_ID) + 10 + 40)
    for bad_headers, body in cases:
        with pytest.raises(WebhookSignatureInvalid):
            verify_webhook(bad_headers, body, secret=secret, hub_keys=hub_keys, now=NOW)


def test_a_stale_or_future_timestamp_is_refused() -> None:
    """Five minutes either way (the tolerance is a parameter); the signature is not enough."""
    headers = signed()
    for moment in (NOW + timedelta(seconds=300), NOW - timedelta(seconds=300)):
        assert verify_webhook(headers, BODY, secret=KEY, now=moment)
    for moment in (NOW + timedelta(seconds=301), NOW - timedelta(seconds=301)):
        with pytest.raises(WebhookSignatureInvalid, match="too far from now"):
            verify_webhook(headers, BODY, secret=KEY, now=moment)
    late = NOW + timedelta(minutes=30)
    with pytest.raises(WebhookSignatureInvalid, match="too far from now"):
        verify_webhook(headers, BODY, hub_keys=[HUB_KEY.public_key], now=late)
    assert verify_webhook(headers, BODY, secret=KEY, now=late, tolerance=3600)


MALFORMED = {
    "no id": {"webhook-id": ""},
    "no timestamp": {"webhook-timestamp": ""},
    "no signature": {"webhook-signature": ""},
    "timestamp not digits": {"webhook-timestamp": f"+{TIMESTAMP}"},
    "timestamp with blanks": {"webhook-timestamp": f" {TIMESTAMP}"},
    "signature not pairs": {"webhook-signature": "v1"},
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_headers_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        verify_webhook({**signed(), **change}, BODY, secret=KEY, now=NOW)


def test_a_v1a_written_another_way_is_refused() -> None:
    """Base64 with other padding bits decodes to the same bytes: only the canonical one passes."""
    headers = signed()
    v1, v1a = headers["webhook-signature"].split(" ")
    assert v1a.endswith("==")
    last = v1a[-3]
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = other[other.index(last) ^ 1]  # differs in a padding bit only
    spelt = f"{v1a[:-3]}{twin}=="
    assert base64.b64decode(spelt[4:]) == base64.b64decode(v1a[4:])
    with pytest.raises(WebhookSignatureInvalid, match="v1a"):
        verify_webhook(
            {**headers, "webhook-signature": spelt},
            BODY,
            hub_keys=[HUB_KEY.public_key],
            now=NOW,
        )
    assert v1.startswith("v1,")


def test_the_secret_is_whsec_and_32_bytes() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and len(webhook_secret_key(secret)) == 32
    assert secret != new_webhook_secret()
    with pytest.raises(KeyFormatError):
        webhook_secret_key("whsec_not*base64")


def test_the_clock_and_the_checks_are_the_callers() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_webhook(signed(), BODY, secret=KEY, now=datetime(2026, 11, 5, 9, 30))
    with pytest.raises(ValueError, match="give the webhook secret"):
        verify_webhook(signed(), BODY, now=NOW)
