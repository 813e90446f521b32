"""Configuration from the environment: where the store lives and how the hub behaves."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The hub's clock: timezone-aware UTC now."""
    return datetime.now(UTC)


@dataclass
class Config:
    """Settings of one hub instance; ``from_env`` reads ``EXCHANGE_*`` variables."""

    home: Path
    database_url: str
    agreements_path: Path | None = None
    max_message_bytes: int = 1 << 20
    max_batch_bytes: int = 8 << 20
    max_batch_items: int = 100
    clock_skew_seconds: int = 300
    # Names this log in its checkpoints (PROTOCOL §6), so a partner never mixes two hubs' trees.
    origin: str = "joint-supervision-exchange"
    clock: Clock = field(default=system_clock)

    @property
    def keys_dir(self) -> Path:
        """Where the hub's signing keys, sealing ring and HMAC key live (mode 0700)."""
        return self.home / "keys"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        """Read ``EXCHANGE_HOME`` (default ``./var``), ``EXCHANGE_DATABASE_URL`` and the rest."""
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("EXCHANGE_HOME", "./var")).resolve()
        url = env.get("EXCHANGE_DATABASE_URL") or f"sqlite:///{home / 'exchange.db'}"
        agreements = env.get("EXCHANGE_AGREEMENTS")
        return cls(
            home=home,
            database_url=url,
            agreements_path=Path(agreements) if agreements else None,
            origin=env.get("EXCHANGE_LOG_ORIGIN") or cls.origin,
        )
