"""Trust primitives: Ed25519 keys, JWS, RFC 9421 request signatures, sealing, Merkle proofs."""

from keys.ed25519 import (
    KeyResolver,
    SigningKey,
    VerifyingKey,
    load_signing_key,
    load_verifying_key,
    save_signing_key,
)
from keys.errors import (
    KeyFormatError,
    KeyNotValid,
    KeysError,
    ProofInvalid,
    RequestSignatureInvalid,
    SealingError,
    SignatureInvalid,
    UnknownKey,
)
from keys.httpsig import (
    HttpRequest,
    VerifiedRequest,
    content_digest,
    sign_request,
    verify_request,
)
from keys.jws import (
    sign_compact,
    sign_detached,
    unverified_header,
    verify_compact,
    verify_detached,
)
from keys.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from keys.resolvers import jwk_set, jwks_resolver, keys_from_jwk_set, static_resolver
from keys.sealing import SealingKeyRing, load_key_ring, save_key_ring

__all__ = [
    "HttpRequest",
    "KeyFormatError",
    "KeyNotValid",
    "KeyResolver",
    "KeysError",
    "ProofInvalid",
    "RequestSignatureInvalid",
    "SealingError",
    "SealingKeyRing",
    "SignatureInvalid",
    "SigningKey",
    "UnknownKey",
    "VerifiedRequest",
    "VerifyingKey",
    "consistency_proof",
    "content_digest",
    "inclusion_proof",
    "jwk_set",
    "jwks_resolver",
    "keys_from_jwk_set",
    "leaf_hash",
    "load_key_ring",
    "load_signing_key",
    "load_verifying_key",
    "node_hash",
    "root_hash",
    "save_key_ring",
    "save_signing_key",
    "sign_compact",
    "sign_detached",
    "sign_request",
    "static_resolver",
    "unverified_header",
    "verify_compact",
    "verify_consistency",
    "verify_detached",
    "verify_inclusion",
    "verify_request",
]
