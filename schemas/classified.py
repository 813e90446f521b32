"""The state-secret refusal: the hub carries non-classified data only (PROTOCOL.md §2)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from schemas.errors import ClassifiedContent
from schemas.paths import child_path

STATE_SECRET_MARKERS: Final = ("秘密", "机密", "绝密")
"""The markers of the three levels of state secret (保守国家秘密法)."""

CLASSIFIED_LEVELS: Final = frozenset({"secret", "confidential", "top-secret"})
"""`classification` values that mark a message as state-secret, in any case."""

# Also the traditional forms, and invisible separators between the two characters, so that
# "机 密" or "機密" do not slip through.
_MARKER_RE: Final = re.compile(r"[秘祕机機绝絕][\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]*密")
_LEVEL_SEPARATORS: Final = re.compile(r"[\s_-]+")


def contains_marker(text: str) -> bool:
    """Whether `text` contains 秘密, 机密 or 绝密 (also in traditional or compatibility forms)."""
    if text.isascii():
        return False
    return _MARKER_RE.search(unicodedata.normalize("NFKC", text)) is not None


def is_classified_level(value: str) -> bool:
    """Whether a `classification` value names a state-secret level."""
    folded = unicodedata.normalize("NFKC", value).strip().casefold()
    squeezed = _LEVEL_SEPARATORS.sub("", folded)
    levels = {level.replace("-", "") for level in CLASSIFIED_LEVELS}
    return squeezed in levels or contains_marker(value)


def find_classified(envelope: Mapping[str, Any]) -> str | None:
    """The JSON path of the first state-secret marker in a raw envelope, or None.

    Every key and string at any depth is searched; a marker in a key is reported at its object.
    """
    classification = envelope.get("classification")
    if isinstance(classification, str) and is_classified_level(classification):
        return "classification"
    if not contains_marker("\x00".join(_texts(envelope))):
        return None
    # A marker is there: walk again, with paths, to say where. The walk is iterative:
    # a hostile, deeply nested payload must not exhaust the call stack.
    stack: list[tuple[str, Any]] = [
        (child_path("", key), value)
        for key, value in reversed(list(envelope.items()))
        if key != "classification" or not isinstance(value, str)
    ]
    for key in envelope:
        if isinstance(key, str) and contains_marker(key):
            return ""
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if contains_marker(value):
                return path
        elif isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and contains_marker(key):
                    return path
            stack.extend(
                (child_path(path, key), item) for key, item in reversed(list(value.items()))
            )
        elif isinstance(value, (list, tuple)):
            stack.extend(
                (child_path(path, index), item) for index, item in reversed(list(enumerate(value)))
            )
    return None


def _texts(envelope: Mapping[str, Any]) -> list[str]:
    """Every key and string at any depth, except a string `classification` (checked apart).

    Joined with NUL they can be searched at once: NUL is no separator inside a marker and
    composes with nothing under NFKC, so no marker spans two of them.
    """
    texts: list[str] = []
    stack: list[Any] = [
        value
        for key, value in envelope.items()
        if key != "classification" or not isinstance(value, str)
    ]
    texts.extend(key for key in envelope if isinstance(key, str))
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, Mapping):
            texts.extend(key for key in value if isinstance(key, str))
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return texts


def check_classified(envelope: Mapping[str, Any]) -> None:
    """Raise ClassifiedContent when the raw envelope carries a state-secret marker."""
    path = find_classified(envelope)
    if path is not None:
        raise ClassifiedContent(path)
