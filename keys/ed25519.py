"""Ed25519 signing and verifying keys (RFC 8032), with PEM, raw and JWK (RFC 8037) forms."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from keys._b64 import b64url_decode, b64url_encode
from keys._files import StrPath, read_file, write_private_file
from keys.errors import KeyFormatError, SignatureInvalid

_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_JWK_ALGS = frozenset({"Ed25519", "EdDSA"})
# RFC 8032 §5.1: the field's prime. §5.1.3 decodes y from the low 255 bits and fails at y ≥ p.
_P = 2**255 - 19
_Y_BITS = (1 << 255) - 1
# y of the eight points of small order (orders 1, 2, 4 and 8; x's sign aside): the identity
# (y = 1), (0, -1), (±√-1, 0), and the four of order 8 at y = ±c.
_C = 0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7
_SMALL_ORDER_Y = frozenset({1, _P - 1, 0, _C, _P - _C})


class VerifyingKey:
    """An Ed25519 public key."""

    __slots__ = ("_key", "_raw", "_weak")

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        self._raw = key.public_bytes_raw()
        self._weak = _small_order_or_non_canonical(self._raw)

    @classmethod
    def from_pem(cls, data: bytes) -> VerifyingKey:
        """Load a SubjectPublicKeyInfo PEM holding an Ed25519 key."""
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise KeyFormatError("not a PEM public key") from e
        if not isinstance(key, Ed25519PublicKey):
            kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "another"
            raise KeyFormatError(f"PEM public key is {kind}, not Ed25519")
        return cls(key)

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyingKey:
        """Load the 32-byte encoded public key of RFC 8032 §5.1.5."""
        if len(raw) != _KEY_SIZE:
            raise KeyFormatError("Ed25519 public key must be 32 bytes")
        try:
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError as e:
            raise KeyFormatError("invalid Ed25519 public key") from e

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> VerifyingKey:
        """Load a public OKP/Ed25519 JWK (RFC 8037 §2); private members are refused."""
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise KeyFormatError("JWK is not OKP/Ed25519")
        if "d" in jwk:
            raise KeyFormatError("JWK holds private key material")
        if "alg" in jwk and jwk["alg"] not in _JWK_ALGS:
            raise KeyFormatError("JWK alg is not Ed25519")
        if "use" in jwk and jwk["use"] != "sig":
            raise KeyFormatError("JWK use is not sig")
        x = jwk.get("x")
        if not isinstance(x, str):
            raise KeyFormatError("JWK has no x")
        try:
            raw = b64url_decode(x)
        except ValueError as e:
            raise KeyFormatError("JWK x is not base64url") from e
        return cls.from_raw(raw)

    @property
    def raw(self) -> bytes:
        """The 32-byte encoded public key."""
        return self._raw

    @property
    def weak(self) -> bool:
        """A point of small order or a non-canonical encoding: no signature verifies under it,
        and no honest key is one (RFC 8032 §5.1.5 makes A = [s]B).
        """
        return self._weak

    def to_pem(self) -> bytes:
        """Serialize as a SubjectPublicKeyInfo PEM."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def to_jwk(self, kid: str) -> dict[str, str]:
        """Serialize as a public JWK with the given key id."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(self._raw),
            "kid": kid,
            "use": "sig",
            "alg": "Ed25519",
        }

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if signature is valid for data under this key; raise SignatureInvalid if not."""
        if len(signature) != _SIGNATURE_SIZE:
            raise SignatureInvalid("Ed25519 signature must be 64 bytes")
        if self._weak:
            # Under a small-order point (the identity, say) OpenSSL takes (R = identity,
            # S = 0) for every message: whoever holds such a key could disown anything.
            raise SignatureInvalid("key is a small-order or non-canonical point")
        try:
            self._key.verify(signature, data)
        except InvalidSignature as e:
            raise SignatureInvalid("signature does not verify") from e

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyingKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyingKey(x={b64url_encode(self._raw)!r})"


class SigningKey:
    """An Ed25519 private key."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = VerifyingKey(key.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        """Generate a fresh key from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> SigningKey:
        """Load a PKCS#8 PEM private key, encrypted when a passphrase is given."""
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            # cryptography raises these alike for a wrong passphrase and for bad data.
            raise KeyFormatError("cannot load PEM private key (bad data or passphrase)") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("PEM private key is not Ed25519")
        return cls(key)

    @classmethod
    def from_raw(cls, seed: bytes) -> SigningKey:
        """Load the 32-byte private key (seed) of RFC 8032 §5.1.5."""
        if len(seed) != _KEY_SIZE:
            raise KeyFormatError("Ed25519 seed must be 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """Serialize as PKCS#8 PEM, encrypted with the best available scheme if a passphrase."""
        encryption: serialization.KeySerializationEncryption
        if passphrase is None:
            encryption = serialization.NoEncryption()
        elif not passphrase:
            raise KeyFormatError("passphrase must not be empty")
        else:
            encryption = serialization.BestAvailableEncryption(passphrase)
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of data."""
        return self._key.sign(data)

    @property
    def public_key(self) -> VerifyingKey:
        """The matching verifying key."""
        return self._public

    def checker(self) -> VerifyingKey:
        """The matching verifying key, checking what this key signed by signing again: for
        whoever holds the private half and checks its own signatures in bulk (``log verify``,
        a receipt a message). It accepts exactly what ``public_key`` accepts, at a third of
        the cost when the signature is this key's; never hand it to anyone else.
        """
        return _OwnKey(self._key)

    def __repr__(self) -> str:
        return f"SigningKey(public={self._public!r})"


class _OwnKey(VerifyingKey):
    """A signing key's public half that knows the signatures the key makes."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Ed25519PrivateKey) -> None:
        super().__init__(signer.public_key())
        self._signer = signer

    def verify(self, signature: bytes, data: bytes) -> None:
        # RFC 8032 §5.1.6: the signature is a function of the key and the data alone, so the
        # one this key made over data is sign(data), and it verifies (§5.1.7); any other
        # signature is verified. compare_digest: how much of it matches must not show.
        if hmac.compare_digest(self._signer.sign(data), signature):
            return
        super().verify(signature, data)


def _small_order_or_non_canonical(raw: bytes) -> bool:
    y = int.from_bytes(raw, "little") & _Y_BITS
    return y >= _P or y in _SMALL_ORDER_Y


KeyResolver = Callable[[str], VerifyingKey]
"""Given a kid, return its verifying key; raise UnknownKey or KeyNotValid otherwise."""


def save_signing_key(path: StrPath, key: SigningKey, passphrase: bytes | None = None) -> None:
    """Write key as PKCS#8 PEM to path with mode 0o600 (encrypted when a passphrase)."""
    write_private_file(path, key.to_pem(passphrase))


def load_signing_key(path: StrPath, passphrase: bytes | None = None) -> SigningKey:
    """Read a PKCS#8 PEM private key from path."""
    return SigningKey.from_pem(read_file(path), passphrase)


def load_verifying_key(path: StrPath) -> VerifyingKey:
    """Read a public PEM, or an unencrypted private PEM and take its public half."""
    data = read_file(path)
    if b"PRIVATE KEY-----" in data:
        return SigningKey.from_pem(data).public_key
    return VerifyingKey.from_pem(data)
