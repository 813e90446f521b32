"""Simple key resolvers over fixed key sets, and the JWK Set form (RFC 7517 §5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keys.ed25519 import KeyResolver, VerifyingKey
from keys.errors import KeyFormatError, UnknownKey


def static_resolver(keys: Mapping[str, VerifyingKey]) -> KeyResolver:
    """Resolve kids from a fixed mapping; unknown kids raise UnknownKey."""
    table = dict(keys)

    def resolve(kid: str) -> VerifyingKey:
        try:
            return table[kid]
        except KeyError:
            raise UnknownKey(kid) from None

    return resolve


def jwk_set(keys: Mapping[str, VerifyingKey]) -> dict[str, list[dict[str, str]]]:
    """Build a JWK Set document publishing the given keys under their kids."""
    return {"keys": [key.to_jwk(kid) for kid, key in keys.items()]}


def keys_from_jwk_set(document: Mapping[str, Any]) -> dict[str, VerifyingKey]:
    """Read the OKP/Ed25519 keys of a JWK Set; other key types are skipped (RFC 7517 §5)."""
    members = document.get("keys")
    if not isinstance(members, list):
        raise KeyFormatError("JWK Set has no keys array")
    found: dict[str, VerifyingKey] = {}
    for jwk in members:
        if not isinstance(jwk, Mapping):
            raise KeyFormatError("JWK Set member is not an object")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyFormatError("JWK has no kid")
        if kid in found:
            raise KeyFormatError(f"duplicate kid in JWK Set: {kid}")
        found[kid] = VerifyingKey.from_jwk(jwk)
    return found


def jwks_resolver(document: Mapping[str, Any]) -> KeyResolver:
    """Resolve kids from a JWK Set document; unknown kids raise UnknownKey."""
    return static_resolver(keys_from_jwk_set(document))
