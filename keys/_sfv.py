"""A small, strict RFC 8941 Structured Field parser and serializer.

Covers Dictionaries, Inner Lists, Items and Parameters: the forms RFC 9421 and RFC 9530 use.
Stricter than RFC 8941 in one way: duplicate dictionary keys and parameter names are refused
rather than "last one wins", so a signature cannot mean two things.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal


class StructuredFieldError(ValueError):
    """A field value that is not a valid Structured Field of the expected type."""


@dataclass(frozen=True)
class Token:
    """An sf-token (RFC 8941 §3.3.4), kept apart from sf-string."""

    value: str


BareItem = bool | int | Decimal | str | bytes | Token
Parameters = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    """A bare item with parameters (RFC 8941 §3.3)."""

    value: BareItem
    params: Parameters = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    """An inner list of items with parameters (RFC 8941 §3.1.1)."""

    items: tuple[Item, ...]
    params: Parameters = field(default_factory=dict)


Member = Item | InnerList

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_MAX_INTEGER = 999_999_999_999_999


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse a Dictionary field value (RFC 8941 §4.2.2)."""
    parser = _Parser(text)
    result = parser.dictionary()
    parser.finish()
    return result


def serialize_dictionary(members: Mapping[str, Member]) -> str:
    """Serialize a Dictionary (RFC 8941 §4.1.2)."""
    out = []
    for key, member in members.items():
        _check_key(key)
        if isinstance(member, Item) and member.value is True:
            out.append(key + serialize_parameters(member.params))
        else:
            out.append(f"{key}={serialize_member(member)}")
    return ", ".join(out)


def serialize_member(member: Member) -> str:
    """Serialize an Item or an Inner List."""
    if isinstance(member, InnerList):
        return serialize_inner_list(member)
    return serialize_item(member)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialize an Inner List with its parameters (RFC 8941 §4.1.1.1)."""
    items = " ".join(serialize_item(item) for item in inner.items)
    return f"({items}){serialize_parameters(inner.params)}"


def serialize_item(item: Item) -> str:
    """Serialize an Item with its parameters (RFC 8941 §4.1.3)."""
    return serialize_bare_item(item.value) + serialize_parameters(item.params)


def serialize_parameters(params: Mapping[str, BareItem]) -> str:
    """Serialize Parameters (RFC 8941 §4.1.1.2)."""
    out = []
    for key, value in params.items():
        _check_key(key)
        out.append(f";{key}" if value is True else f";{key}={serialize_bare_item(value)}")
    return "".join(out)


def serialize_bare_item(value: BareItem) -> str:
    """Serialize a bare item (RFC 8941 §4.1.3.1)."""
    # bool before int: bool is a subclass of int in Python.
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise StructuredFieldError("integer out of range")
        return str(value)
    if isinstance(value, Decimal):
        return _serialize_decimal(value)
    if isinstance(value, str):
        if any(not 0x20 <= ord(c) <= 0x7E for c in value):
            raise StructuredFieldError("string holds a character outside printable ASCII")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, Token):
        if not _TOKEN.fullmatch(value.value):
            raise StructuredFieldError("invalid token")
        return value.value
    return ":" + base64.b64encode(value).decode("ascii") + ":"


def _serialize_decimal(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    whole, _, fraction = format(rounded, "f").partition(".")
    if len(whole.lstrip("-")) > 12:
        raise StructuredFieldError("decimal out of range")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise StructuredFieldError(f"invalid key {key!r}")


class _Parser:
    """Recursive-descent parser following the algorithms of RFC 8941 §4.2."""

    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise StructuredFieldError("field value is not ASCII")
        self.text = text
        self.pos = 0
        self._skip_sp()

    def finish(self) -> None:
        self._skip_sp()
        if self.pos != len(self.text):
            raise StructuredFieldError("trailing characters")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _eof(self) -> bool:
        return self.pos >= len(self.text)

    def _skip_sp(self) -> None:
        while self._peek() == " ":
            self.pos += 1

    def _skip_ows(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise StructuredFieldError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def dictionary(self) -> dict[str, Member]:
        result: dict[str, Member] = {}
        while not self._eof():
            key = self._key()
            if key in result:
                raise StructuredFieldError(f"duplicate dictionary key {key!r}")
            if self._peek() == "=":
                self.pos += 1
                result[key] = self._item_or_inner_list()
            else:
                result[key] = Item(True, self._parameters())
            self._skip_ows()
            if self._eof():
                return result
            self._expect(",")
            self._skip_ows()
            if self._eof():
                raise StructuredFieldError("trailing comma")
        return result

    def _item_or_inner_list(self) -> Member:
        if self._peek() == "(":
            return self._inner_list()
        return Item(self._bare_item(), self._parameters())

    def _inner_list(self) -> InnerList:
        self._expect("(")
        items: list[Item] = []
        while not self._eof():
            self._skip_sp()
            if self._peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self._parameters())
            items.append(Item(self._bare_item(), self._parameters()))
            if self._peek() not in (" ", ")"):
                raise StructuredFieldError("inner list items must be separated by a space")
        raise StructuredFieldError("unterminated inner list")

    def _parameters(self) -> Parameters:
        params: Parameters = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip_sp()
            key = self._key()
            value: BareItem = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            if key in params:
                raise StructuredFieldError(f"duplicate parameter {key!r}")
            params[key] = value
        return params

    def _key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise StructuredFieldError(f"expected a key at {self.pos}")
        self.pos = match.end()
        return match.group()

    def _bare_item(self) -> BareItem:
        char = self._peek()
        if char == "-" or char.isdigit():
            return self._number()
        if char == '"':
            return self._string()
        if char == ":":
            return self._byte_sequence()
        if char == "?":
            return self._boolean()
        if char == "*" or char.isalpha():
            return self._token()
        raise StructuredFieldError(f"unexpected character at {self.pos}")

    def _number(self) -> int | Decimal:
        # RFC 8941 §4.2.4.
        negative = self._peek() == "-"
        if negative:
            self.pos += 1
        if not self._peek().isdigit():
            raise StructuredFieldError("expected a digit")
        digits = ""
        is_decimal = False
        while not self._eof():
            char = self._peek()
            if char.isdigit():
                digits += char
            elif char == "." and not is_decimal:
                if len(digits) > 12:
                    raise StructuredFieldError("decimal integer part too long")
                digits += char
                is_decimal = True
            else:
                break
            if len(digits) > (16 if is_decimal else 15):
                raise StructuredFieldError("number too long")
            self.pos += 1
        if not is_decimal:
            return -int(digits) if negative else int(digits)
        fraction = digits.partition(".")[2]
        if not 1 <= len(fraction) <= 3:
            raise StructuredFieldError("decimal must have 1 to 3 fractional digits")
        number = Decimal(digits)
        return -number if negative else number

    def _string(self) -> str:
        # RFC 8941 §4.2.5.
        self._expect('"')
        out: list[str] = []
        while not self._eof():
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self._peek()
                if escaped not in ('"', "\\"):
                    raise StructuredFieldError("invalid escape in string")
                out.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not 0x20 <= ord(char) <= 0x7E:
                raise StructuredFieldError("control character in string")
            else:
                out.append(char)
        raise StructuredFieldError("unterminated string")

    def _token(self) -> Token:
        match = _TOKEN.match(self.text, self.pos)
        if not match:
            raise StructuredFieldError("invalid token")
        self.pos = match.end()
        return Token(match.group())

    def _byte_sequence(self) -> bytes:
        # RFC 8941 §4.2.7; padding is required here.
        self._expect(":")
        end = self.text.find(":", self.pos)
        if end < 0:
            raise StructuredFieldError("unterminated byte sequence")
        encoded = self.text[self.pos : end]
        if not _BASE64.fullmatch(encoded):
            raise StructuredFieldError("byte sequence is not base64")
        try:
            value = base64.b64decode(encoded, validate=True)
        except binascii.Error as e:
            raise StructuredFieldError("byte sequence is not base64") from e
        self.pos = end + 1
        return value

    def _boolean(self) -> bool:
        self._expect("?")
        char = self._peek()
        if char not in ("0", "1"):
            raise StructuredFieldError("invalid boolean")
        self.pos += 1
        return char == "1"
