"""JWS compact serialization (RFC 7515) with Ed25519 only, attached or detached (Appendix F)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, NamedTuple

from keys._b64 import b64url_decode, b64url_encode
from keys.ed25519 import KeyResolver, SigningKey
from keys.errors import SignatureInvalid

SIGNING_ALG = "Ed25519"
# "Ed25519" is the fully specified name of RFC 9864; "EdDSA" is RFC 8037's older name.
ACCEPTED_ALGS = frozenset({"Ed25519", "EdDSA"})
_MAX_HEADER_CHARS = 4096
# Protected headers decoded and checked, by segment: one signer's tokens share one header.
_HEADERS_KEPT = 256


class _Parsed(NamedTuple):
    header_segment: str
    payload_segment: str
    signature: bytes
    header: dict[str, Any]


def sign_detached(content: bytes, key: SigningKey, *, kid: str, typ: str) -> str:
    """Sign content and return "<header>..<signature>" with the payload left out."""
    header_segment = _encode_header(kid, typ)
    signature = _sign(header_segment, b64url_encode(content), key)
    return f"{header_segment}..{signature}"


def verify_detached(
    token: str, content: bytes, resolve: KeyResolver, *, typ: str | None = None
) -> dict[str, Any]:
    """Verify a detached token over content; return its protected header or raise."""
    parsed = _parse(token)
    if parsed.payload_segment:
        raise SignatureInvalid("detached token carries a payload")
    _check_typ(parsed.header, typ)
    _verify(parsed.header_segment, b64url_encode(content), parsed, resolve)
    return parsed.header


def sign_compact(payload: bytes, key: SigningKey, *, kid: str, typ: str) -> str:
    """Sign payload and return "<header>.<payload>.<signature>"."""
    header_segment = _encode_header(kid, typ)
    payload_segment = b64url_encode(payload)
    signature = _sign(header_segment, payload_segment, key)
    return f"{header_segment}.{payload_segment}.{signature}"


def verify_compact(
    token: str, resolve: KeyResolver, *, typ: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """Verify a compact token; return (protected header, payload bytes) or raise."""
    parsed = _parse(token)
    _check_typ(parsed.header, typ)
    payload = _decode_segment(parsed.payload_segment, "payload")
    _verify(parsed.header_segment, parsed.payload_segment, parsed, resolve)
    return parsed.header, payload


def unverified_header(token: str) -> dict[str, Any]:
    """Return a token's protected header WITHOUT verifying anything; for display and debugging."""
    return _parse(token).header


def _encode_header(kid: str, typ: str) -> str:
    if not kid or not typ:
        raise ValueError("kid and typ must be non-empty")
    header = {"alg": SIGNING_ALG, "kid": kid, "typ": typ}
    return b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))


def _sign(header_segment: str, payload_segment: str, key: SigningKey) -> str:
    # RFC 7515 §5.1 step 5: the signing input is ASCII(header "." payload).
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return b64url_encode(key.sign(signing_input))


def _verify(
    header_segment: str, payload_segment: str, parsed: _Parsed, resolve: KeyResolver
) -> None:
    # UnknownKey / KeyNotValid from the resolver propagate unchanged on purpose.
    key = resolve(parsed.header["kid"])
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    key.verify(parsed.signature, signing_input)


def _parse(token: str) -> _Parsed:
    if not isinstance(token, str):
        raise SignatureInvalid("token is not a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid("token is not a three-part JWS compact serialization")
    header_segment, payload_segment, signature_segment = parts
    if len(header_segment) > _MAX_HEADER_CHARS:
        raise SignatureInvalid("protected header too large")
    header = dict(_checked_header(header_segment))  # a copy: the caller may change it
    signature = _decode_segment(signature_segment, "signature")
    return _Parsed(header_segment, payload_segment, signature, header)


@lru_cache(maxsize=_HEADERS_KEPT)
def _checked_header(header_segment: str) -> dict[str, Any]:
    # A segment that fails raises each time: only good headers are kept.
    return _decode_header(_decode_segment(header_segment, "header"))


def _decode_segment(segment: str, what: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError as e:
        raise SignatureInvalid(f"{what} is not unpadded base64url") from e


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 step 4: duplicate header parameter names must be rejected.
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise SignatureInvalid(f"duplicate header parameter {name!r}")
        obj[name] = value
    return obj


def _decode_header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise SignatureInvalid("protected header is not JSON") from e
    if not isinstance(header, dict):
        raise SignatureInvalid("protected header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGS:
        raise SignatureInvalid("alg is not Ed25519")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureInvalid("kid missing")
    # RFC 7515 §4.1.11: we understand no extensions, so any crit must be refused;
    # RFC 7797 b64 changes what is signed and is only meaningful with crit.
    if "crit" in header:
        raise SignatureInvalid("crit header not supported")
    if "b64" in header:
        raise SignatureInvalid("b64 header not supported")
    if "typ" in header and not isinstance(header["typ"], str):
        raise SignatureInvalid("typ is not a string")
    return header


def _check_typ(header: dict[str, Any], typ: str | None) -> None:
    if typ is not None and header.get("typ") != typ:
        raise SignatureInvalid("unexpected typ")
