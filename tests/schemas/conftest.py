"""Helpers for the schemas tests: reach into an envelope dict by JSON path."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """`payload.evidence[0].sha256` → ["payload", "evidence", 0, "sha256"]."""
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def _parent(document: Any, path: str) -> tuple[Any, str | int]:
    *head, last = steps(path)
    for step in head:
        document = document[step]
    return document, last


@pytest.fixture
def delete_at() -> Callable[[Any, str], None]:
    """Delete the member at a JSON path."""

    def delete(document: Any, path: str) -> None:
        parent, last = _parent(document, path)
        del parent[last]

    return delete


@pytest.fixture
def set_at() -> Callable[[Any, str, Any], None]:
    """Set the member at a JSON path."""

    def assign(document: Any, path: str, value: Any) -> None:
        parent, last = _parent(document, path)
        parent[last] = value

    return assign
