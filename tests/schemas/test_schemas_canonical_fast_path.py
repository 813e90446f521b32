"""The JCS fast path (``json.dumps`` for float-free, BMP-keyed values) equals RFC 8785 exactly."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import canonical_bytes

# Text over all of Unicode but lone surrogates: control characters, U+2028, astral planes.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(text, children, max_size=5)
    ),
    max_leaves=30,
)
float_free = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53 - 1), 2**53 - 1), text),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(text, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400)
@given(json_values)
def test_any_json_value_matches_rfc8785(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=400)
@given(float_free)
def test_float_free_values_match_rfc8785(value: Any) -> None:
    # These take the fast path unless a member name lies beyond the BMP.
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_member_names_beyond_the_bmp_sort_by_utf16() -> None:
    # U+1D11E (surrogates D834 DD1E) sorts before U+FB01 in UTF-16 order, after it by code point.
    value = {"\ufb01": 1, "\U0001d11e": 2}
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes(value).index("\U0001d11e".encode()) < canonical_bytes(value).index(
        "\ufb01".encode()
    )
