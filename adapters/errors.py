"""Errors of the partner edge."""

from __future__ import annotations

from typing import Any


class EdgeError(Exception):
    """Base of every error raised by ``adapters``."""


class HubError(EdgeError):
    """The hub refused a request; ``problem`` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")

    @property
    def code(self) -> str:
        """The problem code, e.g. ``schema-invalid``."""
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]

    @property
    def errors(self) -> dict[str, list[str]]:
        """Validation errors by JSON path, when the hub gave any."""
        errors: dict[str, list[str]] = self.problem.get("errors") or {}
        return errors


class VerificationFailed(EdgeError):
    """Something the hub or a partner signed did not verify."""
