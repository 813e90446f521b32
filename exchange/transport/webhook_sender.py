"""The one outbound HTTP client of push delivery: the webhook body and its Standard Webhooks
headers, and a ``requests.Session`` that posts only to the registered URL, with an explicit
timeout, no redirects, no proxy or credentials from the environment, timing and a log line.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import requests

from exchange.trust.destinations import InternalDestination, guarded_session
from keys import SigningKey
from keys.webhooks import sign_webhook

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15.0
# The most of a partner's answer that is read (to reuse the connection); the rest is dropped.
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "joint-supervision-exchange-webhooks/1"


def webhook_body(envelope_jcs: bytes, signature: str, receipt: str) -> bytes:
    """``{"envelope", "receipt", "signature"}`` in JCS: the stored envelope bytes are already
    JCS, the two JWS strings are plain ASCII, and the members are in JCS order.
    """
    return b"".join(
        (
            b'{"envelope":',
            envelope_jcs,
            b',"receipt":',
            json.dumps(receipt).encode(),
            b',"signature":',
            json.dumps(signature).encode(),
            b"}",
        )
    )


def webhook_headers(
    message_id: str, timestamp: int, body: bytes, secret: bytes, hub_key: SigningKey
) -> dict[str, str]:
    """The headers of a push: Standard Webhooks ``v1`` (HMAC-SHA256 with the partner's
    secret) and ``v1a`` (Ed25519 with the hub's key) by ``keys.webhooks``.
    """
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **sign_webhook(message_id, timestamp, body, secret=secret, hub_key=hub_key),
    }


@dataclass(frozen=True)
class Answer:
    """What one POST came to: the HTTP status (None without an answer) and, unless it was a
    2xx, a short reason in the hub's words (never the partner's answer).
    """

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx: the delivery is done."""
        return self.error is None


class WebhookSender:
    """The one outbound HTTP client of push delivery: one ``requests.Session``, an explicit
    timeout, no redirects, no proxy or credentials from the environment, timing and a log
    line per request.
    """

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        # Every connection checked for an internal destination; the other session only for
        # the partners an operator allowed internal destinations for.
        self.session = guarded_session()
        self.internal = requests.Session()
        for session in (self.session, self.internal):
            # Only ever to the registered URL: no $HTTP_PROXY, no .netrc credentials.
            session.trust_env = False

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        recipient: str,
        allow_internal: bool = False,
    ) -> Answer:
        """POST ``body`` to ``url``; a timeout or a refused connection is an answer too."""
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        session = self.internal if allow_internal else self.session
        try:
            with session.post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
                _drain(response, deadline=time.perf_counter() + self.timeout)
        except requests.Timeout:
            error = f"timed out after {self.timeout:g} s"
        except requests.ConnectionError as failure:
            error = f"connection failed ({_root_cause(failure)})"
        except requests.RequestException as failure:
            error = f"request failed ({type(failure).__name__})"
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        log.info(
            "webhook POST to %s: %s in %d ms", recipient, error or f"HTTP {status}", duration_ms
        )
        return Answer(status, error, duration_ms)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
        self.internal.close()


def _drain(response: requests.Response, *, deadline: float) -> None:
    # Read a bounded answer to the end so that the connection goes back to the pool; once the
    # status is in, a failure while reading changes nothing. requests' timeout bounds each
    # read, not their sum: the deadline stops an answer that trickles in byte by byte.
    read = 0
    try:
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES or time.perf_counter() > deadline:
                return
    except requests.RequestException:
        return


def _root_cause(failure: BaseException) -> str:
    cause: BaseException = failure
    for _ in range(10):  # requests wraps urllib3, which wraps the socket's error
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    if isinstance(cause, ConnectionRefusedError):
        return "refused"
    if isinstance(cause, InternalDestination):
        return "refused: a loopback or link-local destination"
    return type(cause).__name__
