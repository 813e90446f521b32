"""The strict RFC 8941 structured-field parser and serializer used by the request signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys._sfv import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_bare_item,
    serialize_dictionary,
)


def test_signature_input_example() -> None:
    # RFC 9421 §4.1 example.
    parsed = parse_dictionary(
        'sig1=("@method" "@target-uri" "@authority" "content-digest" "cache-control");'
        'created=1618884475;keyid="test-key-rsa-pss"'
    )
    inner = parsed["sig1"]
    assert isinstance(inner, InnerList)
    assert [item.value for item in inner.items] == [
        "@method",
        "@target-uri",
        "@authority",
        "content-digest",
        "cache-control",
    ]
    assert inner.params == {"created": 1618884475, "keyid": "test-key-rsa-pss"}


def test_every_bare_item_type() -> None:
    parsed = parse_dictionary(
        'a=1, b=-42, c=4.5, d=-0.125, e="s \\" \\\\", f=tok/en:x, g=:AQID:, h=?0, i, j=*t;p'
    )
    assert parsed == {
        "a": Item(1),
        "b": Item(-42),
        "c": Item(Decimal("4.5")),
        "d": Item(Decimal("-0.125")),
        "e": Item('s " \\'),
        "f": Item(Token("tok/en:x")),
        "g": Item(b"\x01\x02\x03"),
        "h": Item(False),
        "i": Item(True),
        "j": Item(Token("*t"), {"p": True}),
    }


def test_whitespace_rules() -> None:
    assert parse_dictionary("  a=1 ,\tb=( 1  2 );x=?1  ") == {
        "a": Item(1),
        "b": InnerList((Item(1), Item(2)), {"x": True}),
    }
    assert parse_dictionary("") == {}


def test_serialization_is_canonical() -> None:
    parsed = parse_dictionary('a=( 1  2 );x=?1, b, c=4.50, d=:AQID:;q="v"')
    assert serialize_dictionary(parsed) == 'a=(1 2);x, b, c=4.5, d=:AQID:;q="v"'


@pytest.mark.parametrize(
    "text",
    [
        "a=1,",
        "a=1,,b=2",
        "a=1, a=2",
        "a=(1 2);x=1;x=2",
        "A=1",
        "1a=1",
        "a=(1 2",
        "a=(1,2)",
        "a=(1 2)x",
        'a="unterminated',
        'a="bad \\n escape"',
        'a="tab\tinside"',
        "a=:not base64:",
        "a=:AQI:",
        "a=:AQID",
        "a=?2",
        "a=1234567890123456",
        "a=1234567890123.5",
        "a=1.2345",
        "a=1.",
        "a=-",
        "a=@1",
        'a=%"x"',
        "a=1 b=2",
        "a=é",
        "a=1;",
    ],
)
def test_malformed_refused(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)


@pytest.mark.parametrize("value", ["é", "line\nbreak", 10**15, Token("1abc"), Token("a b")])
def test_unserializable_refused(value: str | int | Token) -> None:
    with pytest.raises(StructuredFieldError):
        serialize_bare_item(value)


def test_bad_key_refused_on_serialization() -> None:
    with pytest.raises(StructuredFieldError):
        serialize_dictionary({"Sig": Item(1)})


_keys = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,8}", fullmatch=True)
_bare = st.one_of(
    st.booleans(),
    st.integers(-(10**15) + 1, 10**15 - 1),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
    st.binary(max_size=40),
    st.from_regex(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]{0,8}", fullmatch=True).map(Token),
    st.decimals(min_value=-(10**11), max_value=10**11, places=3).map(
        lambda d: d.normalize() if d == d.to_integral() else d
    ),
)
_params = st.dictionaries(_keys, _bare, max_size=3)
_items = st.builds(Item, _bare, _params)
_members = st.one_of(_items, st.builds(InnerList, st.lists(_items, max_size=4).map(tuple), _params))


@given(st.dictionaries(_keys, _members, max_size=5))
def test_serialize_then_parse_round_trips(members: dict[str, Item | InnerList]) -> None:
    text = serialize_dictionary(members)
    assert serialize_dictionary(parse_dictionary(text)) == text
