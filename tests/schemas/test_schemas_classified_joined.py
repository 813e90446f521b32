"""The one-pass marker check over joined texts agrees with checking each text on its own."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import contains_marker, find_classified

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
