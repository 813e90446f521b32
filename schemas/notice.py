"""交换中心通知 hub notice: sent and signed by the hub itself (DOMAIN.md)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import validates_schema

from schemas.common import PayloadSchema, raise_if, requirement_errors
from schemas.fields import Choice, IsoDate, Text

NOTICE_KINDS: Final = {
    "review_rejected": "审核驳回",
    "feedback_overdue": "线索反馈逾期",
    "rectification_overdue": "整改逾期",
}
"""What a hub notice is about."""


class NoticeSchema(PayloadSchema):
    """hub.notice.v1 交换中心通知: a rejection or an overdue reminder from the hub."""

    message_type = "hub.notice.v1"

    notice = Choice(NOTICE_KINDS, required=True, metadata={"description": "通知类型 notice"})
    about = Text(
        max_length=128,
        required=True,
        metadata={"description": "所涉消息或业务编号 message id or business key concerned"},
    )
    reason = Text(
        max_length=2_000,
        multiline=True,
        metadata={"description": "原因 reason (required for review_rejected)"},
    )
    due = IsoDate(metadata={"description": "时限 the date that passed (overdue notices)"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _reason_given(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        raise_if(
            requirement_errors(
                original_data,
                [
                    (
                        "reason",
                        data.get("notice") == "review_rejected",
                        "Required when notice is review_rejected.",
                    )
                ],
            )
        )
