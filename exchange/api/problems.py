"""RFC 9457 problem documents: the one place a refusal becomes HTTP (PROTOCOL §8)."""

from __future__ import annotations

from typing import Any, Final

from flask import Response, json

from exchange.errors import ExchangeError, NotSetUp, RateLimited, Unavailable
from exchange.metrics import count_refusal

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

PROBLEM_TYPES: Final[dict[str, tuple[int, str]]] = {
    "invalid-json": (400, "Request body is not valid JSON"),
    "bad-request": (400, "Bad request"),
    "schema-invalid": (422, "Message does not match its schema"),
    "signature-invalid": (422, "Message signature is invalid"),
    "request-signature-invalid": (401, "Request signature is invalid"),
    "unknown-key": (401, "Signing key is not known"),
    "key-not-valid": (401, "Signing key is revoked or outside its validity window"),
    "sender-mismatch": (422, "Sender does not match the signing key"),
    "route-not-allowed": (403, "No agreement allows this route"),
    "classified-content-refused": (422, "Classified content is refused"),
    "duplicate-conflict": (409, "Message id already used for different content"),
    "payload-too-large": (413, "Payload too large"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "invalid-transition": (409, "Transition not allowed"),
    "rate-limited": (429, "Too many requests"),
    "unavailable": (503, "Service unavailable"),
    "internal-error": (500, "Internal error"),
}
"""Problem code → (HTTP status, title)."""


def problem_document(error: ExchangeError, *, status: int | None = None) -> dict[str, Any]:
    """The RFC 9457 document of a refusal (``status`` overrides the code's own)."""
    return _document(error.code, error.detail, status, error.errors, error.extra)


def problem_response(error: ExchangeError, *, headers: dict[str, str] | None = None) -> Response:
    """Render a refusal as ``application/problem+json``, with ``Retry-After`` where it says."""
    document = problem_document(error)
    retry = {}
    if isinstance(error, (Unavailable, RateLimited, NotSetUp)):
        retry["Retry-After"] = str(error.retry_after)
    return _response(document, {**retry, **(headers or {})})


def http_problem_response(
    code: str,
    detail: str | None,
    *,
    status: int,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem for what the HTTP layer refused itself (routing, size, webargs)."""
    return _response(_document(code, detail, status, errors, {}), headers or {})


def _document(
    code: str,
    detail: str | None,
    status: int | None,
    errors: dict[str, list[str]] | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    default_status, title = PROBLEM_TYPES[code]
    problem: dict[str, Any] = {
        "type": f"urn:exchange:error:{code}",
        "title": title,
        "status": status or default_status,
        "detail": detail or title,
    }
    if errors:
        problem["errors"] = errors
    problem.update(extra)
    return problem


def _response(document: dict[str, Any], headers: dict[str, str]) -> Response:
    count_refusal(str(document["type"]).removeprefix("urn:exchange:error:"))
    response = Response(
        json.dumps(document), status=document["status"], mimetype=PROBLEM_MEDIA_TYPE
    )
    response.headers.update(headers)
    return response
