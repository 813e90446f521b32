"""审计机关: the 整改台账 export (CSV/XLSX), 移送处理书 and 审计结果 (JSON) ↔ canonical messages.

The formats, with a sample of each, are described in ``adapters/samples/audit/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from adapters.base import BaseAdapter
from adapters.codecs import (
    Bodies,
    Classification,
    CnDate,
    Code,
    Count,
    IdNumber,
    Label,
    Text,
    UsccCode,
    Wan,
    YesNo,
)
from adapters.compound import (
    AttachmentCodec,
    LedgerColumns,
    Lines,
    Part,
    Parts,
    milestone_codec,
    person_codec,
    version1_ledger_fields,
)
from adapters.files import NativeFile, native_file, suffix_of
from adapters.specs import Field, NativeRecord, RecordSpec
from schemas import (
    AUDIT_TIMINGS,
    FINDING_HANDLINGS,
    INTENDED_USES,
    ISSUE_CATEGORIES,
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
    RESPONSIBILITIES,
    SHARE_TYPES,
)

LEDGER: Final = "整改台账"
REFERRAL: Final = "移送处理书"
RESULT: Final = "审计结果"
DOCUMENT_KIND: Final = "文书类型"
"""The key of a JSON record that says which document it is (移送处理书 or 审计结果)."""

LEDGER_STATUS_CODES: Final = {
    1: "pending",
    2: "in_progress",
    3: "submitted",
    4: "ongoing",
    5: "not_rectified",
    6: "completed",
    7: "closed",
}
"""整改状态 codes of the audit ledger: 1 待整改 … 7 已销号."""


class AuditAdapter(BaseAdapter):
    """审计机关 (审计局): sends referrals, audit results and its 整改台账 lines."""

    body = "audit"
    sends = frozenset({"clue.referral.v1", "result.share.v1", "rectification.status.v1"})
    receives = frozenset(
        {
            "clue.feedback.v1",
            "result.feedback.v1",
            "result.share.v1",
            "rectification.status.v1",
            "hub.notice.v1",
        }
    )

    def specs(self) -> list[RecordSpec]:
        """整改台账 rows, 移送处理书 and 审计结果 records."""
        return [self._ledger(), self._referral(), self._result()]

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """A ledger export (``.csv``, ``.xlsx``) or a JSON file of 移送处理书/审计结果."""
        file = native_file(native)
        if suffix_of(file) == "json":
            return self.read_json_records(file, DOCUMENT_KIND, {REFERRAL: REFERRAL, RESULT: RESULT})
        return self.read_tables(file, [LEDGER])

    def _ledger(self) -> RecordSpec:
        return RecordSpec(
            kind=LEDGER,
            message_type="rectification.status.v1",
            table=True,
            default_to=("discipline", "inspection", "personnel"),
            unmapped=frozenset({"序号", "备注"}),
            fields=(
                Field("台账编号", "payload.ledger_item_id", required=True),
                Field("问题来源", "payload.source", Label(RECTIFICATION_SOURCES), required=True),
                Field("来源文书文号", "payload.source_doc_number", required=True),
                Field("巡察轮次", "payload.inspection_round"),
                Field("整改责任单位", "payload.responsible_unit.name", required=True),
                Field(
                    "统一社会信用代码", "payload.responsible_unit.uscc", UsccCode(), required=True
                ),
                Field("第一责任人", "payload.first_responsible.name"),
                Field("第一责任人职务", "payload.first_responsible.position"),
                Field("问题描述", "payload.problem_description", required=True),
                Field("整改措施", "payload.measures"),
                Field("问题金额（万元）", "payload.amount_involved", Wan()),
                Field("整改金额（万元）", "payload.amount_rectified", Wan()),
                Field(
                    "整改类型",
                    "payload.rectification_class",
                    Label(RECTIFICATION_CLASSES),
                    required=True,
                ),
                Field("整改时限", "payload.deadline", CnDate(), required=True),
                Field("阶段目标", "payload.milestones", Lines(milestone_codec())),
                Field(
                    "整改状态",
                    "payload.status",
                    Code(LEDGER_STATUS_CODES, RECTIFICATION_STATUSES),
                    required=True,
                ),
                Field("佐证材料", "payload.evidence", Lines(AttachmentCodec())),
                Field("完善制度数（项）", "payload.rules_made", Count()),
                Field("问责人数（人）", "payload.persons_held_accountable", Count()),
                Field("认定单位", "payload.verification.by"),
                Field("认定日期", "payload.verification.at", CnDate()),
                Field("认定意见", "payload.verification.opinion"),
                Field("重新整改原因", "payload.reopen_reason"),
                *version1_ledger_fields(
                    LedgerColumns(
                        project="审计项目名称",
                        category="问题类别",
                        co_units="共同整改责任单位",
                        referral="关联移送编号",
                    )
                ),
            ),
        )

    def _referral(self) -> RecordSpec:
        return RecordSpec(
            kind=REFERRAL,
            message_type="clue.referral.v1",
            table=False,
            default_to=("discipline",),
            fixed={"payload.source.kind": "audit_project"},
            marker={DOCUMENT_KIND: REFERRAL},
            fields=(
                Field("移送编号", "payload.referral_id", required=True),
                # Version 1: also to 行政主管部门 (有关部门) or 组织人事部门; default 纪检监察机关.
                Field("移送对象", "to", Bodies(self.partners, single=True)),
                Field("文号", "payload.doc_number"),
                Field("密级", "classification", Classification()),
                Field("审计项目.项目名称", "payload.source.name", required=True),
                Field("审计项目.项目编号", "payload.source.number"),
                Field("审计项目.审计期间.起", "payload.source.period.from", CnDate()),
                Field("审计项目.审计期间.止", "payload.source.period.to", CnDate()),
                Field("审计项目.审计范围", "payload.source.scope"),
                Field("被审计单位.名称", "payload.audited_unit.name", required=True),
                Field(
                    "被审计单位.统一社会信用代码",
                    "payload.audited_unit.uscc",
                    UsccCode(),
                    required=True,
                ),
                Field("涉及人员", "payload.involved_persons", Lines(person_codec())),
                Field("问题类别", "payload.issue_category", Label(ISSUE_CATEGORIES), required=True),
                Field("问题事实", "payload.facts", required=True),
                Field("定性", "payload.qualification"),
                Field("法律法规依据", "payload.legal_basis", Lines(Text()), required=True),
                Field("涉及金额（万元）", "payload.amount_involved", Wan()),
                Field("证据材料", "payload.evidence", Lines(AttachmentCodec()), required=True),
                Field("审计意见", "payload.auditor_opinion"),
                Field("反馈期限", "payload.feedback_due", CnDate(), required=True),
                Field("情况复杂", "payload.complex", YesNo()),
                Field("联系人.姓名", "payload.contact.name"),
                Field("联系人.电话", "payload.contact.phone"),
            ),
        )

    def _result(self) -> RecordSpec:
        finding = Parts(
            Part("问题编号", "finding_id"),
            Part("问题描述", "description", required=True),
            Part("金额（万元）", "amount", Wan()),
            Part("定性", "qualification"),
            Part("责任类型", "responsibility", Label(RESPONSIBILITIES)),
            Part("处理方式", "handling", Label(FINDING_HANDLINGS)),
            Part("移送编号", "referral_id"),
        )
        return RecordSpec(
            kind=RESULT,
            message_type="result.share.v1",
            table=False,
            marker={DOCUMENT_KIND: RESULT},
            fields=(
                Field("共享编号", "payload.share_id", required=True),
                Field("成果类型", "payload.share_type", Label(SHARE_TYPES), required=True),
                Field("标题", "payload.title"),
                Field("文号", "payload.doc_number"),
                Field("密级", "classification", Classification()),
                Field("被审计单位.名称", "payload.subject_unit.name", required=True),
                Field(
                    "被审计单位.统一社会信用代码",
                    "payload.subject_unit.uscc",
                    UsccCode(),
                    required=True,
                ),
                Field("被审计领导干部.姓名", "payload.subject_official.name"),
                Field("被审计领导干部.职务", "payload.subject_official.position"),
                Field("被审计领导干部.身份证号", "payload.subject_official.id_number", IdNumber()),
                Field("被审计领导干部.任职起始", "payload.subject_official.tenure_from", CnDate()),
                Field("被审计领导干部.任职截止", "payload.subject_official.tenure_to", CnDate()),
                Field("审计时机", "payload.audit_timing", Label(AUDIT_TIMINGS)),
                Field("评价意见", "payload.evaluation_summary"),
                Field("审计发现", "payload.findings", Lines(finding)),
                Field(
                    "运用建议", "payload.intended_use", Lines(Label(INTENDED_USES)), required=True
                ),
                Field("附件", "payload.attachments", Lines(AttachmentCodec())),
                Field("共享对象", "to", Bodies(self.partners), required=True),
            ),
        )
