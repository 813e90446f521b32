"""问题线索移送 clue referral and 线索办理情况反馈 clue feedback (DOMAIN.md)."""

from __future__ import annotations

from typing import Any, Final

from marshmallow import fields, validates_schema

from schemas.common import (
    ATTACHMENTS_MAX,
    AttachmentSchema,
    ContactSchema,
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
    validate_length,
)

SOURCE_KINDS: Final = {"audit_project": "审计项目", "inspection_round": "巡察轮次"}
"""Where a referred clue was found."""

ISSUE_CATEGORIES: Final = {
    "embezzlement_bribery": "贪污贿赂",
    "dereliction": "失职渎职",
    "abuse_of_power": "滥用职权",
    "favoritism": "徇私舞弊",
    "eight_rules": "违反中央八项规定精神",
    "state_asset_loss": "国有资产重大损失",
    "finance_discipline": "违反财经纪律",
    "other": "其他",
}
"""问题类别 issue category of a referred clue."""

FEEDBACK_STAGES: Final = {
    "received": "已签收",
    "accepted": "已受理",
    "returned": "退回",
    "transferred": "已转送",
    "disposed": "已处置",
    "concluded": "已办结",
}
"""Stage a clue feedback reports."""

DISPOSITIONS: Final = {
    "talk_inquiry": "谈话函询",
    "preliminary_verification": "初步核实",
    "shelved": "暂存待查",
    "closed_no_action": "予以了结",
    "filed_investigation": "立案审查调查",
    "investigation": "调查核查",
    "case_filed": "立案",
    "penalty": "处理处罚",
    "accountability": "追责问责",
    "not_filed": "不立案",
    "transferred": "转交办理",
}
"""处置方式 how the receiving body disposes of a clue (the last six: a competent authority's)."""

AUTHORITY_DISPOSITIONS: Final = frozenset(
    {"investigation", "case_filed", "penalty", "accountability", "not_filed", "transferred"}
)
"""The dispositions of a competent authority 行政主管部门; the others are the other bodies'."""

OUTCOMES: Final = {
    "party_discipline": "党纪处分",
    "government_sanction": "政务处分",
    "admonition": "诫勉谈话",
    "circulated_criticism": "通报批评",
    "reminder_talk": "谈话提醒",
    "critical_education": "批评教育",
    "organizational_handling": "组织处理",
    "clarified": "了结澄清",
    "to_judiciary": "移送司法",
}
"""办理结果 outcome of a concluded clue."""

REFERRAL_STATES: Final = {
    "submitted": "已提交",
    "pending_review": "待审核",
    "released": "已放行",
    "rejected": "已驳回",
    "delivered": "已送达",
    "acked": "已签收回执",
    "accepted": "已受理",
    "returned": "退回",
    "transferred": "已转送",
    "disposed": "已处置",
    "concluded": "已办结",
}
"""States of a referral as the hub tracks it (labels for the UI; the hub owns the rules)."""


class ReferralSourceSchema(StrictSchema):
    """来源 the audit project or inspection round in which the clue was found."""

    kind = Choice(SOURCE_KINDS, required=True, metadata={"description": "来源类型 source kind"})
    name = Text(
        max_length=200, required=True, metadata={"description": "项目或轮次名称 project or round"}
    )
    number = Text(max_length=64, metadata={"description": "项目编号 project or round number"})
    period = fields.Nested(PeriodSchema, metadata={"description": "审计(巡察)期间 period covered"})
    scope = Text(max_length=2_000, multiline=True, metadata={"description": "审计(巡察)范围 scope"})


class InvolvedPersonSchema(StrictSchema):
    """涉及人员 a person a clue concerns."""

    name = Text(max_length=64, required=True, metadata={"description": "姓名 name"})
    position = Text(max_length=128, metadata={"description": "职务 position"})
    id_number = IdNumber(
        metadata={"description": "公民身份号码 citizen ID number (stored masked by the hub)"}
    )
    cadre_authority = Text(
        max_length=128, metadata={"description": "干部管理权限 cadre management authority"}
    )


class ReferralSchema(PayloadSchema):
    """clue.referral.v1 问题线索移送: a clue handed to the body competent to pursue it."""

    message_type = "clue.referral.v1"
    business_key = "referral_id"

    referral_id = BusinessKey(required=True, metadata={"description": "移送编号 referral id"})
    doc_number = Text(
        max_length=64, metadata={"description": "文号 document number, e.g. X审移〔2025〕3号"}
    )
    source = fields.Nested(
        ReferralSourceSchema, required=True, metadata={"description": "线索来源 source"}
    )
    audited_unit = fields.Nested(
        UnitSchema,
        required=True,
        metadata={"description": "被审计(巡察)单位 audited or inspected unit"},
    )
    involved_persons = fields.List(
        fields.Nested(InvolvedPersonSchema),
        validate=validate_length(0, 200),
        metadata={"description": "涉及人员 persons involved"},
    )
    issue_category = Choice(
        ISSUE_CATEGORIES, required=True, metadata={"description": "问题类别 issue category"}
    )
    facts = Text(
        max_length=LONG_TEXT,
        multiline=True,
        required=True,
        metadata={"description": "问题事实 facts of the issue"},
    )
    qualification = Text(
        max_length=2_000, multiline=True, metadata={"description": "定性 qualification"}
    )
    legal_basis = fields.List(
        Text(max_length=500, multiline=True),
        required=True,
        validate=validate_length(1, 50),
        metadata={"description": "法律法规依据 legal basis"},
    )
    amount_involved = Amount(metadata={"description": "涉及金额(元) amount involved, yuan"})
    evidence = fields.List(
        fields.Nested(AttachmentSchema),
        required=True,
        validate=validate_length(1, ATTACHMENTS_MAX),
        metadata={"description": "证据材料 evidence (at least one)"},
    )
    auditor_opinion = Text(
        max_length=5_000, multiline=True, metadata={"description": "审计意见 auditor's opinion"}
    )
    feedback_due = IsoDate(
        required=True,
        metadata={"description": "反馈时限 feedback due (normally 3 months, 6 when complex)"},
    )
    complex = Flag(metadata={"description": "情况复杂 complex case (6-month feedback period)"})
    contact = fields.Nested(ContactSchema, metadata={"description": "联系人 contact person"})


class OutcomeSchema(StrictSchema):
    """办理结果 one outcome of a concluded clue."""

    outcome = Choice(OUTCOMES, required=True, metadata={"description": "结果类型 outcome"})
    persons = Count(maximum=100_000, metadata={"description": "涉及人数 number of persons"})
    recovered_amount = Amount(metadata={"description": "追回资金(元) amount recovered, yuan"})


class ClueFeedbackSchema(PayloadSchema):
    """clue.feedback.v1 线索办理情况反馈: the receiver tells the referrer how the clue fares."""

    message_type = "clue.feedback.v1"
    business_key = "referral_id"
    replies = True

    referral_id = BusinessKey(required=True, metadata={"description": "移送编号 referral id"})
    stage = Choice(FEEDBACK_STAGES, required=True, metadata={"description": "办理阶段 stage"})
    disposition = Choice(
        DISPOSITIONS,
        metadata={"description": "处置方式 disposition (required when stage is disposed)"},
    )
    outcomes = fields.List(
        fields.Nested(OutcomeSchema),
        validate=validate_length(0, 50),
        metadata={"description": "办理结果 outcomes (required when stage is concluded)"},
    )
    reason = Text(
        max_length=2_000,
        multiline=True,
        metadata={"description": "原因 reason (required when returned or transferred)"},
    )
    transferred_to = Text(
        max_length=200, metadata={"description": "转送单位 body the clue was transferred to"}
    )
    summary = Text(
        max_length=LONG_TEXT, multiline=True, metadata={"description": "办理情况 summary"}
    )
    occurred_at = IsoDate(metadata={"description": "发生日期 date of this stage"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _stage_requirements(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        stage = data.get("stage")
        raise_if(
            requirement_errors(
                original_data,
                [
                    ("disposition", stage == "disposed", "Required when stage is disposed."),
                    ("outcomes", stage == "concluded", "Required when stage is concluded."),
                    (
                        "reason",
                        stage in ("returned", "transferred"),
                        "Required when stage is returned or transferred.",
                    ),
                    (
                        "reason",
                        data.get("disposition") == "not_filed",
                        "Required when disposition is not_filed.",
                    ),
                ],
            )
        )
