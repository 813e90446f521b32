"""RFC 8785 JCS known answers, the envelope digest, and strict JSON parsing."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from schemas import (
    JsonInvalid,
    MessageInvalid,
    canonical_bytes,
    envelope_sha256,
    parse_json,
)
from schemas.examples import referral_example

# RFC 8785 §3.2.2, the sample input, and §3.2.4, its canonical UTF-8 bytes.
RFC8785_SAMPLE = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC8785_SAMPLE_BYTES = bytes.fromhex(
    "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72"
    "75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a"
    "5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31"
    "65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37"
    "5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30"
    "30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
)

# RFC 8785 §3.2.3, property sorting by UTF-16 code units.
RFC8785_SORTING = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""

# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


def test_rfc8785_sample_object() -> None:
    canonical = canonical_bytes(parse_json(RFC8785_SAMPLE))
    assert canonical == (
        b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical == RFC8785_SAMPLE_BYTES


def test_rfc8785_property_sorting() -> None:
    canonical = canonical_bytes(parse_json(RFC8785_SORTING))
    assert list(json.loads(canonical).values()) == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    assert canonical_bytes(_double(bits)) == expected.encode()
    assert canonical_bytes({"n": _double(bits)}) == b'{"n":' + expected.encode() + b"}"


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_non_finite_numbers_are_refused(bits: str) -> None:
    with pytest.raises(MessageInvalid) as caught:
        canonical_bytes({"a": [1, _double(bits)]})
    assert caught.value.errors == {"a[1]": ["Must be a finite number."]}


def test_no_whitespace_and_utf8_unescaped() -> None:
    assert canonical_bytes({"b": [1, 2], "a": "审计"}) == '{"a":"审计","b":[1,2]}'.encode()


def test_mappings_and_tuples_are_json() -> None:
    value = MappingProxyType({"z": (1, 2), "a": OrderedDict(y=None, x=True)})
    assert canonical_bytes(value) == b'{"a":{"x":true,"y":null},"z":[1,2]}'


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"n": 2**53}, "n", "Integer beyond the I-JSON range ±(2**53 - 1)."),
        ({"n": -(2**53)}, "n", "Integer beyond the I-JSON range ±(2**53 - 1)."),
        ({"s": ["ok", "\ud800"]}, "s[1]", "Must be valid Unicode text."),
        ({"o": {1: "x"}}, "o", "Object member names must be strings."),
        ({"o": {"\udc00": "x"}}, "o", "Must be valid Unicode text."),
        ({"d": b"bytes"}, "d", "Not a JSON value."),
        ({"d": {1, 2}}, "d", "Not a JSON value."),
    ],
)
def test_values_outside_the_json_model_are_refused(value: Any, path: str, message: str) -> None:
    with pytest.raises(MessageInvalid) as caught:
        canonical_bytes(value)
    assert caught.value.errors == {path: [message]}


def test_cyclic_value_is_refused() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(MessageInvalid):
        canonical_bytes(cycle)


def test_envelope_sha256() -> None:
    raw = referral_example()
    digest = envelope_sha256(raw)
    assert digest == hashlib.sha256(canonical_bytes(raw)).hexdigest()
    assert len(digest) == 64 and digest == digest.lower()
    reordered = dict(reversed(list(raw.items())))
    assert envelope_sha256(reordered) == digest
    reparsed = parse_json(json.dumps(raw, indent=2, ensure_ascii=True))
    assert envelope_sha256(reparsed) == digest


def test_envelope_sha256_changes_with_any_change() -> None:
    raw = referral_example()
    digest = envelope_sha256(raw)
    raw["payload"]["evidence"][0]["size"] += 1
    assert envelope_sha256(raw) != digest


def test_parse_json_reads_utf8_bytes() -> None:
    assert parse_json('{"a":"审计"}'.encode()) == {"a": "审计"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a":1,"a":2}', "Duplicate member name in an object."),
        (b'{"x":{"a":1,"a":1}}', "Duplicate member name in an object."),
        (b'{"a":NaN}', "NaN and Infinity are not JSON numbers."),
        (b'{"a":-Infinity}', "NaN and Infinity are not JSON numbers."),
        (b"\xff\xfe{}", "Not UTF-8."),
        ("\ufeff{}".encode(), "Must not start with a byte order mark."),
        (b'{"a":1', "Not valid JSON (line 1, column 7)."),
        (b"{} {}", "Not valid JSON (line 1, column 4)."),
        (b"[" * 100_000 + b"]" * 100_000, "Nested too deeply."),
    ],
)
def test_parse_json_refuses_what_i_json_forbids(data: bytes, reason: str) -> None:
    with pytest.raises(JsonInvalid) as caught:
        parse_json(data)
    assert caught.value.reason == reason
