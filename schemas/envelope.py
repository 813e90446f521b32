"""The envelope every message travels in (PROTOCOL.md §2)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import ValidationError, fields, validates_schema

from schemas.common import StrictSchema
from schemas.fields import (
    Choice,
    JsonObject,
    MessageId,
    PartnerId,
    Rfc3339,
    Text,
    Unique,
    validate_length,
)

CLASSIFICATIONS: Final = {"public": "公开", "internal": "内部", "sensitive": "敏感"}
"""The classifications the hub carries; every state-secret level is refused before this."""

MESSAGE_TYPE_LABELS: Final = {
    "clue.referral.v1": "问题线索移送",
    "clue.feedback.v1": "线索办理情况反馈",
    "result.share.v1": "成果共享",
    "result.feedback.v1": "成果运用情况反馈",
    "rectification.status.v1": "整改状态",
    "hub.notice.v1": "交换中心通知",
}
"""Message type → Chinese label."""

RECIPIENTS_MAX: Final = 20
"""Most recipients one message may name."""


class EnvelopeSchema(StrictSchema):
    """消息信封 the envelope: who sends what to whom, when; the payload is checked by type."""

    id = MessageId(required=True, metadata={"description": "消息编号 message id"})
    type = Text(
        max_length=64,
        required=True,
        metadata={
            "description": "消息类型 message type",
            "labels": MESSAGE_TYPE_LABELS,
            "x-labels": MESSAGE_TYPE_LABELS,
        },
    )
    sender = PartnerId(
        allow_hub=True,
        data_key="from",
        required=True,
        metadata={"description": "发送方 sender partner id"},
    )
    recipients = fields.List(
        PartnerId(),
        data_key="to",
        required=True,
        validate=[validate_length(1, RECIPIENTS_MAX), Unique()],
        metadata={"description": "接收方 recipient partner ids"},
    )
    sent_at = Rfc3339(required=True, metadata={"description": "发送时间 sent at (RFC 3339)"})
    classification = Choice(
        CLASSIFICATIONS, required=True, metadata={"description": "密级标识 classification"}
    )
    subject = Text(
        max_length=128,
        metadata={"description": "业务编号 subject: the business key the message is about"},
    )
    in_reply_to = MessageId(metadata={"description": "回复的消息 message this one answers"})
    payload = JsonObject(required=True, metadata={"description": "消息内容 payload"})

    @validates_schema(skip_on_field_errors=False)
    def _not_to_self(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("sender") in data.get("recipients", ()):
            raise ValidationError("Must not include the sender.", field_name="to")
