"""The one-pass marker check over joined texts agrees with checking each text on its own, and
its quick test with the folded text it stands for.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import classified, contains_marker, find_classified

# Marker halves, separators the marker pattern allows, combining marks and NUL: the characters
# that could make a marker appear across two texts if joining were wrong.
alphabet = st.sampled_from(list("秘机绝密祕機絕 \u200b\u00ad\u0301\u0308\x00a国"))
texts = st.text(alphabet, max_size=6)
values = st.recursive(
    texts,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=12,
)


def every_text(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [k, *every_text(v)]]
    if isinstance(value, list):
        return [t for item in value for t in every_text(item)]
    return []


@settings(max_examples=500)
@given(st.dictionaries(texts, values, max_size=4))
def test_found_exactly_when_some_single_text_holds_a_marker(payload: dict[str, Any]) -> None:
    envelope = {"classification": "internal", "payload": payload}
    expected = any(contains_marker(text) for text in every_text(payload))
    assert (find_classified(envelope) is not None) == expected


# Characters that are 密, fold into it or might normalise into it (the CJK compatibility
# ideographs and the Kangxi radicals), beside any other.
quick_alphabet = st.one_of(
    st.sampled_from(list("密宻秘机绝祕國a \u0301\x00")),
    st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),
    st.characters(min_codepoint=0x2F00, max_codepoint=0x2FDF),
    st.characters(),
)


@settings(max_examples=500)
@given(st.text(quick_alphabet, max_size=12))
def test_the_quick_test_is_the_folded_text_holding_the_last_character(text: str) -> None:
    # Its definition, written out the slow way: NFKC, fold every character, look for 密.
    folded = unicodedata.normalize("NFKC", text).translate(classified._FOLD)
    assert classified._may_hold_marker(text) == (classified._LAST in folded)
