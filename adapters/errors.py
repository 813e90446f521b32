"""Errors of the partner edge; every one derives from EdgeError."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NativeProblem:
    """One thing wrong with a native file: where (file, sheet, row, column) and why."""

    source: str
    row: int | None
    column: str | None
    reason: str
    sheet: str | None = None
    unit: str = "行"
    """``行`` for a table row (the header is row 1), ``条`` for the n-th record of a JSON file."""

    def __str__(self) -> str:
        where = self.source
        if self.sheet:
            where += f" 工作表「{self.sheet}」"
        if self.row is not None:
            where += f" 第{self.row}{self.unit}"
        if self.column:
            where += f" 「{self.column}」"
        return f"{where}: {self.reason}"


class NativeError(EdgeError):
    """Native records that cannot be mapped; ``problems`` lists each with its row and column.

    ``row``, ``column`` and ``reason`` are those of the first problem.
    """

    def __init__(self, problems: Sequence[NativeProblem]) -> None:
        if not problems:
            raise ValueError("a NativeError needs at least one problem")
        self.problems: tuple[NativeProblem, ...] = tuple(problems)
        shown = "；".join(str(p) for p in self.problems[:20])
        more = f"；另有{len(self.problems) - 20}处问题" if len(self.problems) > 20 else ""
        super().__init__(shown + more)

    @property
    def row(self) -> int | None:
        """Row (or record) number of the first problem."""
        return self.problems[0].row

    @property
    def column(self) -> str | None:
        """Column header (or record key) of the first problem."""
        return self.problems[0].column

    @property
    def reason(self) -> str:
        """What is wrong, in Chinese."""
        return self.problems[0].reason
