"""A state-secret marker is found however it is disguised: invisible characters inserted
anywhere in it, variant and traditional forms, in any text, key or attachment name.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import ClassifiedContent, contains_marker, find_classified, validate_envelope
from schemas.classified import MARKER_VARIANTS, visible_text
from schemas.examples import (
    clue_feedback_example,
    rectification_example,
    referral_example,
    result_feedback_example,
    share_example,
)

# What the outside probe slipped between the two characters, by name (issue 9), …
PROBED = [
    *map(chr, range(0x202A, 0x202F)),  # bidi embeddings and overrides
    *map(chr, range(0x2066, 0x206A)),  # bidi isolates
    *map(chr, range(0xFE00, 0xFE10)),  # variation selectors
    chr(0xE0100),
    chr(0xE01EF),  # variation selectors supplement
    "\u034f",  # combining grapheme joiner
    "\u180e",  # Mongolian vowel separator
    "\u061c",  # Arabic letter mark
    "\u2065",  # unassigned, default-ignorable
    "\u115f",
    "\u3164",
    "\uffa0",  # Hangul fillers
    "\u17b4",  # Khmer vowel inherent AQ
    *map(chr, range(0xE0020, 0xE0080, 7)),  # tag characters
    *map(chr, range(0x1D173, 0x1D17B)),  # musical beam and phrase controls
    "\u0301",  # a combining mark
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
]
# … and every format character and combining mark Python's own Unicode data knows.
invisible = st.one_of(st.sampled_from(PROBED), st.characters(categories=("Cf", "Mn", "Me")))
MARKERS = [
    "秘密",
    "机密",
    "绝密",
    "祕密",
    "機密",
    "絕密",
    "絶密",
    "机宻",
    "機宻",
    "袐密",
    "蠿密",
    "㊙密",  # CIRCLED IDEOGRAPH SECRET: NFKC gives 秘
]


@st.composite
def disguised_markers(draw: st.DrawFn) -> str:
    """A marker with a run of invisible characters before, inside and after it."""
    marker = draw(st.sampled_from(MARKERS))
    runs = [draw(st.lists(invisible, max_size=4)) for _ in range(len(marker) + 1)]
    parts = ["".join(runs[0])]
    for character, run in zip(marker, runs[1:], strict=True):
        parts.append(character + "".join(run))
    return "".join(parts)


def string_paths(value: Any, path: str = "") -> Iterator[str]:
    """The JSON path of every string in a document."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, f"{path}[{index}]")


def object_paths(value: Any, path: str = "") -> Iterator[str]:
    """The JSON path of every object in a document."""
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from object_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from object_paths(item, f"{path}[{index}]")


EXAMPLES = {
    "referral": referral_example(),
    "clue feedback": clue_feedback_example(),
    "share": share_example(),
    "result feedback": result_feedback_example(),
    "rectification": rectification_example(),
}


def reach(document: Any, path: str) -> tuple[Any, str | int]:
    """The container of the member at ``path`` and the member's name or index."""
    steps: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            steps.append(int(part[1:-1]))
        elif part:
            steps.append(part)
    for step in steps[:-1]:
        document = document[step]
    return document, steps[-1]


@st.composite
def placements(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """An example envelope with a disguised marker in one text or one key; the marker's path;
    the example's sender before the change (the marker may have gone into `from`).
    """
    envelope = copy.deepcopy(EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))])
    sender = str(envelope["from"])
    marker = draw(disguised_markers())
    if draw(st.booleans()):
        path = draw(st.sampled_from(sorted(string_paths(envelope))))
        parent, name = reach(envelope, path)
        text: str = parent[name]
        at = draw(st.integers(0, len(text)))
        parent[name] = text[:at] + marker + text[at:]
        return envelope, path, sender
    path = draw(st.sampled_from(sorted(object_paths(envelope))))
    target = envelope
    if path:
        parent, name = reach(envelope, path)
        target = parent[name]
    target[marker] = "附注"
    return envelope, path, sender


@settings(max_examples=1500, deadline=None)
@given(disguised_markers())
def test_every_disguise_of_a_marker_is_seen(text: str) -> None:
    assert contains_marker(text)
    assert contains_marker(f"关于{text}文件的说明")


@settings(max_examples=600, deadline=None)
@given(placements())
def test_a_disguised_marker_anywhere_is_refused_at_its_path(
    placed: tuple[dict[str, Any], str, str],
) -> None:
    envelope, path, _sender = placed
    assert find_classified(envelope) == path
    with pytest.raises(ClassifiedContent) as refused:
        validate_envelope(envelope)
    assert refused.value.path == path


@pytest.mark.parametrize(
    "text",
    [
        "机\u202e密文件",
        "绝\U000e0100密",
        "秘\u3164密",
        "机\u2065密",
        "绝\u0301密",
        "機\U000e0041密",
        "机\U0001d173密",
        "絶密",
        "机宻",
        "机\u0345密",  # NFKC turns this mark into a Greek letter: dropped before NFKC too
        "秘\U0001171e密",  # a combining mark in Python's Unicode 14, a spacing mark in regex's
    ],
)
def test_what_the_probe_sent_is_refused(text: str) -> None:
    envelope = referral_example()
    envelope["payload"]["facts"] = f"经查，{text}。"
    assert find_classified(envelope) == "payload.facts"


@pytest.mark.parametrize(
    "text", ["密切关注", "秘书处", "机要室", "绝对", "机构密切配合", "精密机床", "密秘"]
)
def test_ordinary_words_pass(text: str) -> None:
    assert not contains_marker(text)


def test_the_variant_table_folds_to_marker_characters_only() -> None:
    assert set(MARKER_VARIANTS.values()) <= set("秘密机绝")
    for variant, simplified in MARKER_VARIANTS.items():
        assert visible_text(variant) == simplified


def test_every_hidden_character_of_either_unicode_version_is_dropped() -> None:
    """Exhaustively: a marker split by any one character that Python's Unicode data calls a
    format character or a combining mark, or that regex's calls default-ignorable, is seen.
    """
    hidden = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Mn}\p{Me}]")
    missed = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and (unicodedata.category(chr(code)) in ("Cf", "Mn", "Me") or hidden.match(chr(code)))
        and not contains_marker(f"秘{chr(code)}密")
    ]
    assert missed == []
