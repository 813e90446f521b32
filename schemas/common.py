"""The strict base schemas and the shapes shared by several message types (unit, attachment…)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, validate, validates_schema

from schemas.fields import (
    MEDIA_TYPE_RE,
    PHONE_RE,
    Count,
    IsoDate,
    Sha256,
    Text,
    Uscc,
)


class StrictSchema(Schema):
    """A schema that refuses unknown fields and non-object input, at every level."""

    class Meta:
        """Unknown fields are errors."""

        unknown = RAISE

    error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "unknown": "Unknown field.",
        "type": "Must be a JSON object.",
    }


class PayloadSchema(StrictSchema):
    """The payload of one message type; the class variables tie it to its envelope."""

    message_type: ClassVar[str]
    """The envelope `type` this payload belongs to, e.g. `clue.referral.v1`."""
    business_key: ClassVar[str | None] = None
    """The payload field that the envelope's `subject` must equal, when the subject is given."""
    replies: ClassVar[bool] = False
    """Whether the envelope must carry `in_reply_to` (the message this one answers)."""


def requirement_errors(
    original: Any, requirements: list[tuple[str, bool, str]]
) -> dict[str, list[str]]:
    """Errors for conditionally required fields, given (field, condition holds, message).

    A present key counts as given (a malformed value has its own error), except an empty list.
    """
    if not isinstance(original, Mapping):
        return {}
    errors: dict[str, list[str]] = {}
    for field, condition, message in requirements:
        if not condition:
            continue
        value = original.get(field)
        if field not in original or value == []:
            errors.setdefault(field, []).append(message)
    return errors


def raise_if(errors: Mapping[str, list[str]]) -> None:
    """Raise the collected errors of a schema-level validator, if any."""
    if errors:
        raise ValidationError(dict(errors))


class UnitSchema(StrictSchema):
    """单位 unit: a body, an enterprise or an institution, named with its USCC."""

    name = Text(max_length=200, required=True, metadata={"description": "单位名称 unit name"})
    uscc = Uscc(
        required=True,
        metadata={"description": "统一社会信用代码 unified social credit code (GB 32100)"},
    )


class AttachmentSchema(StrictSchema):
    """附件 attachment: described and fingerprinted; the file itself travels out of band."""

    name = Text(
        max_length=255,
        required=True,
        validate=validate.Regexp(r"\A[^/\\]+\Z", error="Must be a file name, not a path."),
        metadata={"description": "文件名 file name"},
    )
    media_type = Text(
        max_length=255,
        required=True,
        validate=validate.Regexp(MEDIA_TYPE_RE, error="Not a valid media type."),
        metadata={"description": "媒体类型 media type (RFC 6838), e.g. application/pdf"},
    )
    size = Count(required=True, metadata={"description": "文件大小 size in bytes"})
    sha256 = Sha256(
        required=True, metadata={"description": "SHA-256 摘要 SHA-256 digest (lower-case hex)"}
    )


class PeriodSchema(StrictSchema):
    """期间 period: from one date to another, both included."""

    from_ = IsoDate(
        data_key="from",
        attribute="from",
        required=True,
        metadata={"description": "起始日期 first day"},
    )
    to = IsoDate(required=True, metadata={"description": "截止日期 last day"})

    @validates_schema(skip_on_field_errors=True)
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["to"] < data["from"]:
            raise ValidationError("Must not be before from.", field_name="to")


class ContactSchema(StrictSchema):
    """联系人 contact person at the sending body."""

    name = Text(max_length=64, required=True, metadata={"description": "姓名 name"})
    phone = Text(
        max_length=32,
        required=True,
        validate=validate.Regexp(PHONE_RE, error="Not a valid telephone number."),
        metadata={"description": "联系电话 telephone"},
    )


class ResponsiblePersonSchema(StrictSchema):
    """责任人 a person named with a position, without an ID number."""

    name = Text(max_length=64, required=True, metadata={"description": "姓名 name"})
    position = Text(max_length=128, metadata={"description": "职务 position"})


ATTACHMENTS_MAX = 100
"""Most attachments (evidence, files) one message may describe."""

__all__ = [
    "ATTACHMENTS_MAX",
    "AttachmentSchema",
    "ContactSchema",
    "PayloadSchema",
    "PeriodSchema",
    "ResponsiblePersonSchema",
    "StrictSchema",
    "UnitSchema",
    "raise_if",
    "requirement_errors",
]
