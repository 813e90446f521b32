"""The state-secret refusal: the hub carries non-classified data only (PROTOCOL.md §2).

A marker is matched on a normalised view of the text, so that no invisible or look-alike
character hides it: NFKC (UAX #15), before and after which every character that renders as
nothing or only decorates its neighbour is dropped — Default_Ignorable_Code_Point (UAX #44
§5.3), format characters (Cf), combining marks (Mn, Me), controls (Cc) and white space — and
then the variant and traditional forms of 秘, 密, 机 and 绝 are folded to the simplified ones
(`MARKER_VARIANTS`). The character classes come from the Unicode Character Database as the
`regex` module ships it, so ignorables that a new Unicode version adds are covered with it, and
from Python's own `unicodedata` as well: where the two Unicode versions disagree about a
character (U+1171E is a combining mark in one, a spacing mark in the other), either one
dropping it is enough.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

import regex

from schemas.errors import ClassifiedContent
from schemas.paths import child_path

STATE_SECRET_MARKERS: Final = ("秘密", "机密", "绝密")
"""The markers of the three levels of state secret (保守国家秘密法 第十条)."""

CLASSIFIED_LEVELS: Final = frozenset({"secret", "confidential", "top-secret"})
"""`classification` values that mark a message as state-secret, in any case."""

MARKER_VARIANTS: Final = {
    # 《通用规范汉字表》(2013) 附件1「规范字与繁体字、异体字对照表」: 秘〔祕〕, 机〔機〕, 绝〔絕〕.
    "祕": "秘",
    "機": "机",
    "絕": "绝",
    # Unihan (UAX #38) kZVariant / kSemanticVariant: 袐 of 祕, 宻 of 密, 絶 (also the
    # Japanese shinjitai) and the archaic 蠿 of 絕.
    "袐": "秘",
    "宻": "密",
    "絶": "绝",
    "蠿": "绝",
}
"""Variant and traditional forms → the simplified character of a marker. The one table."""

HIDDEN_CHARACTERS: Final = r"\p{Default_Ignorable_Code_Point}\p{Cf}\p{Mn}\p{Me}"
"""A regex class body: characters that render as nothing or only decorate their neighbour."""

# Everything that shows nothing of its own. Cc and white space as well: "机 密" is a marker.
_INVISIBLE: Final = regex.compile(rf"[{HIDDEN_CHARACTERS}\p{{Cc}}\s]+", regex.VERSION1)
# The same categories by Python's own Unicode data, which may be an older version than regex's.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cf", "Mn", "Me", "Cc"})
_FOLD: Final = str.maketrans(MARKER_VARIANTS)
_MARKER: Final = regex.compile("|".join(STATE_SECRET_MARKERS))
# Every marker ends in 密; after NFKC and folding, a text without one holds no marker.
_LAST: Final = STATE_SECRET_MARKERS[0][-1]
_LEVEL_SEPARATORS: Final = regex.compile(r"[_-]+")


def visible_text(text: str) -> str:
    """The text as a reader sees it: NFKC, invisible characters dropped, variants folded."""
    # Dropped before NFKC too: a few marks normalise to letters (U+0345 → ι).
    shown = unicodedata.normalize("NFKC", _drop_invisible(text))
    return _drop_invisible(shown).translate(_FOLD)


def _drop_invisible(text: str) -> str:
    kept: str = _INVISIBLE.sub("", text)
    return "".join(c for c in kept if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)


def contains_marker(text: str) -> bool:
    """Whether `text` shows 秘密, 机密 or 绝密, however it is written or split."""
    if text.isascii() or not _may_hold_marker(text):
        return False
    return _MARKER.search(visible_text(text)) is not None


def _folded_into(table: dict[int, Any], wanted: str) -> tuple[str, ...]:
    # The characters a translation table turns into text holding ``wanted`` (it among them).
    found = {wanted}
    for source, target in table.items():
        shown = chr(target) if isinstance(target, int) else target or ""
        if wanted in shown:
            found.add(chr(source))
    return tuple(sorted(found))


# str.translate maps each character on its own and 密 is one character: a text folds into one
# holding a 密 exactly when it holds one of these.
_FOLDS_TO_LAST: Final = _folded_into(_FOLD, _LAST)


def _may_hold_marker(text: str) -> bool:
    """A quick test with no false negatives: whether NFKC and folding leave a 密 in it."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return any(c in text for c in _FOLDS_TO_LAST)


def is_classified_level(value: str) -> bool:
    """Whether a `classification` value names a state-secret level (`Top Secret`, `SECRET`…)."""
    # NFKD, so that the marks dropped are also those an accented letter decomposes into.
    folded = _drop_invisible(unicodedata.normalize("NFKD", value)).casefold()
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
    # One pass over all the text decides the common case; NUL composes with nothing under
    # NFKC, so the joined test finds a 密 exactly when one of the texts holds one.
    if not _may_hold_marker("\x00".join(_texts(envelope))):
        return None
    # A marker may be there: walk again, with paths, checking each text on its own. The walk
    # is iterative: a hostile, deeply nested payload must not exhaust the call stack.
    for key in envelope:
        if isinstance(key, str) and contains_marker(key):
            return ""
    stack: list[tuple[str, Any]] = [
        (child_path("", key), value)
        for key, value in reversed(list(envelope.items()))
        if key != "classification" or not isinstance(value, str)
    ]
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
    """Every key and string at any depth, except a string `classification` (checked apart)."""
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
