"""Errors raised by the trust primitives; every one derives from KeysError."""

from __future__ import annotations


class KeysError(Exception):
    """Base of every error raised by the keys package."""


class KeyFormatError(KeysError):
    """Key material that cannot be loaded: bad PEM/JWK, wrong key type, wrong passphrase."""


class SignatureInvalid(KeysError):
    """A JWS or raw signature that does not verify, or whose header is refused."""


class RequestSignatureInvalid(KeysError):
    """An RFC 9421 request signature that is missing, malformed or does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownKey(KeysError):
    """Raised by a key resolver when it does not know a key id."""


class KeyNotValid(KeysError):
    """Raised by a key resolver when a key is revoked or outside its validity window."""


class SealingError(KeysError):
    """A sealed token that cannot be opened, or a sealing key ring that is unusable."""


class ProofInvalid(KeysError):
    """A Merkle inclusion or consistency proof that does not verify."""


class WebhookSignatureInvalid(KeysError):
    """A Standard Webhooks push whose headers are missing, stale or do not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
