"""Marshmallow fields for the wire types of DOMAIN.md: text, codes, amounts, dates, choices.

No error message repeats the value it refuses: messages name the rule, never the input.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import regex
from marshmallow import ValidationError, fields, validate

from schemas.classified import HIDDEN_CHARACTERS
from schemas.codes import id_number_problem, uscc_problem
from schemas.identity import HUB_PARTNER_ID, PARTNER_ID_RE

MESSAGE_ID_RE: Final = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")
"""A message id (PROTOCOL.md §2): 16 to 64 URL-safe characters, e.g. a UUID or a ULID."""

AMOUNT_RE: Final = re.compile(r"\A(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,2})?\Z")
"""An amount in yuan: a non-negative decimal with at most 2 decimals, no sign, no exponent."""

SHA256_RE: Final = re.compile(r"\A[0-9a-f]{64}\Z")
MEDIA_TYPE_RE: Final = re.compile(
    r"\A[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z"
)
PHONE_RE: Final = re.compile(r"\A\+?[0-9][0-9 ()-]{2,31}\Z")
_DATE_RE: Final = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIMESTAMP_RE: Final = re.compile(
    r"\A(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"
)
# C0 controls and DEL; tab, line feed and carriage return are allowed in multi-line text only.
_CONTROL_LINE: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lone surrogates come through json.loads but cannot be encoded as UTF-8 (RFC 8785 §3.2.2.2).
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest integer every JSON implementation reads exactly (RFC 7493 §2.2)."""

LONG_TEXT: Final = 20_000
"""Longest free text (问题事实 facts, 整改措施 measures…), in characters."""


class Text(fields.String):
    """A string of 1..`max_length` characters with no control characters and no blank value.

    `multiline=True` also admits tab, line feed and carriage return.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "invalid": "Not a valid string.",
        "blank": "Must not be blank.",
        "control": "Must not contain control characters.",
        "unicode": "Must be valid Unicode text.",
    }

    def __init__(
        self,
        *,
        max_length: int,
        min_length: int = 1,
        multiline: bool = False,
        validate: Any = None,
        **kwargs: Any,
    ) -> None:
        validators: list[Any] = [validate_length(min_length, max_length)]
        if callable(validate):
            validators.append(validate)
        elif validate is not None:
            validators.extend(validate)
        super().__init__(validate=validators, **kwargs)
        self.max_length = max_length
        self.multiline = multiline

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if value and not value.strip():
            raise self.make_error("blank")
        control = _CONTROL_MULTILINE if self.multiline else _CONTROL_LINE
        if control.search(value):
            raise self.make_error("control")
        if _SURROGATE.search(value):
            raise self.make_error("unicode")
        return value


def validate_length(min_length: int, max_length: int) -> validate.Length:
    """A length validator whose messages state the bounds only."""
    return validate.Length(
        min=min_length,
        max=max_length,
        error="Length must be between {min} and {max}.",
    )


class BusinessKey(Text):
    """A business key chosen by the record's owner (`referral_id`, `share_id`…): no spaces,
    and nothing invisible (format characters, combining marks), so that two keys that look
    the same are the same key.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=128,
            validate=[
                validate.Regexp(r"\A\S+\Z", error="Must not contain spaces."),
                _refuse_hidden,
            ],
            **kwargs,
        )


_HIDDEN: Final = regex.compile(f"[{HIDDEN_CHARACTERS}]")


def _refuse_hidden(value: str) -> str:
    if _HIDDEN.search(value):
        raise ValidationError("Must not contain invisible characters or combining marks.")
    return value


class Choice(fields.String):
    """One wire value of an enumeration; `labels` maps each value to its Chinese label.

    The labels go to `metadata["labels"]` (and `x-labels`, for OpenAPI) for UI and docs.
    """

    def __init__(self, labels: Mapping[str, str], **kwargs: Any) -> None:
        metadata = {"labels": dict(labels), "x-labels": dict(labels), **kwargs.pop("metadata", {})}
        super().__init__(
            validate=validate.OneOf(list(labels), error="Must be one of: {choices}."),
            metadata=metadata,
            **kwargs,
        )
        self.labels: dict[str, str] = dict(labels)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class Uscc(fields.String):
    """统一社会信用代码: 18 characters with the GB 32100-2015 check character."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        problem = uscc_problem(value)
        if problem is not None:
            raise ValidationError(problem)
        return value


class IdNumber(fields.String):
    """公民身份号码: 18 characters, a real birth date and the GB 11643 check character.

    The hub stores these masked plus a keyed hash; see `schemas.id_numbers`.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        problem = id_number_problem(value)
        if problem is not None:
            raise ValidationError(problem)
        return value


class Amount(fields.Field[Decimal]):
    """An amount in yuan (元) as a JSON string: `"1250.50"`; loads as a `Decimal`.

    A JSON number is refused, because binary floating point cannot hold every amount.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "number": "Must be a string, not a number.",
        "invalid": "Must be a decimal string in yuan with at most 2 decimals.",
        "negative": "Must not be negative.",
    }

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return format(value, "f")

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise self.make_error("number")
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if value.startswith("-"):
            raise self.make_error("negative")
        if AMOUNT_RE.match(value) is None:
            raise self.make_error("invalid")
        return Decimal(value)


class IsoDate(fields.Field[dt.date]):
    """A calendar date, ISO 8601 `YYYY-MM-DD`; loads as a `datetime.date`."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "invalid": "Not a valid date (YYYY-MM-DD)."
    }

    def _serialize(self, value: dt.date | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.isoformat()

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dt.date:
        if not isinstance(value, str) or _DATE_RE.match(value) is None:
            raise self.make_error("invalid")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as error:
            raise self.make_error("invalid") from error


class Rfc3339(fields.Field[dt.datetime]):
    """An RFC 3339 timestamp that carries its UTC offset; loads as an aware `datetime`."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "invalid": "Not a valid RFC 3339 timestamp.",
        "naive": "Must include a UTC offset (RFC 3339), e.g. +08:00 or Z.",
    }

    def _serialize(
        self, value: dt.datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> Any:
        return None if value is None else value.isoformat()

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dt.datetime:
        match = _TIMESTAMP_RE.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        if match["offset"] is None:
            raise self.make_error("naive")
        offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
        # datetime reads at most microseconds; RFC 3339 allows any number of digits.
        fraction = f".{match['fraction'][:6]}" if match["fraction"] else ""
        try:
            parsed = dt.datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}")
        except ValueError as error:
            raise self.make_error("invalid") from error
        return parsed


class Count(fields.Integer):
    """A non-negative whole number given as a JSON integer (`persons`, `rules_made`…)."""

    def __init__(self, *, maximum: int = MAX_SAFE_INTEGER, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(
                min=0, max=maximum, error="Must be a whole number from {min} to {max}."
            ),
            **kwargs,
        )


class Year(fields.Integer):
    """A calendar year given as a JSON integer, 1949..2100 (问题所属年度)."""

    FIRST: Final = 1949
    LAST: Final = 2100

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(
                min=self.FIRST, max=self.LAST, error="Must be a year from {min} to {max}."
            ),
            **kwargs,
        )


class Flag(fields.Boolean):
    """A JSON `true` or `false`, nothing else (no 1, no "yes")."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class Sha256(fields.String):
    """A SHA-256 digest as 64 lower-case hexadecimal characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Regexp(
                SHA256_RE, error="Must be 64 lower-case hexadecimal characters."
            ),
            **kwargs,
        )


class PartnerId(fields.String):
    """A partner id, `<body>.<name>` (PROTOCOL.md §1); `allow_hub` also admits `hub`."""

    def __init__(self, *, allow_hub: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_hub = allow_hub

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if self.allow_hub and value == HUB_PARTNER_ID:
            return value
        if PARTNER_ID_RE.match(value) is None:
            raise ValidationError("Not a valid partner id.")
        return value


class MessageId(fields.String):
    """A message id, `^[A-Za-z0-9_-]{16,64}$`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Regexp(MESSAGE_ID_RE, error="Not a valid message id."), **kwargs
        )


class JsonObject(fields.Field[dict[str, Any]]):
    """Any JSON object, kept as given (the envelope's payload, checked by its own schema)."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "invalid": "Must be a JSON object."
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        return dict(value)


class Unique(validate.Validator):
    """Refuse a list that holds the same value twice."""

    error = "Must not contain duplicates."

    def __call__(self, value: Any) -> Any:
        """The list, if no value repeats; else a ValidationError."""
        seen: list[Any] = []
        for item in value:
            if item in seen:
                raise ValidationError(self.error)
            seen.append(item)
        return value
