"""巡视巡察机构: the 巡察问题清单 and 线索移交清单 (CSV/XLSX) ↔ canonical messages.

Each row carries its 巡察轮次 (round) and 巡察组 (group); on the wire they travel together as
``区委2025年第一轮巡察（第二巡察组）``. See ``adapters/samples/inspection/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from adapters.base import BaseAdapter
from adapters.codecs import (
    Bodies,
    CnDate,
    Code,
    Count,
    Label,
    NativeValueError,
    Text,
    UsccCode,
    Wan,
    YesNo,
)
from adapters.compound import (
    AttachmentCodec,
    LedgerColumns,
    Lines,
    milestone_codec,
    person_codec,
    version1_ledger_fields,
)
from adapters.files import NativeFile
from adapters.specs import Field, NativeRecord, RecordSpec, get_path, put_path
from schemas import ISSUE_CATEGORIES, RECTIFICATION_CLASSES, RECTIFICATION_STATUSES

PROBLEMS: Final = "巡察问题清单"
REFERRALS: Final = "线索移交清单"

CLASS_CODES: Final = {1: "immediate", 2: "phased", 3: "continuous"}
"""整改方式: 1 立行立改 2 分阶段整改 3 持续整改."""

ROUND: Final = "巡察轮次"
GROUP: Final = "巡察组"


class InspectionAdapter(BaseAdapter):
    """巡视巡察机构 (巡察办): sends 巡察整改 status and clue referrals from its rounds."""

    body = "inspection"
    sends = frozenset({"rectification.status.v1", "clue.referral.v1"})
    receives = frozenset(
        {
            "result.share.v1",
            "rectification.status.v1",
            "clue.feedback.v1",
            "hub.notice.v1",
        }
    )

    def specs(self) -> list[RecordSpec]:
        """巡察问题清单 and 线索移交清单 rows."""
        return [self._problems(), self._referrals()]

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """A CSV of either list, or an XLSX with a sheet of each; the header tells which."""
        return self.read_tables(native, [PROBLEMS, REFERRALS])

    def _problems(self) -> RecordSpec:
        to_wire, to_native = _round_and_group("payload.inspection_round")
        return RecordSpec(
            kind=PROBLEMS,
            message_type="rectification.status.v1",
            table=True,
            default_to=("audit", "discipline", "personnel"),
            fixed={"payload.source": "inspection"},
            unmapped=frozenset({"序号", "备注"}),
            extra=(GROUP,),
            to_wire=to_wire,
            to_native=to_native,
            fields=(
                Field("问题编号", "payload.ledger_item_id", required=True),
                Field(ROUND, "payload.inspection_round", required=True),
                Field("反馈意见文号", "payload.source_doc_number", required=True),
                Field("被巡察单位", "payload.responsible_unit.name", required=True),
                Field(
                    "统一社会信用代码", "payload.responsible_unit.uscc", UsccCode(), required=True
                ),
                Field("整改第一责任人", "payload.first_responsible.name"),
                Field("职务", "payload.first_responsible.position"),
                Field("问题表现", "payload.problem_description", required=True),
                Field("整改措施", "payload.measures"),
                Field("涉及金额（万元）", "payload.amount_involved", Wan()),
                Field("已整改金额（万元）", "payload.amount_rectified", Wan()),
                Field(
                    "整改方式",
                    "payload.rectification_class",
                    Code(CLASS_CODES, RECTIFICATION_CLASSES),
                    required=True,
                ),
                Field("完成时限", "payload.deadline", CnDate(), required=True),
                Field("阶段安排", "payload.milestones", Lines(milestone_codec())),
                Field("整改进度", "payload.status", Label(RECTIFICATION_STATUSES), required=True),
                Field("佐证材料", "payload.evidence", Lines(AttachmentCodec())),
                Field("建章立制（项）", "payload.rules_made", Count()),
                Field("追责问责（人）", "payload.persons_held_accountable", Count()),
                Field("验收单位", "payload.verification.by"),
                Field("验收日期", "payload.verification.at", CnDate()),
                Field("验收意见", "payload.verification.opinion"),
                Field("重新整改原因", "payload.reopen_reason"),
                *version1_ledger_fields(
                    LedgerColumns(
                        project="巡察项目名称",
                        category="问题大类",
                        co_units="共同整改单位",
                        referral="关联移交编号",
                    )
                ),
            ),
        )

    def _referrals(self) -> RecordSpec:
        to_wire, to_native = _round_and_group("payload.source.name")
        return RecordSpec(
            kind=REFERRALS,
            message_type="clue.referral.v1",
            table=True,
            fixed={"payload.source.kind": "inspection_round"},
            unmapped=frozenset({"序号", "备注"}),
            extra=(GROUP,),
            to_wire=to_wire,
            to_native=to_native,
            fields=(
                Field("移交编号", "payload.referral_id", required=True),
                Field("移交文号", "payload.doc_number"),
                Field(ROUND, "payload.source.name", required=True),
                Field("轮次编号", "payload.source.number"),
                Field("巡察期间起", "payload.source.period.from", CnDate()),
                Field("巡察期间止", "payload.source.period.to", CnDate()),
                Field("巡察范围", "payload.source.scope"),
                Field("被巡察单位", "payload.audited_unit.name", required=True),
                Field("统一社会信用代码", "payload.audited_unit.uscc", UsccCode(), required=True),
                Field("涉及人员", "payload.involved_persons", Lines(person_codec())),
                Field("问题类别", "payload.issue_category", Label(ISSUE_CATEGORIES), required=True),
                Field("问题线索", "payload.facts", required=True),
                Field("定性", "payload.qualification"),
                Field("依据", "payload.legal_basis", Lines(Text()), required=True),
                Field("涉及金额（万元）", "payload.amount_involved", Wan()),
                Field("证据材料", "payload.evidence", Lines(AttachmentCodec()), required=True),
                Field("巡察组意见", "payload.auditor_opinion"),
                Field("反馈时限", "payload.feedback_due", CnDate(), required=True),
                Field("情况复杂", "payload.complex", YesNo()),
                Field("联系人", "payload.contact.name"),
                Field("联系电话", "payload.contact.phone"),
                Field("移交对象", "to", Bodies(self.partners), required=True),
            ),
        )


def _round_and_group(
    wire: str,
) -> tuple[
    Callable[[Mapping[str, Any], dict[str, Any]], None],
    Callable[[Mapping[str, Any], dict[str, Any]], None],
]:
    """Hooks that put the 巡察组 after the 巡察轮次 in ``wire`` (``…轮巡察（第二巡察组）``).

    Full-width brackets are refused in either column, so the two always split apart again.
    """

    def to_wire(native: Mapping[str, Any], draft: dict[str, Any]) -> None:
        for column in (ROUND, GROUP):
            value = native.get(column)
            if isinstance(value, str) and ("（" in value or "）" in value):
                raise NativeValueError("不能含有全角括号“（）”（巡察组另列一栏）", column)
        group = native.get(GROUP)
        round_name = get_path(draft, wire)
        if isinstance(group, str) and group.strip() and isinstance(round_name, str):
            put_path(draft, wire, f"{round_name}（{group.strip()}）")

    def to_native(envelope: Mapping[str, Any], native: dict[str, Any]) -> None:
        value = get_path(envelope, wire)
        if isinstance(value, str) and value.endswith("）") and "（" in value:
            round_name, _, group = value[:-1].rpartition("（")
            native[ROUND], native[GROUP] = round_name, group

    return to_wire, to_native
