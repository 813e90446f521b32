"""成果共享 result share and 成果运用情况反馈 result-use feedback (DOMAIN.md)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import ValidationError, fields, validates_schema

from schemas.common import (
    ATTACHMENTS_MAX,
    AttachmentSchema,
    PayloadSchema,
    PeriodSchema,
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
    Flag,
    IdNumber,
    IsoDate,
    Text,
    Unique,
    validate_length,
)
from schemas.rectification import amounts_field

SHARE_TYPES: Final = {
    "econ_resp_result": "经济责任审计结果报告",
    "audit_report": "审计报告",
    "audit_decision": "审计决定书",
    "audit_bulletin": "审计专报/要情",
    "inspection_feedback": "巡察反馈意见",
    "inspection_problem_list": "巡察问题清单",
    "annual_plan": "年度审计/巡察计划",
    "rectification_report": "整改情况报告",
    "disciplinary_outcome": "处分决定",
    "assist_audit_letter": "协助审计实施函",
    "assist_rectify_letter": "协助审计整改函",
    "rectify_urge_notice": "审计整改督促告知函",
}
"""成果类型 kind of result shared."""

AUDIT_TIMINGS: Final = {"in_office": "任中", "departure": "离任"}
"""When an economic-responsibility audit took place relative to the official's tenure."""

RESPONSIBILITIES: Final = {
    "direct": "直接责任",
    "leadership": "领导责任",
    "supervisory": "主管责任",
}
"""责任类型 kind of responsibility an official bears for a finding."""

FINDING_HANDLINGS: Final = {
    "decision": "审计决定",
    "referred": "已移送",
    "suggestion": "审计建议",
}
"""处理方式 how a finding was handled."""

INTENDED_USES: Final = {
    "cadre_assessment": "干部考核",
    "appointment": "选拔任用",
    "reward_punishment": "奖惩",
    "personnel_file": "归入干部档案",
    "integrity_file": "廉政档案",
    "daily_supervision": "日常监督",
    "inspection_focus": "巡察重点",
    "audit_planning": "审计立项",
}
"""运用方式 what a shared result is meant to be used for."""

PLAN_KINDS: Final = {
    "audit": "审计",
    "econ_resp_audit": "经济责任审计",
    "inspection": "巡察",
}
"""What kind of project an annual plan's item is."""

DECISION_KINDS: Final = {
    "admonition": "诫勉",
    "position_adjustment": "调整岗位",
    "assessment_downgrade": "考核降等",
    "commendation": "表彰",
    "none": "无",
}
"""运用决定 decision taken on the strength of a shared result."""


class OfficialSchema(StrictSchema):
    """被审计领导干部 the official whose economic responsibility was audited."""

    name = Text(max_length=64, required=True, metadata={"description": "姓名 name"})
    position = Text(max_length=128, required=True, metadata={"description": "职务 position"})
    id_number = IdNumber(
        metadata={"description": "公民身份号码 citizen ID number (stored masked by the hub)"}
    )
    tenure_from = IsoDate(metadata={"description": "任职起始日期 tenure from"})
    tenure_to = IsoDate(metadata={"description": "任职截止日期 tenure to"})

    @validates_schema(skip_on_field_errors=True)
    def _tenure_ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("tenure_from"), data.get("tenure_to")
        if start is not None and end is not None and end < start:
            raise ValidationError("Must not be before tenure_from.", field_name="tenure_to")


class FindingSchema(StrictSchema):
    """审计发现 one finding of a shared result."""

    finding_id = Text(max_length=64, metadata={"description": "问题编号 finding id"})
    description = Text(
        max_length=5_000,
        multiline=True,
        required=True,
        metadata={"description": "问题描述 description"},
    )
    amount = Amount(metadata={"description": "涉及金额(元) amount, yuan"})
    qualification = Text(
        max_length=2_000, multiline=True, metadata={"description": "定性 qualification"}
    )
    responsibility = Choice(RESPONSIBILITIES, metadata={"description": "责任类型 responsibility"})
    handling = Choice(FINDING_HANDLINGS, metadata={"description": "处理方式 handling"})
    referral_id = BusinessKey(
        metadata={"description": "移送编号 referral id (required when handling is referred)"}
    )
    amounts = amounts_field("按口径金额 amounts by category (审计统计口径)")

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _referral_given(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        raise_if(
            requirement_errors(
                original_data,
                [
                    (
                        "referral_id",
                        data.get("handling") == "referred",
                        "Required when handling is referred.",
                    )
                ],
            )
        )


class PlanItemSchema(StrictSchema):
    """计划项目 one project of an annual audit or inspection plan."""

    project = Text(max_length=200, required=True, metadata={"description": "项目名称 project"})
    unit = fields.Nested(UnitSchema, metadata={"description": "被审计(巡察)单位 unit concerned"})
    kind = Choice(PLAN_KINDS, required=True, metadata={"description": "项目类型 kind"})
    period = fields.Nested(PeriodSchema, metadata={"description": "实施期间 period"})
    joint = Flag(metadata={"description": "巡审联动 run jointly with an inspection or audit"})


class ShareSchema(PayloadSchema):
    """result.share.v1 成果共享: an audit or inspection result shared for use by another body."""

    message_type = "result.share.v1"
    business_key = "share_id"

    share_id = BusinessKey(required=True, metadata={"description": "共享编号 share id"})
    share_type = Choice(SHARE_TYPES, required=True, metadata={"description": "成果类型 share type"})
    title = Text(max_length=200, metadata={"description": "标题 title"})
    doc_number = Text(max_length=64, metadata={"description": "文号 document number"})
    subject_unit = fields.Nested(
        UnitSchema,
        metadata={
            "description": "被审计(巡察)单位 unit concerned "
            "(required, but for an annual_plan with plan_items)"
        },
    )
    subject_official = fields.Nested(
        OfficialSchema,
        metadata={
            "description": "被审计领导干部 official concerned (required for econ_resp_result)"
        },
    )
    audit_timing = Choice(
        AUDIT_TIMINGS,
        metadata={"description": "审计时机 audit timing (required for econ_resp_result)"},
    )
    evaluation_summary = Text(
        max_length=LONG_TEXT, multiline=True, metadata={"description": "评价意见 evaluation"}
    )
    findings = fields.List(
        fields.Nested(FindingSchema),
        validate=validate_length(0, 500),
        metadata={"description": "审计发现 findings"},
    )
    intended_use = fields.List(
        Choice(INTENDED_USES),
        required=True,
        validate=[validate_length(1, len(INTENDED_USES)), Unique()],
        metadata={"description": "运用方式 intended use"},
    )
    attachments = fields.List(
        fields.Nested(AttachmentSchema),
        validate=validate_length(0, ATTACHMENTS_MAX),
        metadata={"description": "附件 attachments"},
    )
    ledger_item_ids = fields.List(
        BusinessKey(),
        validate=[validate_length(0, 500), Unique()],
        metadata={"description": "涉及台账编号 ledger items a letter or notice concerns"},
    )
    plan_items = fields.List(
        fields.Nested(PlanItemSchema),
        validate=validate_length(0, 2_000),
        metadata={"description": "计划项目 projects of an annual_plan"},
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _econ_resp_requirements(
        self, data: dict[str, Any], original_data: Any, **kwargs: Any
    ) -> None:
        share_type = data.get("share_type")
        econ_resp = share_type == "econ_resp_result"
        message = "Required when share_type is econ_resp_result."
        given = original_data if isinstance(original_data, dict) else {}
        plan = share_type == "annual_plan" and bool(given.get("plan_items"))
        raise_if(
            requirement_errors(
                original_data,
                [
                    ("subject_official", econ_resp, message),
                    ("audit_timing", econ_resp, message),
                    (
                        "subject_unit",
                        not plan,
                        "Required, but for an annual_plan that carries plan_items.",
                    ),
                ],
            )
        )
        if given.get("plan_items") and share_type not in (None, "annual_plan"):
            raise ValidationError("Only an annual_plan carries plan_items.", "plan_items")


class DecisionSchema(StrictSchema):
    """运用决定 one decision taken on the strength of a shared result."""

    kind = Choice(DECISION_KINDS, required=True, metadata={"description": "决定类型 kind"})
    persons = Count(maximum=100_000, metadata={"description": "涉及人数 number of persons"})


class ResultFeedbackSchema(PayloadSchema):
    """result.feedback.v1 成果运用情况反馈: how the receiver used a shared result."""

    message_type = "result.feedback.v1"
    business_key = "share_id"
    replies = True

    share_id = BusinessKey(required=True, metadata={"description": "共享编号 share id"})
    used_for = fields.List(
        Choice(INTENDED_USES),
        validate=[validate_length(0, len(INTENDED_USES)), Unique()],
        metadata={"description": "运用方式 used for"},
    )
    actions = Text(
        max_length=LONG_TEXT,
        multiline=True,
        required=True,
        metadata={"description": "运用情况 actions taken"},
    )
    decisions = fields.List(
        fields.Nested(DecisionSchema),
        validate=validate_length(0, 50),
        metadata={"description": "运用决定 decisions"},
    )
    occurred_at = IsoDate(metadata={"description": "运用日期 date of use"})
