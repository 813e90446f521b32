"""组织人事部门: cadre records keyed by 干部编号 (JSON) ↔ canonical messages.

Sends 成果运用反馈 (→ result.feedback.v1) and 线索办理反馈 (→ clue.feedback.v1); a received
result about an official (经济责任审计结果, 处分决定) becomes a 干部档案 entry, its 干部编号 looked
up in the 干部名册 (roster). The cadre ids never leave the body: the wire carries counts only.
See ``adapters/samples/personnel/README.md``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from adapters.base import BaseAdapter
from adapters.codecs import (
    INTENDED_USE_CODES,
    Bodies,
    Classification,
    CnDate,
    Code,
    Count,
    Label,
    NativeValueError,
    Wan,
)
from adapters.compound import Lines, Part, Parts
from adapters.errors import NativeError, NativeProblem
from adapters.files import NativeFile, native_file
from adapters.received import envelope_keys, received_record
from adapters.specs import Field, NativeRecord, RecordSpec
from schemas import (
    DECISION_KINDS,
    DISPOSITIONS,
    FEEDBACK_STAGES,
    INTENDED_USES,
    OUTCOMES,
    SHARE_TYPES,
    body_of,
    mask_id_number,
)

RESULT_USE: Final = "成果运用反馈"
CLUE_FEEDBACK: Final = "线索办理反馈"
RECORD_KIND: Final = "业务类型"
CADRES: Final = "涉及干部"
"""The record's list of cadres concerned (干部编号, 姓名, 决定类型): kept at home, never sent."""


DECISION_CODES: Final = {
    1: "admonition",
    2: "position_adjustment",
    3: "assessment_downgrade",
    4: "commendation",
    5: "none",
}
"""决定类型: 1 诫勉 2 调整岗位 3 考核降等 4 表彰 5 无."""


@dataclass(frozen=True)
class Cadre:
    """One line of the 干部名册: 干部编号, 姓名 and 公民身份号码 (in full, or masked)."""

    cadre_id: str
    name: str
    id_number: str


class PersonnelAdapter(BaseAdapter):
    """组织人事部门 (组织部): reports how results were used; files results about officials.

    ``roster``: the 干部名册 (Cadre lines, or a CSV with 干部编号, 姓名, 身份证号) that received
    results are matched against; without it, or without a single match, 干部编号 stays blank.
    """

    body = "personnel"
    sends = frozenset({"result.feedback.v1", "clue.feedback.v1"})
    receives = frozenset(
        {"result.share.v1", "rectification.status.v1", "clue.referral.v1", "hub.notice.v1"}
    )

    def __init__(
        self,
        *,
        partner_id: str,
        partners: Mapping[str, str],
        classification: str = "internal",
        roster: Iterable[Cadre] | Path | str | NativeFile | None = None,
    ) -> None:
        super().__init__(partner_id=partner_id, partners=partners, classification=classification)
        if roster is None:
            self.roster: tuple[Cadre, ...] = ()
        elif isinstance(roster, Path | str | NativeFile):
            self.roster = read_roster(roster)
        else:
            self.roster = tuple(roster)

    def specs(self) -> list[RecordSpec]:
        """成果运用反馈 and 线索办理反馈 records."""
        return [self._result_use(), self._clue_feedback()]

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """A JSON array of records, each with its ``业务类型``."""
        return self.read_json_records(
            native, RECORD_KIND, {RESULT_USE: RESULT_USE, CLUE_FEEDBACK: CLUE_FEEDBACK}
        )

    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """As the base adapter; a result about an official from another body → 干部档案 entry."""
        payload = envelope.get("payload")
        if (
            envelope.get("type") == "result.share.v1"
            and isinstance(payload, Mapping)
            and isinstance(payload.get("subject_official"), Mapping)
            and _body_of(envelope.get("from")) != self.body
        ):
            return self.cadre_file_entry(envelope)
        return super().from_message(envelope)

    def cadre_file_entry(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """干部档案 entry of a shared result: the official by 干部编号, the ID number masked."""
        payload = envelope["payload"]
        official: Mapping[str, Any] = payload["subject_official"]
        view = received_record(envelope)
        for key in envelope_keys(envelope):
            view.pop(key, None)
        person = view.pop("被审计领导干部", {})
        unit = view.pop("被审计(巡察)单位", {})
        cadre_id = self.cadre_id(str(official.get("name", "")), official.get("id_number"))
        id_number = official.get("id_number")
        return {
            "档案类别": SHARE_TYPES.get(str(payload.get("share_type")), ""),
            "干部编号": cadre_id or "",
            "待核对": "否" if cadre_id else "是",
            "姓名": person.get("姓名", ""),
            "身份证号（脱敏）": mask_id_number(id_number) if isinstance(id_number, str) else "",
            "职务": person.get("职务", ""),
            "任职起始": person.get("任职起始日期", ""),
            "任职截止": person.get("任职截止日期", ""),
            "所在单位": unit.get("单位名称", ""),
            "统一社会信用代码": unit.get("统一社会信用代码", ""),
            **view,
            **envelope_keys(envelope),
        }

    def cadre_id(self, name: str, id_number: Any) -> str | None:
        """The 干部编号 of the one roster line with this name and ID number (masks compared).

        None without an ID number, without a match, or with more than one match.
        """
        if not isinstance(id_number, str) or len(id_number) != 18:
            return None
        masked = mask_id_number(id_number)
        found = {
            cadre.cadre_id
            for cadre in self.roster
            if cadre.name == name
            and len(cadre.id_number) == 18
            and (
                cadre.id_number == id_number
                if "*" not in cadre.id_number
                else cadre.id_number == masked
            )
        }
        return found.pop() if len(found) == 1 else None

    def _result_use(self) -> RecordSpec:
        decision = Parts(
            Part("决定类型", "kind", Code(DECISION_CODES, DECISION_KINDS), required=True),
            Part("人数", "persons", Count()),
        )
        return RecordSpec(
            kind=RESULT_USE,
            message_type="result.feedback.v1",
            table=False,
            marker={RECORD_KIND: RESULT_USE},
            unmapped=frozenset({CADRES, "经办人"}),
            to_wire=_decisions_from_cadres,
            fields=(
                Field("共享编号", "payload.share_id", required=True),
                Field("来文消息编号", "in_reply_to", required=True),
                Field("来文单位", "to", Bodies(self.partners, single=True), required=True),
                Field("密级", "classification", Classification()),
                Field(
                    "运用方式", "payload.used_for", Lines(Code(INTENDED_USE_CODES, INTENDED_USES))
                ),
                Field("运用情况", "payload.actions", required=True),
                Field("处理决定", "payload.decisions", Lines(decision)),
                Field("运用日期", "payload.occurred_at", CnDate()),
            ),
        )

    def _clue_feedback(self) -> RecordSpec:
        outcome = Parts(
            Part("结果类型", "outcome", Label(OUTCOMES), required=True),
            Part("人数", "persons", Count()),
            Part("追回资金（万元）", "recovered_amount", Wan()),
        )
        return RecordSpec(
            kind=CLUE_FEEDBACK,
            message_type="clue.feedback.v1",
            table=False,
            marker={RECORD_KIND: CLUE_FEEDBACK},
            unmapped=frozenset({CADRES, "经办人"}),
            fields=(
                Field("移送编号", "payload.referral_id", required=True),
                Field("来文消息编号", "in_reply_to", required=True),
                Field("移送单位", "to", Bodies(self.partners, single=True), required=True),
                Field("密级", "classification", Classification()),
                Field("办理阶段", "payload.stage", Label(FEEDBACK_STAGES), required=True),
                Field("处置方式", "payload.disposition", Label(DISPOSITIONS)),
                Field("办理结果", "payload.outcomes", Lines(outcome)),
                Field("退回转送理由", "payload.reason"),
                Field("转送单位", "payload.transferred_to"),
                Field("办理情况", "payload.summary"),
                Field("办理日期", "payload.occurred_at", CnDate()),
            ),
        )


def _decisions_from_cadres(native: Mapping[str, Any], draft: dict[str, Any]) -> None:
    """涉及干部 → 处理决定 counts (when 处理决定 is absent), or check they agree with it."""
    cadres = native.get(CADRES)
    if cadres is None:
        return
    if not isinstance(cadres, list):
        raise NativeValueError("应为列表", CADRES)
    counts: Counter[str] = Counter()
    codes = Code(DECISION_CODES, DECISION_KINDS)
    for number, cadre in enumerate(cadres, start=1):
        if not isinstance(cadre, Mapping) or not str(cadre.get("干部编号", "")).strip():
            raise NativeValueError("必填", f"{CADRES}[{number}].干部编号")
        try:
            counts[codes.parse(cadre.get("决定类型"))] += 1
        except NativeValueError as bad:
            raise NativeValueError(bad.reason, f"{CADRES}[{number}].决定类型") from None
    decisions = draft["payload"].get("decisions")
    if decisions is None:
        if counts:
            draft["payload"]["decisions"] = [
                {"kind": kind, "persons": persons} for kind, persons in counts.items()
            ]
        return
    stated: Counter[str] = Counter()
    for decision in decisions:
        stated[decision["kind"]] += decision.get("persons", 0)
    if +stated != +counts:
        raise NativeValueError("各类决定的人数与“涉及干部”不符", "处理决定")


def read_roster(native: Path | str | NativeFile) -> tuple[Cadre, ...]:
    """The 干部名册 CSV (UTF-8): 干部编号, 姓名, 身份证号 (full, or masked as the hub shows it)."""
    file = native_file(native)
    try:
        rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"), newline="")))
    except UnicodeDecodeError:
        raise NativeError([NativeProblem(file.name, None, None, "不是UTF-8编码")]) from None
    cadres = []
    for number, row in enumerate(rows, start=2):
        for column in ("干部编号", "姓名"):
            if not (row.get(column) or "").strip():
                raise NativeError([NativeProblem(file.name, number, column, "必填")])
        cadres.append(
            Cadre(row["干部编号"].strip(), row["姓名"].strip(), (row.get("身份证号") or "").strip())
        )
    return tuple(cadres)


def _body_of(partner_id: Any) -> str | None:
    try:
        return body_of(str(partner_id))
    except ValueError:
        return None
