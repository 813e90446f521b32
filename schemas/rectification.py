"""整改状态 rectification status: one ledger line (台账条目) at one moment (DOMAIN.md)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import ValidationError, fields, validates_schema

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
    Unique,
    Year,
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


AMOUNT_CATEGORIES: Final = {
    "violation": "违规问题金额",
    "irregular": "管理不规范问题金额",
    "revenue_increase_saving": "增收节支",
    "recovered": "追回(收回)资金",
    "loss_avoided": "挽回(避免)损失",
    "investment_reduced": "审减(核减)投资额",
    "funds_disbursed": "促进资金拨付到位",
    "funds_revitalised": "盘活存量资金",
    "remitted_to_treasury": "上缴财政",
    "returned_to_source": "归还原资金渠道",
}
"""审计统计口径: the categories money is counted by (DOMAIN.md, Version 1 additions)."""

SUPERVISION_KINDS: Final = {
    "urge_letter": "催办函",
    "interview": "约谈",
    "on_site_check": "实地核查",
    "joint_review": "联合回头看",
    "npc_inspection": "人大督查",
}
"""督促 how a ledger owner (or another body) pressed a responsible unit to rectify."""


class CategoryAmountSchema(StrictSchema):
    """按口径金额 an amount in one audit-statistics category."""

    category = Choice(
        AMOUNT_CATEGORIES, required=True, metadata={"description": "金额口径 category"}
    )
    amount = Amount(required=True, metadata={"description": "金额(元) amount, yuan"})


def amounts_field(description: str) -> fields.List[Any]:
    """``amounts[]``: one amount per category (a later line replaces per category)."""
    return fields.List(
        fields.Nested(CategoryAmountSchema),
        validate=[validate_length(0, len(AMOUNT_CATEGORIES)), _one_per_category],
        metadata={"description": description},
    )


def _one_per_category(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    categories = [amount.get("category") for amount in value]
    if len(categories) != len(set(categories)):
        raise ValidationError("Must not give one category twice.")
    return value


class SupervisionActSchema(StrictSchema):
    """督促 one act of pressing for rectification: a letter, an interview, a check."""

    kind = Choice(SUPERVISION_KINDS, required=True, metadata={"description": "督促方式 kind"})
    date = IsoDate(required=True, metadata={"description": "日期 date"})
    by = Text(max_length=200, metadata={"description": "督促单位 by whom"})


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
    status_date = IsoDate(
        metadata={
            "description": "状态日期 the day the status held from "
            "(default: the Beijing date of sent_at)"
        }
    )
    source_year = Year(
        metadata={
            "description": "问题所属年度 year of the problem "
            "(default: the 〔YYYY〕 of source_doc_number)"
        },
    )
    source_project = Text(
        max_length=200, metadata={"description": "审计(巡察)项目名称 audit or inspection project"}
    )
    problem_category = Text(max_length=100, metadata={"description": "问题类别 problem category"})
    co_responsible_units = fields.List(
        fields.Nested(UnitSchema),
        validate=[validate_length(0, 50), Unique()],
        metadata={"description": "共同整改责任单位 co-responsible units"},
    )
    referral_id = BusinessKey(
        metadata={"description": "移送编号 the owner's referral this item follows up"}
    )
    amounts = amounts_field("按口径金额 amounts by category (审计统计口径)")
    supervision = fields.List(
        fields.Nested(SupervisionActSchema),
        validate=validate_length(0, 200),
        metadata={"description": "督促情况 supervision acts (催办、约谈…)"},
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
