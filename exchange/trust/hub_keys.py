"""The hub's own secrets under ``$EXCHANGE_HOME/keys``: signing keys, sealing ring, PII HMAC key.

Every process of a hub (gunicorn workers, the worker, the CLI) reads the keys directory again
when it changes, so that ``exchange keys rotate-hub`` and ``rotate-sealing`` take effect in a
hub that keeps serving: the newest signing key signs, every one stays published, and a payload
re-sealed under a new sealing key opens in every process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.errors import BadRequest, NotSetUp
from keys import (
    KeysError,
    SealingKeyRing,
    SigningKey,
    VerifyingKey,
    jwk_set,
    jws,
    load_key_ring,
    load_signing_key,
    save_key_ring,
    save_signing_key,
)
from keys.protocol import HUB_PARTNER_ID

_log = logging.getLogger(__name__)

SEALING_RING = "sealing.json"
RETIRED = "retired-hub-"
"""A retired hub key's public half, ``retired-hub-<label>.pub.pem``: published, never signing."""


@dataclass(frozen=True)
class HubKey:
    """One of the hub's Ed25519 signing keys."""

    kid: str
    signing_key: SigningKey


@dataclass(frozen=True)
class _Keys:
    """What the keys directory held when last read, and how it looked then."""

    hub_keys: list[HubKey]
    retired: dict[str, VerifyingKey]
    sealing: SealingKeyRing
    stamp: tuple[int, ...] | None


class HubTrust:
    """Signs with the newest hub key; publishes all of them; seals payloads; hashes ID numbers."""

    def __init__(
        self,
        hub_keys: list[HubKey],
        sealing: SealingKeyRing,
        pii_key: bytes,
        *,
        retired: dict[str, VerifyingKey] | None = None,
        keys_dir: Path | None = None,
    ) -> None:
        if not hub_keys:
            raise ValueError("the hub has no signing key; run `exchange init`")
        self._pii_key = pii_key
        self._keys_dir = keys_dir
        stamp = _stamp(keys_dir) if keys_dir is not None else None
        self._keys = _Keys(hub_keys, retired or {}, sealing, stamp)
        self._reload_lock = threading.Lock()

    @property
    def hub_keys(self) -> list[HubKey]:
        """Every hub signing key, oldest first (the last one signs)."""
        return self._fresh().hub_keys

    @property
    def sealing(self) -> SealingKeyRing:
        """The sealing ring as the keys directory holds it now."""
        return self._fresh().sealing

    @property
    def current(self) -> HubKey:
        """The key new receipts and checkpoints are signed with."""
        return self.hub_keys[-1]

    def public_keys(self) -> dict[str, VerifyingKey]:
        """Every hub key's public half by kid, oldest first: the retired ones, then the
        signing ones (what any of them signed still verifies).
        """
        keys = self._fresh()
        return {**keys.retired, **{k.kid: k.signing_key.public_key for k in keys.hub_keys}}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set published at ``/.well-known/jwks.json``."""
        return jwk_set(self.public_keys())

    def sign_compact(self, payload: bytes, typ: str) -> str:
        """A JWS compact serialization by the current hub key."""
        current = self.current
        return jws.sign_compact(payload, current.signing_key, kid=current.kid, typ=typ)

    def pinned(self) -> HubTrust:
        """These keys as the directory holds them now, never read again: what one request or
        one transaction signs and seals with, so that it checks the directory once, not once
        a signature (a rotation takes effect from the next one).
        """
        keys = self._fresh()
        return HubTrust(keys.hub_keys, keys.sealing, self._pii_key, retired=keys.retired)

    def person_hmac(self, id_number: str) -> str:
        """Keyed hash of an ID number: matches the same person across messages, reveals nothing."""
        return hmac.new(self._pii_key, id_number.upper().encode(), hashlib.sha256).hexdigest()

    def _fresh(self) -> _Keys:
        keys = self._keys
        if self._keys_dir is None:
            return keys
        stamp = _stamp(self._keys_dir)
        if stamp == keys.stamp:
            return keys
        with self._reload_lock:
            if self._keys.stamp == stamp:
                return self._keys
            try:
                reloaded = _Keys(
                    _read_hub_keys(self._keys_dir),
                    _read_retired(self._keys_dir),
                    _read_ring(self._keys_dir),
                    stamp,
                )
            except (OSError, KeysError) as failure:
                # Keep serving with the keys read last; the operator sees why in the log.
                _log.error("keys in %s not reloaded: %s", self._keys_dir, failure)
                return self._keys
            self._keys = reloaded
            return reloaded

    @staticmethod
    def missing(keys_dir: Path) -> list[str]:
        """Which of the files ``ensure`` makes are not in ``keys_dir`` (nothing is created)."""
        wanted = {"hub-*.pem": "the hub's signing key", SEALING_RING: "the sealing key ring"}
        wanted["pii-hmac.key"] = "the ID-number key"
        return [what for name, what in wanted.items() if not any(keys_dir.glob(name))]

    @classmethod
    def load(cls, keys_dir: Path) -> HubTrust:
        """Load everything ``ensure`` wrote; ``NotSetUp`` when it is not there."""
        if cls.missing(keys_dir):
            raise NotSetUp(f"The hub has no keys in {keys_dir}: run `exchange init`.")
        pii_key = bytes.fromhex((keys_dir / "pii-hmac.key").read_text().strip())
        return cls(
            _read_hub_keys(keys_dir),
            _read_ring(keys_dir),
            pii_key,
            retired=_read_retired(keys_dir),
            keys_dir=keys_dir,
        )

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
        sealing_path = keys_dir / SEALING_RING
        if not sealing_path.exists():
            save_key_ring(sealing_path, SealingKeyRing({_sealing_kid(now): _new_sealing_key()}))
            created.append(sealing_path.name)
        pii_path = keys_dir / "pii-hmac.key"
        if not pii_path.exists():
            _write_new_secret(pii_path, secrets.token_hex(32))
            created.append(pii_path.name)
        return created


def add_hub_key(keys_dir: Path, *, now: datetime) -> HubKey:
    """Make a new hub signing key, newer than every other: it signs from now on, and the old
    ones stay published so that what they signed still verifies.
    """
    label = f"{now:%Y-%m-%dT%H%M%S}"
    path = keys_dir / f"hub-{label}.pem"
    if path.exists() or any(_order(p) >= _order(path) for p in keys_dir.glob("hub-*.pem")):
        raise BadRequest(f"a hub key as new as {label} exists already: rotate again later.")
    key = SigningKey.generate()
    save_signing_key(path, key, _passphrase())
    return HubKey(kid=_hub_kid(path), signing_key=key)


def retire_hub_key(keys_dir: Path, kid: str) -> Path:
    """Delete an old hub signing key's private half, keeping its public half published (so
    old receipts and checkpoints still verify); the file that holds it now. The current key
    cannot be retired: rotate first.
    """
    signing = sorted(keys_dir.glob("hub-*.pem"), key=_order)
    path = next((p for p in signing if _hub_kid(p) == kid), None)
    if path is None:
        if any(k == kid for k in _read_retired(keys_dir)):
            raise BadRequest(f"{kid} is retired already.")
        kids = ", ".join(_hub_kid(p) for p in signing)
        raise BadRequest(f"no hub signing key {kid} (the signing keys are {kids}).")
    if path == signing[-1]:
        raise BadRequest(f"{kid} is the current hub key: run `exchange keys rotate-hub` first.")
    public = keys_dir / f"{RETIRED}{path.stem.removeprefix('hub-')}.pub.pem"
    staged = keys_dir / f".{public.name}.new"
    staged.write_bytes(load_signing_key(path, _passphrase()).public_key.to_pem())
    os.replace(staged, public)
    path.unlink()
    return public


def add_sealing_key(keys_dir: Path, *, now: datetime) -> str:
    """Add a new sealing key to the ring as its primary one; return its kid."""
    ring = _read_ring(keys_dir)
    kid = _sealing_kid(now)
    if kid in ring.kids:
        kid = f"{kid}-{now:%H%M%S}"
    # Rotated again within the second: numbered. A kid only names its key; the ring itself
    # keeps which one is primary.
    stem, number = kid, 1
    while kid in ring.kids:
        number += 1
        kid = f"{stem}-{number}"
    save_key_ring(keys_dir / SEALING_RING, ring.with_key(kid, _new_sealing_key()))
    return kid


def remove_sealing_key(keys_dir: Path, kid: str) -> None:
    """Drop a sealing key from the ring (the caller has made sure nothing is sealed under it)."""
    ring = retirable_sealing_ring(keys_dir, kid)
    save_key_ring(keys_dir / SEALING_RING, ring.without_key(kid))


def retirable_sealing_ring(keys_dir: Path, kid: str) -> SealingKeyRing:
    """The ring, once ``kid`` is in it and not its primary key; ``BadRequest`` otherwise."""
    ring = _read_ring(keys_dir)
    if kid not in ring.kids:
        raise BadRequest(f"no sealing key {kid} in the ring (it holds {', '.join(ring.kids)}).")
    if kid == ring.primary_kid:
        raise BadRequest(f"{kid} is the current sealing key: rotate first, then retire it.")
    return ring


def _read_hub_keys(keys_dir: Path) -> list[HubKey]:
    passphrase = _passphrase()
    return [
        HubKey(kid=_hub_kid(path), signing_key=load_signing_key(path, passphrase))
        for path in sorted(keys_dir.glob("hub-*.pem"), key=_order)
    ]


def _read_retired(keys_dir: Path) -> dict[str, VerifyingKey]:
    return {
        f"{HUB_PARTNER_ID}#{path.name.removeprefix(RETIRED).removesuffix('.pub.pem')}": (
            VerifyingKey.from_pem(path.read_bytes())
        )
        for path in sorted(keys_dir.glob(f"{RETIRED}*.pub.pem"), key=_order)
    }


def _read_ring(keys_dir: Path) -> SealingKeyRing:
    return load_key_ring(keys_dir / SEALING_RING)


def _hub_kid(path: Path) -> str:
    return f"{HUB_PARTNER_ID}#{path.stem.removeprefix('hub-')}"


def _order(path: Path) -> tuple[tuple[int, ...], str]:
    # By the numbers in the label: hub-2026-12 (from init) before hub-2026-12-02T064758.
    return tuple(int(n) for n in re.findall(r"\d+", path.stem)), path.stem


def _stamp(keys_dir: Path) -> tuple[int, ...]:
    # A key file is written beside the others and renamed into place, which changes the
    # directory; the ring's inode and size change with every rewrite. Read on every
    # signature and seal: os.stat on the paths as text (pathlib's own costs as much again).
    directory_path, ring_path = _stamp_paths(keys_dir)
    directory = os.stat(directory_path)
    try:
        ring = os.stat(ring_path)
    except FileNotFoundError:
        return (directory.st_mtime_ns, directory.st_ctime_ns)
    return (directory.st_mtime_ns, directory.st_ctime_ns, ring.st_ino, ring.st_size)


@functools.lru_cache(maxsize=8)
def _stamp_paths(keys_dir: Path) -> tuple[str, str]:
    return str(keys_dir), str(keys_dir / SEALING_RING)


def _sealing_kid(now: datetime) -> str:
    return f"seal-{now:%Y%m%d}"


def _new_sealing_key() -> bytes:
    return SealingKeyRing.generate_key()


def _passphrase() -> bytes | None:
    value = os.environ.get("EXCHANGE_KEY_PASSPHRASE")
    return value.encode() if value else None


def _write_new_secret(path: Path, text: str) -> None:
    # O_EXCL: a second `exchange init` must never replace the key that hashes stored IDs.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
