"""纪检监察机关: case-system exports (JSON, numeric codes) ↔ canonical messages.

Two kinds of record, told apart by ``业务类型``: 线索处置反馈 (→ clue.feedback.v1) and 处分决定
(→ result.share.v1, shared with 组织人事部门 for cadre files). See
``adapters/samples/discipline/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from adapters.base import BaseAdapter
from adapters.codecs import (
    INTENDED_USE_CODES,
    Bodies,
    Classification,
    CnDate,
    Code,
    Count,
    IdNumber,
    UsccCode,
    Wan,
)
from adapters.compound import AttachmentCodec, Lines, Part, Parts
from adapters.files import NativeFile
from adapters.specs import Field, NativeRecord, RecordSpec
from schemas import DISPOSITIONS, FEEDBACK_STAGES, INTENDED_USES, OUTCOMES

FEEDBACK: Final = "线索处置反馈"
OUTCOME: Final = "处分决定"
RECORD_KIND: Final = "业务类型"
"""The key of a case-system record that says which kind it is."""

STAGE_CODES: Final = {
    1: "received",
    2: "accepted",
    3: "returned",
    4: "transferred",
    5: "disposed",
    6: "concluded",
}
"""办理阶段: 1 已签收 2 已受理 3 退回 4 已转送 5 已处置 6 已办结."""

DISPOSITION_CODES: Final = {
    1: "talk_inquiry",
    2: "preliminary_verification",
    3: "shelved",
    4: "closed_no_action",
    5: "filed_investigation",
}
"""处置方式 (the four forms of disposal plus filing): 1 谈话函询 … 5 立案审查调查."""

OUTCOME_CODES: Final = {
    1: "party_discipline",
    2: "government_sanction",
    3: "admonition",
    4: "circulated_criticism",
    5: "reminder_talk",
    6: "critical_education",
    7: "organizational_handling",
    8: "clarified",
    9: "to_judiciary",
}
"""结果类型: 1 党纪处分 2 政务处分 3 诫勉谈话 4 通报批评 5 谈话提醒 6 批评教育 7 组织处理 8 了结澄清
9 移送司法."""


class DisciplineAdapter(BaseAdapter):
    """纪检监察机关 (纪委监委): sends clue feedback and 处分决定; receives referrals and results."""

    body = "discipline"
    sends = frozenset({"clue.feedback.v1", "result.share.v1"})
    receives = frozenset(
        {
            "clue.referral.v1",
            "result.share.v1",
            "result.feedback.v1",
            "rectification.status.v1",
            "hub.notice.v1",
        }
    )

    def specs(self) -> list[RecordSpec]:
        """线索处置反馈 and 处分决定 records."""
        return [self._feedback(), self._outcome()]

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """A case-system export: a JSON array of records, each with its ``业务类型``."""
        return self.read_json_records(native, RECORD_KIND, {FEEDBACK: FEEDBACK, OUTCOME: OUTCOME})

    def _feedback(self) -> RecordSpec:
        outcome = Parts(
            Part("结果类型", "outcome", Code(OUTCOME_CODES, OUTCOMES), required=True),
            Part("人数", "persons", Count()),
            Part("追回资金（万元）", "recovered_amount", Wan()),
        )
        return RecordSpec(
            kind=FEEDBACK,
            message_type="clue.feedback.v1",
            table=False,
            marker={RECORD_KIND: FEEDBACK},
            unmapped=frozenset({"案件系统编号", "承办部门"}),
            fields=(
                Field("移送编号", "payload.referral_id", required=True),
                Field("来文消息编号", "in_reply_to", required=True),
                Field("移送单位", "to", Bodies(self.partners, single=True), required=True),
                Field("密级", "classification", Classification()),
                Field(
                    "办理阶段",
                    "payload.stage",
                    Code(STAGE_CODES, FEEDBACK_STAGES),
                    required=True,
                ),
                Field("处置方式", "payload.disposition", Code(DISPOSITION_CODES, DISPOSITIONS)),
                Field("办理结果", "payload.outcomes", Lines(outcome)),
                Field("退回转送理由", "payload.reason"),
                Field("转送单位", "payload.transferred_to"),
                Field("办理情况", "payload.summary"),
                Field("办理日期", "payload.occurred_at", CnDate()),
            ),
        )

    def _outcome(self) -> RecordSpec:
        fact = Parts(
            Part("编号", "finding_id"),
            Part("事实", "description", required=True),
            Part("涉及金额（万元）", "amount", Wan()),
            Part("定性", "qualification"),
        )
        return RecordSpec(
            kind=OUTCOME,
            message_type="result.share.v1",
            table=False,
            fixed={"payload.share_type": "disciplinary_outcome"},
            marker={RECORD_KIND: OUTCOME},
            unmapped=frozenset({"案件系统编号", "承办部门"}),
            fields=(
                Field("共享编号", "payload.share_id", required=True),
                Field("标题", "payload.title"),
                Field("决定文号", "payload.doc_number"),
                Field("密级", "classification", Classification()),
                Field("受处分人.姓名", "payload.subject_official.name", required=True),
                Field("受处分人.职务", "payload.subject_official.position", required=True),
                Field("受处分人.身份证号", "payload.subject_official.id_number", IdNumber()),
                Field("所在单位.名称", "payload.subject_unit.name", required=True),
                Field(
                    "所在单位.统一社会信用代码",
                    "payload.subject_unit.uscc",
                    UsccCode(),
                    required=True,
                ),
                Field("处分情况", "payload.evaluation_summary", required=True),
                Field("违纪违法事实", "payload.findings", Lines(fact)),
                Field(
                    "运用建议",
                    "payload.intended_use",
                    Lines(Code(INTENDED_USE_CODES, INTENDED_USES)),
                    required=True,
                ),
                Field("附件", "payload.attachments", Lines(AttachmentCodec())),
                Field("抄送单位", "to", Bodies(self.partners), required=True),
            ),
        )
