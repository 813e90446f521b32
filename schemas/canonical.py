"""Canonical bytes of a JSON value: RFC 8785 JSON Canonicalization Scheme (JCS)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import rfc8785

from schemas.errors import MessageInvalid, SchemaError
from schemas.paths import child_path

_INT_LIMIT: Final = 2**53 - 1
# A lone surrogate can only come from a \uD800-\uDFFF escape: UTF-8 cannot carry one.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class JsonInvalid(SchemaError):
    """The bytes are not a single I-JSON text (problem type `invalid-json`).

    `reason` is one short sentence about what is wrong, never the input itself; `path` is the
    JSON path of the offending value when one can be named (`envelope.payload.rules_made`).
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(reason if path is None else f"{path}: {reason}")


def canonical_bytes(value: Any) -> bytes:
    """The JCS serialization of a JSON value (RFC 8785 §3.2); mappings are objects, tuples arrays.

    MessageInvalid, by path, for what JSON cannot hold: NaN, integers beyond ±(2**53 - 1)…
    """
    try:
        plain, simple = _simple_model(value)
        if simple:
            # Without floats, and with member names in the BMP (where UTF-16 order, which
            # RFC 8785 §3.2.3 sorts by, is code point order), JCS is exactly this.
            return json.dumps(
                plain, ensure_ascii=False, sort_keys=True, separators=(",", ":")
            ).encode("utf-8")
        return bytes(rfc8785.dumps(plain))
    except (_Unusual, UnicodeEncodeError, RecursionError, rfc8785.CanonicalizationError):
        pass  # The careful walk below names the offending path.
    try:
        plain = _json_model(value, "")
    except RecursionError as error:
        raise MessageInvalid({"": ["Nested too deeply."]}) from error
    try:
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as error:
        raise MessageInvalid({"": ["Not representable in RFC 8785 canonical JSON."]}) from error


def envelope_sha256(envelope: Mapping[str, Any]) -> str:
    """The envelope digest of PROTOCOL.md §3: lower-case hex SHA-256 of JCS(envelope)."""
    return hashlib.sha256(canonical_bytes(envelope)).hexdigest()


def parse_json(data: bytes | str) -> Any:
    """Parse one I-JSON text (RFC 7493): UTF-8, no duplicate names, no NaN; else JsonInvalid.

    Duplicate names are refused so that no two parsers read two messages out of signed bytes.
    Integers beyond ±(2**53 - 1) (RFC 7493 §2.2) and strings with a lone surrogate (§2.1) are
    refused here, naming their path, so that nothing after the parser meets them.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonInvalid("Not UTF-8.") from error
    else:
        text = data
    if text.startswith("\ufeff"):
        raise JsonInvalid("Must not start with a byte order mark.")
    out_of_range: list[str] = []

    def parse_int(literal: str) -> Any:
        # Length first: int() of thousands of digits is refused (or slow) by Python itself.
        if len(literal) > 17 or not -_INT_LIMIT <= (value := int(literal)) <= _INT_LIMIT:
            out_of_range.append(literal)
            return _OUT_OF_RANGE
        return value

    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_int=parse_int,
        )
    except JsonInvalid:
        raise
    except json.JSONDecodeError as error:
        raise JsonInvalid(f"Not valid JSON (line {error.lineno}, column {error.colno}).") from error
    except RecursionError as error:
        raise JsonInvalid("Nested too deeply.") from error
    if out_of_range or _SURROGATE_ESCAPE.search(text):
        _refuse_unrepresentable(value)
    return value


class _OutOfRange:
    """Stands in for an integer literal beyond the I-JSON range until its path is named."""


_OUT_OF_RANGE: Final = _OutOfRange()


def _refuse_unrepresentable(value: Any) -> None:
    """Raise JsonInvalid at the first integer out of range or string with a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if item is _OUT_OF_RANGE:
            raise JsonInvalid("Integer beyond the I-JSON range ±(2**53 - 1).", path)
        if isinstance(item, str) and not _is_scalar_text(item):
            raise JsonInvalid("Must be valid Unicode text (a lone surrogate).", path)
        if isinstance(item, dict):
            for key in item:
                if not _is_scalar_text(key):
                    raise JsonInvalid("Member names must be valid Unicode text.", path)
            stack.extend((child_path(path, k), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((child_path(path, i), v) for i, v in reversed(list(enumerate(item))))


def _is_scalar_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonInvalid("Duplicate member name in an object.")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise JsonInvalid("NaN and Infinity are not JSON numbers.")


class _Unusual(Exception):
    """Something the quick walk leaves to the careful one."""


def _simple_model(value: Any) -> tuple[Any, bool]:
    """Plain JSON data and whether it has no floats and only BMP member names; or _Unusual."""
    simple = True

    def walk(item: Any) -> Any:
        nonlocal simple
        if item is None or isinstance(item, (str, bool)):
            return item
        if isinstance(item, int):
            if not -_INT_LIMIT <= item <= _INT_LIMIT:
                raise _Unusual
            return item
        if isinstance(item, float):
            if not math.isfinite(item):
                raise _Unusual
            simple = False
            return item
        if isinstance(item, Mapping):
            plain: dict[str, Any] = {}
            for key, member in item.items():
                if not isinstance(key, str):
                    raise _Unusual
                if not key.isascii() and max(key) > "\uffff":
                    simple = False
                plain[key] = walk(member)
            return plain
        if isinstance(item, (list, tuple)):
            return [walk(member) for member in item]
        raise _Unusual

    return walk(value), simple


def _json_model(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise MessageInvalid({path: ["Must be valid Unicode text."]}) from error
        return value
    if isinstance(value, int):
        if not -_INT_LIMIT <= value <= _INT_LIMIT:
            raise MessageInvalid({path: ["Integer beyond the I-JSON range ±(2**53 - 1)."]})
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MessageInvalid({path: ["Must be a finite number."]})
        return value
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MessageInvalid({path: ["Object member names must be strings."]})
            _json_model(key, path)
            plain[key] = _json_model(item, child_path(path, key))
        return plain
    if isinstance(value, (list, tuple)):
        return [_json_model(item, child_path(path, index)) for index, item in enumerate(value)]
    raise MessageInvalid({path: ["Not a JSON value."]})
