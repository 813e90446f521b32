"""整改状态 rectification status: one ledger line (台账条目) at one moment (DOMAIN.md)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import fields, validates_schema

from schemas.common import (
    ATTACHMENTS_MAX,
    AttachmentSchema,
    PayloadSchema,
    ResponsiblePersonSchema,
    StrictSchema,
    UnitSchema,
    raise_if,
    requirement_errors,
)
from schemas.fields import (
    LONG_TEXT,
    Amount,
    BusinessKey,
    Choice,
    Count,
    IsoDate,
    Text,
    validate_length,
)

RECTIFICATION_SOURCES: Final = {
    "audit": "审计",
    "econ_resp_audit": "经济责任审计",
    "inspection": "巡察",
    "referral": "移送事项",
}
"""Where the problem on a ledger line was found."""

RECTIFICATION_CLASSES: Final = {
    "immediate": "立行立改",
    "phased": "分阶段整改",
    "continuous": "持续整改",
}
"""整改类型 how a problem is to be rectified."""

RECTIFICATION_STATUSES: Final = {
    "pending": "待整改",
    "in_progress": "整改中",
    "submitted": "已报送待认定",
    "ongoing": "持续整改",
    "not_rectified": "未整改",
    "completed": "已完成整改",
    "closed": "已销号",
}
"""整改状态 status of a ledger line."""

RECTIFICATION_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"in_progress", "submitted"}),
    "in_progress": frozenset({"submitted", "ongoing", "not_rectified"}),
    "submitted": frozenset({"completed", "in_progress", "ongoing"}),
    "ongoing": frozenset({"in_progress", "submitted"}),
    "not_rectified": frozenset({"in_progress"}),
    "completed": frozenset({"closed"}),
    "closed": frozenset({"pending"}),
}
"""Status → the statuses a later message may report (DOMAIN.md; the hub enforces them)."""

EVIDENCE_REQUIRED: Final = frozenset({"submitted", "completed"})
"""Statuses whose message must carry evidence."""

VERIFICATION_REQUIRED: Final = frozenset({"completed", "ongoing", "not_rectified", "closed"})
"""Statuses whose message must carry the verification (认定) of the rectification."""


class MilestoneSchema(StrictSchema):
    """阶段目标 one stage of a phased rectification."""

    stage = Text(max_length=128, required=True, metadata={"description": "阶段 stage"})
    target = Text(max_length=2_000, multiline=True, metadata={"description": "阶段目标 target"})
    due = IsoDate(required=True, metadata={"description": "完成时限 due date"})
    done_at = IsoDate(metadata={"description": "完成日期 date done"})


class VerificationSchema(StrictSchema):
    """认定 who verified the rectification, when, and their opinion."""

    by = Text(max_length=200, required=True, metadata={"description": "认定单位 verified by"})
    at = IsoDate(required=True, metadata={"description": "认定日期 verification date"})
    opinion = Text(max_length=5_000, multiline=True, metadata={"description": "认定意见 opinion"})


class RectificationSchema(PayloadSchema):
    """rectification.status.v1 整改状态: a ledger line's status, sent by the ledger owner."""

    message_type = "rectification.status.v1"
    business_key = "ledger_item_id"

    ledger_item_id = BusinessKey(required=True, metadata={"description": "台账编号 ledger item id"})
    source = Choice(
        RECTIFICATION_SOURCES, required=True, metadata={"description": "问题来源 source"}
    )
    source_doc_number = Text(
        max_length=64,
        required=True,
        metadata={"description": "来源文书文号 document number of the source"},
    )
    inspection_round = Text(max_length=64, metadata={"description": "巡察轮次 inspection round"})
    responsible_unit = fields.Nested(
        UnitSchema, required=True, metadata={"description": "整改责任单位 responsible unit"}
    )
    first_responsible = fields.Nested(
        ResponsiblePersonSchema,
        metadata={"description": "第一责任人 person first responsible"},
    )
    problem_description = Text(
        max_length=LONG_TEXT,
        multiline=True,
        required=True,
        metadata={"description": "问题描述 problem description"},
    )
    measures = Text(
        max_length=LONG_TEXT, multiline=True, metadata={"description": "整改措施 measures"}
    )
    amount_involved = Amount(metadata={"description": "问题金额(元) amount involved, yuan"})
    amount_rectified = Amount(metadata={"description": "整改金额(元) amount rectified, yuan"})
    rectification_class = Choice(
        RECTIFICATION_CLASSES,
        required=True,
        metadata={"description": "整改类型 rectification class"},
    )
    deadline = IsoDate(required=True, metadata={"description": "整改时限 deadline"})
    milestones = fields.List(
        fields.Nested(MilestoneSchema),
        validate=validate_length(0, 50),
        metadata={"description": "阶段目标 milestones (required for phased)"},
    )
    status = Choice(
        RECTIFICATION_STATUSES, required=True, metadata={"description": "整改状态 status"}
    )
    evidence = fields.List(
        fields.Nested(AttachmentSchema),
        validate=validate_length(0, ATTACHMENTS_MAX),
        metadata={"description": "佐证材料 evidence (required when submitted or completed)"},
    )
    rules_made = Count(
        maximum=100_000, metadata={"description": "完善制度数 rules made or revised"}
    )
    persons_held_accountable = Count(
        maximum=100_000, metadata={"description": "问责人数 persons held accountable"}
    )
    verification = fields.Nested(
        VerificationSchema,
        metadata={
            "description": "认定情况 verification "
            "(required for completed, ongoing, not_rectified, closed)"
        },
    )
    reopen_reason = Text(
        max_length=2_000,
        multiline=True,
        metadata={"description": "重新打开原因 reopen reason (required for closed → pending)"},
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _status_requirements(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        status = data.get("status")
        raise_if(
            requirement_errors(
                original_data,
                [
                    (
                        "milestones",
                        data.get("rectification_class") == "phased",
                        "Required when rectification_class is phased.",
                    ),
                    (
                        "evidence",
                        status in EVIDENCE_REQUIRED,
                        "Required when status is submitted or completed.",
                    ),
                    (
                        "verification",
                        status in VERIFICATION_REQUIRED,
                        "Required when status is completed, ongoing, not_rectified or closed.",
                    ),
                ],
            )
        )
