"""行政主管部门 (有关部门: 财政局, 住建局 …): the 处理结果反馈 a competent authority keeps on an
审计移送处理书 it received (JSON, its own codes) ↔ clue.feedback.v1 (DOMAIN.md, Version 1).

The format, with a sample, is described in ``adapters/samples/authority/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from adapters.base import BaseAdapter
from adapters.codecs import Bodies, Classification, CnDate, Code, Count, Wan
from adapters.compound import Lines, Part, Parts
from adapters.files import NativeFile
from adapters.specs import Field, NativeRecord, RecordSpec
from schemas import DISPOSITIONS, FEEDBACK_STAGES, OUTCOMES

FEEDBACK: Final = "处理结果反馈"
RECORD_KIND: Final = "文书类型"
"""The key of a record that says which document it is."""

STAGE_CODES: Final = {
    10: "received",
    20: "accepted",
    30: "returned",
    40: "transferred",
    50: "disposed",
    60: "concluded",
}
"""办理环节: 10 签收 20 受理 30 退回 40 转办 50 处理中 60 办结."""

DISPOSITION_CODES: Final = {
    51: "investigation",
    52: "case_filed",
    53: "penalty",
    54: "accountability",
    55: "not_filed",
    56: "transferred",
}
"""处理方式 of the authority's case register: 51 调查核查 · 52 立案 · 53 处理处罚 · 54 追责问责 ·
55 不立案 · 56 转交办理."""

OUTCOME_CODES: Final = {
    61: "organizational_handling",
    62: "to_judiciary",
    63: "critical_education",
    64: "circulated_criticism",
    65: "clarified",
}
"""处理结果: 61 组织处理 · 62 移送司法 · 63 批评教育 · 64 通报批评 · 65 了结澄清."""


class AuthorityAdapter(BaseAdapter):
    """行政主管部门: receives 审计移送处理书, answers with 处理结果反馈."""

    body = "authority"
    sends = frozenset({"clue.feedback.v1"})
    receives = frozenset(
        {"clue.referral.v1", "result.share.v1", "rectification.status.v1", "hub.notice.v1"}
    )

    def specs(self) -> list[RecordSpec]:
        """处理结果反馈 records."""
        return [self._feedback()]

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """A JSON array of 处理结果反馈, each with its ``文书类型``."""
        return self.read_json_records(native, RECORD_KIND, {FEEDBACK: FEEDBACK})

    def _feedback(self) -> RecordSpec:
        outcome = Parts(
            Part("结果", "outcome", Code(OUTCOME_CODES, OUTCOMES), required=True),
            Part("人数", "persons", Count()),
            Part("挽回资金（万元）", "recovered_amount", Wan()),
        )
        return RecordSpec(
            kind=FEEDBACK,
            message_type="clue.feedback.v1",
            table=False,
            marker={RECORD_KIND: FEEDBACK},
            unmapped=frozenset({"登记号", "承办科室"}),
            fields=(
                Field("移送处理书编号", "payload.referral_id", required=True),
                Field("来文消息编号", "in_reply_to", required=True),
                Field("移送机关", "to", Bodies(self.partners, single=True), required=True),
                Field("密级", "classification", Classification()),
                Field(
                    "办理环节", "payload.stage", Code(STAGE_CODES, FEEDBACK_STAGES), required=True
                ),
                Field("处理方式", "payload.disposition", Code(DISPOSITION_CODES, DISPOSITIONS)),
                Field("处理结果", "payload.outcomes", Lines(outcome)),
                Field("理由", "payload.reason"),
                Field("转交单位", "payload.transferred_to"),
                Field("办理情况", "payload.summary"),
                Field("办理日期", "payload.occurred_at", CnDate()),
            ),
        )
