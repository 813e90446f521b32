"""Problem details (RFC 9457): the one error type the hub raises toward partners."""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"

# code -> (HTTP status, title). PROTOCOL.md §8 is the list of codes.
PROBLEM_CODES: dict[str, tuple[int, str]] = {
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


class ProblemError(Exception):
    """A refusal that is rendered as ``application/problem+json``."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        default_status, title = PROBLEM_CODES[code]
        super().__init__(detail or title)
        self.code = code
        self.status = status or default_status
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}
        # RFC 9457 §3.2 extension members, e.g. the current and attempted state.
        self.extra = extra or {}

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 document."""
        problem: dict[str, Any] = {
            "type": f"urn:exchange:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            problem["errors"] = self.errors
        problem.update(self.extra)
        return problem
