"""Rate limits (Flask-Limiter): per client address before the request signature is checked,
per partner after it.

Every request counts against its client address (``ratelimit_address``), so that unsigned or
forged floods are bounded before any key is looked up; a request whose RFC 9421 signature
verifies counts against its partner too — the partner's own limit (``partners.rate_limit``,
``exchange partners set-limit``) or the hub's default (``ratelimit_partner``). Over either,
the answer is a ``rate-limited`` problem (429) with ``Retry-After`` (RFC 6585 §4, RFC 9110
§10.2.3) and Flask-Limiter's ``X-RateLimit-*`` headers. Counters live in each process by
default (``limit_counters``) and in Redis when ``ratelimit_url`` is set (shared by gunicorn
workers and nodes).
"""

from __future__ import annotations

import math
import time
from typing import Final

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from exchange.api import limit_counters
from exchange.api.problems import problem_response
from exchange.config import Config
from exchange.errors import RateLimited

# One shared counter per partner, across every route.
_PARTNER_SCOPE: Final = "partner"


def init_limits(app: Flask, config: Config) -> None:
    """Install the limiter on ``app`` (a no-op when neither limit is set)."""
    if config.ratelimit_address is None and config.ratelimit_partner is None:
        return
    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=[config.ratelimit_address] if config.ratelimit_address else [],
        storage_uri=config.ratelimit_url or f"{limit_counters.SCHEME}://",
        key_prefix=config.ratelimit_prefix,
        headers_enabled=True,
        # Redis down: each process counts in memory until it answers again (never a 5xx).
        in_memory_fallback_enabled=True,
        retry_after="delta-seconds",
    )
    app.extensions["exchange_limits"] = _PartnerLimit(limiter, config.ratelimit_partner)
    app.register_error_handler(RateLimitExceeded, _refused)


def count_partner_request(own_limit: str | None) -> None:
    """Count a verified request against its partner's limit (``own_limit``, else the hub's
    default); RateLimitExceeded beyond it.
    """
    partner_limit: _PartnerLimit | None = current_app.extensions.get("exchange_limits")
    if partner_limit is not None:
        partner_limit.count(own_limit)


class _PartnerLimit:
    """The per-partner limit: one Flask-Limiter shared limit, keyed by the verified partner."""

    def __init__(self, limiter: Limiter, default: str | None) -> None:
        self.limiter = limiter
        self.default = default
        self.route_limit = limiter.shared_limit(
            _partner_limit, _PARTNER_SCOPE, key_func=_partner_key
        )

    def count(self, own_limit: str | None) -> None:
        # The partner's own limit came with its key, in the signature check's one query.
        g.rate_limit = own_limit or self.default
        if g.rate_limit is None:
            return
        # Checked here, after the signature, not in Flask-Limiter's before_request hook.
        with self.route_limit:
            pass


def _partner_limit() -> str:
    # Flask-Limiter also reads it in its own hook, before the signature: no limit there.
    return g.get("rate_limit") or ""


def _partner_key() -> str:
    return f"partner:{g.partner_id}"


def _refused(error: RateLimitExceeded) -> Response:
    limiter: Limiter = current_app.extensions["exchange_limits"].limiter
    current = limiter.current_limit
    retry_after = math.ceil(current.reset_at - time.time()) if current is not None else 1
    who = f"partner {g.partner_id}" if "partner_id" in g else f"address {request.remote_addr}"
    return problem_response(
        RateLimited(
            f"Over the rate limit of {error.description} for {who}.",
            retry_after=max(1, retry_after),
        )
    )
