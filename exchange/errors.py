"""The refusals the hub's domain raises: one base, one class per problem type of PROTOCOL §8.

They carry what a refusal says — a detail for a person, field errors by JSON path, extension
members — and nothing of HTTP: the API renders them as RFC 9457 problem documents
(`exchange.api.problems`), the CLI as one line.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ExchangeError(Exception):
    """A refusal; ``code`` is its problem type (``urn:exchange:error:<code>``)."""

    code: ClassVar[str] = "internal-error"
    default_detail: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)
        self.errors = errors
        # RFC 9457 §3.2 extension members, e.g. the current and attempted state.
        self.extra = extra or {}


class InvalidJson(ExchangeError):
    """The body is not one I-JSON text."""

    code = "invalid-json"
    default_detail = "Request body is not valid JSON"


class BadRequest(ExchangeError):
    """A request that makes no sense as given."""

    code = "bad-request"
    default_detail = "Bad request"


class SchemaInvalid(ExchangeError):
    """A message or request does not match its schema; ``errors`` names the fields."""

    code = "schema-invalid"
    default_detail = "Message does not match its schema"


class SignatureInvalid(ExchangeError):
    """A message's JWS (or an ack's) does not verify."""

    code = "signature-invalid"
    default_detail = "Message signature is invalid"


class RequestSignatureInvalid(ExchangeError):
    """A request's RFC 9421 signature is missing, malformed, stale or wrong."""

    code = "request-signature-invalid"
    default_detail = "Request signature is invalid"


class UnregisteredKey(ExchangeError):
    """The signing key's kid is not registered."""

    code = "unknown-key"
    default_detail = "Signing key is not known"


class KeyNotAccepted(ExchangeError):
    """The signing key is revoked, outside its window, or its partner suspended."""

    code = "key-not-valid"
    default_detail = "Signing key is revoked or outside its validity window"


class SenderMismatch(ExchangeError):
    """``from`` is not the partner of the signing key or of the request."""

    code = "sender-mismatch"
    default_detail = "Sender does not match the signing key"


class RouteNotAllowed(ExchangeError):
    """No agreement allows this route, or a recipient is not an active partner."""

    code = "route-not-allowed"
    default_detail = "No agreement allows this route"


class ClassifiedContentRefused(ExchangeError):
    """State-secret content: the hub carries non-classified data only."""

    code = "classified-content-refused"
    default_detail = "Classified content is refused"


class DuplicateConflict(ExchangeError):
    """A message id already stored with another digest."""

    code = "duplicate-conflict"
    default_detail = "Message id already used for different content"


class PayloadTooLarge(ExchangeError):
    """Over the size limits (1 MiB a message, 8 MiB a batch)."""

    code = "payload-too-large"
    default_detail = "Payload too large"


class NotFound(ExchangeError):
    """Nothing by that name, or nothing by that name for the caller."""

    code = "not-found"
    default_detail = "Not found"


class InvalidTransition(ExchangeError):
    """A lifecycle step that may not follow the current state."""

    code = "invalid-transition"
    default_detail = "Transition not allowed"

    def __init__(
        self, detail: str | None = None, *, current: str | None = None, attempted: str | None = None
    ) -> None:
        extra = {} if current is None else {"current": current, "attempted": attempted}
        super().__init__(detail, extra=extra)


class NotSetUp(ExchangeError):
    """The hub's store or keys are not there yet: ``exchange init`` makes them."""

    code = "unavailable"
    default_detail = "The hub is not set up yet: run `exchange init`."

    def __init__(self, detail: str | None = None, *, retry_after: int = 30) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RateLimited(ExchangeError):
    """Too many requests; retry after ``retry_after`` seconds."""

    code = "rate-limited"
    default_detail = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(ExchangeError):
    """The store (or another dependency) does not answer; retry after ``retry_after`` s."""

    code = "unavailable"
    default_detail = "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
