"""JSON paths as the problem details show them: `payload.evidence[0].sha256`, `to[1]`."""

from __future__ import annotations

import re
from typing import Any, Final

from marshmallow.exceptions import SCHEMA

_SAFE_KEY: Final = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def child_path(path: str, key: str | int) -> str:
    """The path of `key` under `path`: a dotted name or a bracketed list index.

    A key that is not a plain identifier is never repeated: the path stops at its parent.
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    if isinstance(key, str) and _SAFE_KEY.match(key):
        return f"{path}.{key}" if path else key
    return path


def flatten_errors(
    messages: Any, path: str = "", into: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Turn marshmallow's nested error messages into {json path: [message, …]}."""
    errors: dict[str, list[str]] = {} if into is None else into
    if isinstance(messages, dict):
        for key, value in messages.items():
            flatten_errors(value, path if key == SCHEMA else child_path(path, key), errors)
    elif isinstance(messages, list):
        for value in messages:
            flatten_errors(value, path, errors)
    else:
        bucket = errors.setdefault(path, [])
        if str(messages) not in bucket:
            bucket.append(str(messages))
    return errors
