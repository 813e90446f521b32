"""Configuration from the environment: where the store lives and how the hub behaves."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from limits import parse_many

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
    # Rate limits (exchange.api.limits), in Flask-Limiter's notation ("600/minute;50/second"):
    # each partner's default after its signature verifies, and each client address before.
    # None is no limit: a Config built in code has none, the environment's defaults apply to
    # `exchange serve` (from_env).
    ratelimit_partner: str | None = None
    ratelimit_address: str | None = None
    # Where the counters live: in each process by default, Redis (redis://…) to share them
    # between gunicorn workers and nodes; the prefix keeps two hubs on one Redis apart.
    ratelimit_url: str | None = None
    ratelimit_prefix: str = "exchange"
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
            ratelimit_partner=_limit(env, "EXCHANGE_RATELIMIT_PARTNER", DEFAULT_PARTNER_LIMIT),
            ratelimit_address=_limit(env, "EXCHANGE_RATELIMIT_ADDRESS", DEFAULT_ADDRESS_LIMIT),
            ratelimit_url=env.get("EXCHANGE_RATELIMIT_URL") or None,
            ratelimit_prefix=env.get("EXCHANGE_RATELIMIT_PREFIX") or cls.ratelimit_prefix,
        )


# A partner sends a few thousand messages a day, in batches of up to 100; an address may carry
# several partners (a proxy), and unsigned requests too.
DEFAULT_PARTNER_LIMIT = "1200/minute;100/second"
DEFAULT_ADDRESS_LIMIT = "6000/minute;300/second"


def rate_limit(value: str) -> str:
    """``value`` if it is a rate limit in Flask-Limiter's notation, else ValueError."""
    try:
        if parse_many(value):
            return value
    except ValueError:
        pass
    raise ValueError(f"Not a rate limit: {value!r}; write e.g. 600/minute or 100/second;3000/hour.")


def _limit(env: dict[str, str], name: str, default: str) -> str | None:
    """A rate limit from the environment: unset is the default, ``off`` is none."""
    value = env.get(name, "").strip()
    if value.lower() == "off":
        return None
    try:
        return rate_limit(value or default)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
