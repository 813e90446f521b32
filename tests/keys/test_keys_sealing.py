"""At-rest sealing: round trips, aad binding, tampering, unknown keys, rotation, storage."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import SealingError, SealingKeyRing, load_key_ring, save_key_ring

OLD = SealingKeyRing.generate_key()
NEW = SealingKeyRing.generate_key()
PAYLOAD = '{"referral_id":"R-2026-0001","summary":"线索"}'.encode()
AAD = b"message:msg-0000000000000001"


def test_generate_key_is_fresh_and_32_bytes() -> None:
    assert len(OLD) == 32
    assert OLD != NEW


def test_seal_and_open() -> None:
    ring = SealingKeyRing({"2026-11": OLD})
    token = ring.seal(PAYLOAD, aad=AAD)
    assert ring.open(token, aad=AAD) == PAYLOAD
    assert ring.kid_of(token) == "2026-11"
    assert PAYLOAD not in token


def test_token_layout() -> None:
    token = SealingKeyRing({"k1": OLD}).seal(b"abc")
    assert token[0] == 1
    assert token[1] == 2
    assert token[2:4] == b"k1"
    assert len(token) == 4 + 12 + 3 + 16


def test_nonces_differ() -> None:
    ring = SealingKeyRing({"k": OLD})
    first, second = ring.seal(PAYLOAD), ring.seal(PAYLOAD)
    assert first != second
    assert first[3:15] != second[3:15]


@given(st.binary(max_size=300), st.binary(max_size=40))
def test_any_plaintext_and_aad_round_trip(plaintext: bytes, aad: bytes) -> None:
    ring = SealingKeyRing({"k": OLD})
    assert ring.open(ring.seal(plaintext, aad=aad), aad=aad) == plaintext


def test_wrong_aad_refused() -> None:
    ring = SealingKeyRing({"k": OLD})
    token = ring.seal(PAYLOAD, aad=AAD)
    for aad in (b"", b"message:msg-0000000000000002", AAD + b"\x00"):
        with pytest.raises(SealingError):
            ring.open(token, aad=aad)


def test_every_tampered_byte_refused() -> None:
    ring = SealingKeyRing({"k": OLD})
    token = ring.seal(b"short payload", aad=AAD)
    for index in range(len(token)):
        for flip in (0x01, 0x80):
            tampered = bytearray(token)
            tampered[index] ^= flip
            with pytest.raises(SealingError):
                ring.open(bytes(tampered), aad=AAD)


def test_truncated_or_extended_token_refused() -> None:
    ring = SealingKeyRing({"k": OLD})
    token = ring.seal(PAYLOAD)
    for cut in (0, 1, 2, 3, 15, 30, len(token) - 1):
        with pytest.raises(SealingError):
            ring.open(token[:cut])
    with pytest.raises(SealingError):
        ring.open(token + b"\x00")


def test_unknown_version_refused() -> None:
    ring = SealingKeyRing({"k": OLD})
    token = ring.seal(PAYLOAD)
    with pytest.raises(SealingError, match="version"):
        ring.open(b"\x02" + token[1:])


def test_unknown_kid_refused() -> None:
    token = SealingKeyRing({"2026-10": OLD}).seal(PAYLOAD)
    with pytest.raises(SealingError, match="unknown"):
        SealingKeyRing({"2026-11": NEW}).open(token)


def test_relabelled_kid_refused() -> None:
    # The header is associated data: a token cannot be moved to another kid of the ring.
    ring = SealingKeyRing({"a": OLD, "b": OLD})
    token = ring.seal(PAYLOAD, aad=AAD)
    assert token[2:3] == b"b"
    with pytest.raises(SealingError):
        ring.open(token[:2] + b"a" + token[3:], aad=AAD)


def test_same_kid_other_key_refused() -> None:
    token = SealingKeyRing({"k": OLD}).seal(PAYLOAD)
    with pytest.raises(SealingError):
        SealingKeyRing({"k": NEW}).open(token)


def test_primary_defaults_to_the_last_inserted() -> None:
    assert SealingKeyRing({"2026-10": OLD, "2026-11": NEW}).primary_kid == "2026-11"
    assert SealingKeyRing({"2026-10": OLD, "2026-11": NEW}, "2026-10").primary_kid == "2026-10"


def test_rotation() -> None:
    old_ring = SealingKeyRing({"2026-10": OLD})
    token = old_ring.seal(PAYLOAD, aad=AAD)
    new_ring = SealingKeyRing({"2026-10": OLD, "2026-11": NEW})
    assert new_ring.open(token, aad=AAD) == PAYLOAD
    assert new_ring.kid_of(new_ring.seal(PAYLOAD)) == "2026-11"
    rotated = new_ring.rotate(token, aad=AAD)
    assert new_ring.kid_of(rotated) == "2026-11"
    assert new_ring.open(rotated, aad=AAD) == PAYLOAD
    # Once everything is rotated the old key can go.
    assert SealingKeyRing({"2026-11": NEW}).open(rotated, aad=AAD) == PAYLOAD
    with pytest.raises(SealingError):
        SealingKeyRing({"2026-11": NEW}).open(token, aad=AAD)
    with pytest.raises(SealingError):
        new_ring.rotate(token, aad=b"wrong")


def test_with_key() -> None:
    ring = SealingKeyRing({"2026-10": OLD})
    grown = ring.with_key("2026-11", NEW)
    assert grown.kids == ("2026-10", "2026-11")
    assert grown.primary_kid == "2026-11"
    assert ring.kids == ("2026-10",)
    assert ring.with_key("2026-11", NEW, primary=False).primary_kid == "2026-10"
    with pytest.raises(SealingError):
        ring.with_key("2026-10", NEW)


@pytest.mark.parametrize(
    ("keys", "primary"),
    [
        ({}, None),
        ({"k": b"\x00" * 16}, None),
        ({"k": b"\x00" * 33}, None),
        ({"": OLD}, None),
        ({"k" * 256: OLD}, None),
        ({"k": OLD}, "other"),
    ],
)
def test_bad_rings_refused(keys: dict[str, bytes], primary: str | None) -> None:
    with pytest.raises(SealingError):
        SealingKeyRing(keys, primary)


def test_long_and_unicode_kids() -> None:
    ring = SealingKeyRing({"k" * 255: OLD, "密钥-2026": NEW})
    token = ring.seal(PAYLOAD)
    assert ring.kid_of(token) == "密钥-2026"
    assert ring.open(token) == PAYLOAD
    long_ring = SealingKeyRing({"k" * 255: OLD})
    assert long_ring.open(long_ring.seal(PAYLOAD)) == PAYLOAD


def test_json_round_trip() -> None:
    ring = SealingKeyRing({"2026-10": OLD, "2026-11": NEW}, primary="2026-10")
    token = ring.seal(PAYLOAD)
    again = SealingKeyRing.from_json(ring.to_json())
    assert again.kids == ring.kids
    assert again.primary_kid == "2026-10"
    assert again.open(token) == PAYLOAD
    document = json.loads(ring.to_json())
    assert document["version"] == 1
    assert set(document["keys"]) == {"2026-10", "2026-11"}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "primary": "k", "keys": {}}',
        '{"version": 1, "keys": {"k": "AAAA"}}',
        '{"version": 1, "primary": "k", "keys": {"k": 5}}',
        '{"version": 1, "primary": "k", "keys": {"k": "AA=="}}',
        '{"version": 1, "primary": "k", "keys": {"k": "AAAA"}}',
    ],
)
def test_bad_json_refused(text: str) -> None:
    with pytest.raises(SealingError):
        SealingKeyRing.from_json(text)


def test_save_and_load_ring(tmp_path: Path) -> None:
    ring = SealingKeyRing({"2026-11": NEW})
    path = tmp_path / "sealing.json"
    save_key_ring(path, ring)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key_ring(path).open(ring.seal(PAYLOAD)) == PAYLOAD
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(SealingError):
        load_key_ring(path)


def test_repr_does_not_reveal_keys() -> None:
    ring = SealingKeyRing({"k": OLD})
    assert OLD.hex() not in repr(ring)
    assert "k" in repr(ring)


def test_memoryview_tokens_open() -> None:
    ring = SealingKeyRing({"k": OLD})
    token = memoryview(ring.seal(PAYLOAD))
    assert ring.open(token) == PAYLOAD  # type: ignore[arg-type]
    assert ring.kid_of(token) == "k"  # type: ignore[arg-type]


def test_empty_kid_in_token_refused() -> None:
    token = SealingKeyRing({"k": OLD}).seal(PAYLOAD)
    with pytest.raises(SealingError, match="empty kid"):
        SealingKeyRing({"k": OLD}).open(b"\x01\x00" + token[3:])
