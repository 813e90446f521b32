"""At-rest sealing with AES-256-GCM under a ring of named keys, rotatable like MultiFernet.

Token layout: version (1 byte, 0x01) | kid length (1 byte) | kid (UTF-8) | nonce (12 bytes)
| ciphertext and 16-byte tag. The header before the nonce is authenticated as associated data,
so a token cannot be relabelled with another kid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys._b64 import b64url_decode, b64url_encode
from keys._files import StrPath, read_file, write_private_file
from keys.errors import SealingError

_VERSION = 1
_KEY_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MAX_KID_BYTES = 255


class SealingKeyRing:
    """Named 256-bit AES-GCM keys: seals under the primary one, opens under any."""

    __slots__ = ("_aeads", "_keys", "_primary")

    def __init__(self, keys: Mapping[str, bytes], primary: str | None = None) -> None:
        if not keys:
            raise SealingError("a key ring needs at least one key")
        for kid, key in keys.items():
            _check_kid(kid)
            if len(key) != _KEY_SIZE:
                raise SealingError(f"sealing key {kid!r} is not 32 bytes")
        self._keys = {kid: bytes(key) for kid, key in keys.items()}
        self._primary = list(self._keys)[-1] if primary is None else primary
        if self._primary not in self._keys:
            raise SealingError("primary kid is not in the ring")
        self._aeads = {kid: AESGCM(key) for kid, key in self._keys.items()}

    @staticmethod
    def generate_key() -> bytes:
        """Return 32 fresh random bytes for a new sealing key."""
        return AESGCM.generate_key(bit_length=256)

    @property
    def primary_kid(self) -> str:
        """The kid new tokens are sealed under."""
        return self._primary

    @property
    def kids(self) -> tuple[str, ...]:
        """Every kid in the ring, in insertion order."""
        return tuple(self._keys)

    def with_key(self, kid: str, key: bytes, *, primary: bool = True) -> SealingKeyRing:
        """Return a new ring that also holds key under kid (the primary one, by default)."""
        if kid in self._keys:
            raise SealingError(f"kid {kid!r} already in the ring")
        keys = {**self._keys, kid: key}
        return SealingKeyRing(keys, kid if primary else self._primary)

    def without_key(self, kid: str) -> SealingKeyRing:
        """Return a new ring without kid: tokens sealed under it no longer open (retirement)."""
        if kid not in self._keys:
            raise SealingError(f"kid {kid!r} is not in the ring")
        if kid == self._primary:
            raise SealingError("the primary key cannot be retired")
        return SealingKeyRing({k: v for k, v in self._keys.items() if k != kid}, self._primary)

    def seal(self, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        """Encrypt and authenticate plaintext (bound to aad) under the primary key."""
        header = _header(self._primary)
        nonce = os.urandom(_NONCE_SIZE)
        ciphertext = self._aeads[self._primary].encrypt(nonce, plaintext, header + aad)
        return header + nonce + ciphertext

    def open(self, token: bytes, *, aad: bytes = b"") -> bytes:
        """Return the plaintext of a token sealed under any key of the ring; raise SealingError."""
        token = bytes(token)  # database drivers may hand back a memoryview
        kid, header_size = _parse_header(token)
        aead = self._aeads.get(kid)
        if aead is None:
            raise SealingError(f"unknown sealing key {kid!r}")
        nonce = token[header_size : header_size + _NONCE_SIZE]
        ciphertext = token[header_size + _NONCE_SIZE :]
        try:
            return aead.decrypt(nonce, ciphertext, token[:header_size] + aad)
        except InvalidTag as e:
            raise SealingError("token does not open: tampered, wrong key or wrong aad") from e

    def kid_of(self, token: bytes) -> str:
        """Return the kid a token names, without opening it."""
        return _parse_header(bytes(token))[0]

    def rotate(self, token: bytes, *, aad: bytes = b"") -> bytes:
        """Open token and seal its plaintext again under the primary key."""
        return self.seal(self.open(token, aad=aad), aad=aad)

    def to_json(self) -> str:
        """Serialize the ring, keys included, for a file readable by its owner only."""
        document = {
            "version": _VERSION,
            "primary": self._primary,
            "keys": {kid: b64url_encode(key) for kid, key in self._keys.items()},
        }
        return json.dumps(document, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SealingKeyRing:
        """Load a ring written by to_json."""
        try:
            document: Any = json.loads(text)
        except ValueError as e:
            raise SealingError("key ring is not JSON") from e
        if not isinstance(document, dict) or document.get("version") != _VERSION:
            raise SealingError("not a version 1 key ring")
        encoded = document.get("keys")
        primary = document.get("primary")
        if not isinstance(encoded, dict) or not isinstance(primary, str):
            raise SealingError("key ring needs keys and primary")
        keys: dict[str, bytes] = {}
        for kid, value in encoded.items():
            if not isinstance(value, str):
                raise SealingError(f"key {kid!r} is not a string")
            try:
                keys[kid] = b64url_decode(value)
            except ValueError as e:
                raise SealingError(f"key {kid!r} is not base64url") from e
        return cls(keys, primary)

    def __repr__(self) -> str:
        return f"SealingKeyRing(kids={self.kids!r}, primary={self._primary!r})"


def save_key_ring(path: StrPath, ring: SealingKeyRing) -> None:
    """Write ring as JSON to path with mode 0o600."""
    write_private_file(path, ring.to_json().encode("utf-8"))


def load_key_ring(path: StrPath) -> SealingKeyRing:
    """Read a ring written by save_key_ring."""
    try:
        text = read_file(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise SealingError("key ring is not UTF-8") from e
    return SealingKeyRing.from_json(text)


def _check_kid(kid: str) -> None:
    if not isinstance(kid, str) or not 1 <= len(kid.encode("utf-8")) <= _MAX_KID_BYTES:
        raise SealingError("kid must be 1 to 255 bytes of UTF-8")


def _header(kid: str) -> bytes:
    encoded = kid.encode("utf-8")
    return bytes([_VERSION, len(encoded)]) + encoded


def _parse_header(token: bytes) -> tuple[str, int]:
    if len(token) < 2 or token[0] != _VERSION:
        raise SealingError("not a version 1 sealed token")
    if token[1] == 0:
        raise SealingError("sealed token has an empty kid")
    header_size = 2 + token[1]
    if len(token) < header_size + _NONCE_SIZE + _TAG_SIZE:
        raise SealingError("sealed token is truncated")
    try:
        kid = token[2:header_size].decode("utf-8")
    except UnicodeDecodeError as e:
        raise SealingError("sealed token kid is not UTF-8") from e
    return kid, header_size
