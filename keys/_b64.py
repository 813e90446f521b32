"""Strict unpadded base64url (RFC 4648 §5), as JOSE uses it (RFC 7515 §2)."""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on padding, stray or non-canonical input."""
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as e:
        raise ValueError("not unpadded base64url") from e
    # Non-zero trailing bits would let two strings decode to the same bytes.
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data
