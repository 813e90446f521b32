"""RFC 9421 request authentication for every partner request under ``/v1/``."""

from __future__ import annotations

from urllib.parse import quote

from flask import g, request

import keys
from exchange.api.limits import count_partner_request
from exchange.errors import KeyNotAccepted, RequestSignatureInvalid, UnregisteredKey
from exchange.hub import current_hub
from exchange.trust.directory import KeyLookup
from keys import HttpRequest, httpsig
from schemas import KID_RE, partner_of

REQUIRED_COMPONENTS = ("@method", "@path", "@query")


def _raw_target() -> str:
    # The path as the client sent it (gunicorn: RAW_URI; werkzeug: REQUEST_URI), so that
    # percent-encoding is compared byte for byte.
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.query_string.decode("latin-1")
    return quote(request.path) + (f"?{query}" if query else "")


def _unknown_kid(kid: str) -> str:
    # Saying which check failed leaks nothing: the kid is the caller's own.
    if not KID_RE.match(kid):
        return (
            "The request's keyid is not a key id: it is <partner id>#<label>, "
            "e.g. audit.yanliang#2026-11."
        )
    return (
        f"The request's keyid {kid} is not registered at this hub "
        "(an administrator adds it with `exchange partners add` or `exchange keys add`)."
    )


def _explained(reason: str) -> str:
    if reason == "signature mismatch":
        return (
            "The request signature does not verify with the key registered for its keyid: "
            "is the private key the one of that kid?"
        )
    if reason.startswith("created outside allowed skew"):
        return f"The request's {reason}: check this machine's clock (NTP)."
    return reason


def authenticate_partner() -> None:
    """``before_request`` hook: verify the signature, then set ``g.partner_id`` and ``g.kid``."""
    the_hub = current_hub()
    now = the_hub.now()
    http_request = HttpRequest(
        method=request.method,
        url=f"{request.scheme}://{request.host}{_raw_target()}",
        headers=dict(request.headers),
        body=request.get_data(cache=True),
    )
    # One read session serves the whole request (closed by the app's teardown).
    g.reader = session = the_hub.readers()
    lookup = KeyLookup(session, now)
    try:
        verified = httpsig.verify_request(
            http_request,
            lookup,
            now=now,
            max_skew=the_hub.config.clock_skew_seconds,
            required=REQUIRED_COMPONENTS,
        )
    except keys.UnknownKey as unknown:
        raise UnregisteredKey(_unknown_kid(str(unknown.args[0]) if unknown.args else "")) from None
    except keys.KeyNotValid:
        raise KeyNotAccepted("The request's key is revoked or not valid now.") from None
    except keys.RequestSignatureInvalid as invalid:
        raise RequestSignatureInvalid(_explained(invalid.reason)) from None
    g.kid = verified.kid
    g.key_lookup = lookup
    g.partner_id = partner_of(verified.kid)
    count_partner_request(lookup.rate_limits.get(g.partner_id))
