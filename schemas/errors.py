"""The errors of the schemas package: one base, two outcomes the hub maps to problem types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class SchemaError(Exception):
    """Base of every error raised by the schemas package."""


class MessageInvalid(SchemaError):
    """The message does not match its schema (problem type `schema-invalid`).

    `errors`: JSON path (`payload.evidence[0].sha256`, `""` for the whole) → messages.
    """

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors: dict[str, list[str]] = {path: list(msgs) for path, msgs in errors.items()}
        super().__init__(
            f"message invalid at {len(self.errors)} path(s): "
            + ", ".join(repr(path) for path in self.errors)
        )


class ClassifiedContent(SchemaError):
    """The message carries a state-secret marker (`classified-content-refused`).

    `path` says where the marker was found; the text itself is never kept.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"state-secret marker at {path!r}")
