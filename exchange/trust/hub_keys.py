"""The hub's own secrets under ``$EXCHANGE_HOME/keys``: signing keys, sealing ring, PII HMAC key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.errors import NotSetUp
from keys import (
    SealingKeyRing,
    SigningKey,
    jwk_set,
    jws,
    load_key_ring,
    load_signing_key,
    save_key_ring,
    save_signing_key,
)
from keys.protocol import HUB_PARTNER_ID


@dataclass(frozen=True)
class HubKey:
    """One of the hub's Ed25519 signing keys."""

    kid: str
    signing_key: SigningKey


class HubTrust:
    """Signs with the newest hub key; publishes all of them; seals payloads; hashes ID numbers."""

    def __init__(self, hub_keys: list[HubKey], sealing: SealingKeyRing, pii_key: bytes) -> None:
        if not hub_keys:
            raise ValueError("the hub has no signing key; run `exchange init`")
        self.hub_keys = hub_keys
        self.sealing = sealing
        self._pii_key = pii_key

    @property
    def current(self) -> HubKey:
        """The key new receipts and checkpoints are signed with."""
        return self.hub_keys[-1]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set published at ``/.well-known/jwks.json``."""
        return jwk_set({k.kid: k.signing_key.public_key for k in self.hub_keys})

    def sign_compact(self, payload: bytes, typ: str) -> str:
        """A JWS compact serialization by the current hub key."""
        return jws.sign_compact(payload, self.current.signing_key, kid=self.current.kid, typ=typ)

    def person_hmac(self, id_number: str) -> str:
        """Keyed hash of an ID number: matches the same person across messages, reveals nothing."""
        return hmac.new(self._pii_key, id_number.upper().encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def missing(keys_dir: Path) -> list[str]:
        """Which of the files ``ensure`` makes are not in ``keys_dir`` (nothing is created)."""
        wanted = {"hub-*.pem": "the hub's signing key", "sealing.json": "the sealing key ring"}
        wanted["pii-hmac.key"] = "the ID-number key"
        return [what for name, what in wanted.items() if not any(keys_dir.glob(name))]

    @classmethod
    def load(cls, keys_dir: Path) -> HubTrust:
        """Load everything ``ensure`` wrote; ``NotSetUp`` when it is not there."""
        if cls.missing(keys_dir):
            raise NotSetUp(f"The hub has no keys in {keys_dir}: run `exchange init`.")
        passphrase = _passphrase()
        hub_keys = [
            HubKey(
                kid=f"{HUB_PARTNER_ID}#{path.stem.removeprefix('hub-')}",
                signing_key=load_signing_key(path, passphrase),
            )
            for path in sorted(keys_dir.glob("hub-*.pem"))
        ]
        sealing = load_key_ring(keys_dir / "sealing.json")
        pii_key = bytes.fromhex((keys_dir / "pii-hmac.key").read_text().strip())
        return cls(hub_keys, sealing, pii_key)

    @classmethod
    def ensure(cls, keys_dir: Path, *, now: datetime) -> list[str]:
        """Create whatever is missing; return what was created (never overwrites)."""
        keys_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        created: list[str] = []
        if not any(keys_dir.glob("hub-*.pem")):
            path = keys_dir / f"hub-{now:%Y-%m}.pem"
            save_signing_key(path, SigningKey.generate(), _passphrase())
            created.append(path.name)
        sealing_path = keys_dir / "sealing.json"
        if not sealing_path.exists():
            save_key_ring(
                sealing_path, SealingKeyRing({f"seal-{now:%Y%m%d}": SealingKeyRing.generate_key()})
            )
            created.append(sealing_path.name)
        pii_path = keys_dir / "pii-hmac.key"
        if not pii_path.exists():
            _write_new_secret(pii_path, secrets.token_hex(32))
            created.append(pii_path.name)
        return created


def _passphrase() -> bytes | None:
    value = os.environ.get("EXCHANGE_KEY_PASSPHRASE")
    return value.encode() if value else None


def _write_new_secret(path: Path, text: str) -> None:
    # O_EXCL: a second `exchange init` must never replace the key that hashes stored IDs.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
