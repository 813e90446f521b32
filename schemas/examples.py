"""Valid sample messages, one builder per type: fresh JSON-ready envelopes on allowed routes.

Keyword arguments override the envelope; `payload=` is merged over the sample payload.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from types import EllipsisType
from typing import Any, Final

CHINA_STANDARD_TIME: Final = dt.timezone(dt.timedelta(hours=8), "CST")

AUDIT: Final = "audit.yanliang"
DISCIPLINE: Final = "discipline.yanliang"
INSPECTION: Final = "inspection.yanliang"
PERSONNEL: Final = "personnel.yanliang"

AUDIT_BUREAU_USCC: Final = "11610114MB1570823X"
"""西安市阎良区审计局 (a valid, made-up USCC)."""
COMPANY_NAME: Final = "西安市阎良区某国有投资有限公司"
COMPANY_USCC: Final = "91610114MA6TXQ0L3M"
"""The audited state-owned company of the samples (a valid, made-up USCC)."""
OFFICIAL_ID_NUMBER: Final = "610114197203152039"
"""李某某, the audited former chairman (a valid, made-up ID number)."""
ACCOUNTANT_ID_NUMBER: Final = "610114198008244012"
"""王某, head of finance (a valid, made-up ID number)."""

REFERRAL_ID: Final = "YL-SJ-YJ-2025-003"
SHARE_ID: Final = "YL-SJ-GX-2025-012"
LEDGER_ITEM_ID: Final = "YL-SJ-ZG-2025-017"


def new_message_id() -> str:
    """A fresh random message id: 24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


def referral_example(
    *,
    id: str | None = None,
    sender: str = AUDIT,
    recipients: Sequence[str] = (DISCIPLINE,),
    sent_at: dt.datetime | str | None = None,
    classification: str = "internal",
    subject: str | EllipsisType | None = ...,
    in_reply_to: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """clue.referral.v1: 阎良区审计局 refers a clue from an economic-responsibility audit."""
    sent = _SentAt(sent_at)
    body: dict[str, Any] = {
        "referral_id": REFERRAL_ID,
        "doc_number": "阎审移〔2025〕3号",
        "source": {
            "kind": "audit_project",
            "name": f"{COMPANY_NAME}原董事长李某某任期经济责任审计",
            "number": "阎审经责〔2025〕2号",
            "period": {"from": "2021-01-01", "to": "2024-06-30"},
            "scope": "2021年1月至2024年6月公司财务收支、重大经济决策、内部控制及国有资产管理情况。",
        },
        "audited_unit": {"name": COMPANY_NAME, "uscc": COMPANY_USCC},
        "involved_persons": [
            {
                "name": "李某某",
                "position": "原党支部书记、董事长",
                "id_number": OFFICIAL_ID_NUMBER,
                "cadre_authority": "区委管理干部",
            },
            {
                "name": "王某",
                "position": "财务部经理",
                "id_number": ACCOUNTANT_ID_NUMBER,
                "cadre_authority": "公司管理",
            },
        ],
        "issue_category": "state_asset_loss",
        "facts": (
            "审计发现，2022年3月至2023年5月，李某某在未经董事会集体决策、未履行可行性论证"
            "和风险评估程序的情况下，安排公司将1250万元资金分3笔出借给与公司无业务往来的"
            "某商贸有限公司，约定年利率12%。\n至审计时，借款本金尚有860万元、利息128.6万元"
            "未收回，借款企业已停止经营，存在造成国有资产重大损失的风险。"
        ),
        "qualification": "违反“三重一大”集体决策制度，违规出借资金，涉嫌滥用职权造成国有资产损失。",
        "legal_basis": [
            "《中华人民共和国企业国有资产法》",
            "《关于进一步推进国有企业贯彻落实“三重一大”决策制度的意见》",
            "《中华人民共和国审计法》",
        ],
        "amount_involved": "12500000.00",
        "evidence": [
            {
                "name": "审计取证单（第3号）.pdf",
                "media_type": "application/pdf",
                "size": 482_113,
                "sha256": "e5bdc59edcc65302a70ff2a3553e446e6345f2ddd3489296166221976f153df5",
            },
            {
                "name": "借款合同及银行流水.pdf",
                "media_type": "application/pdf",
                "size": 1_935_870,
                "sha256": "fd8f4286b0d93dbdb5a137554cbde3ba9bffff765cbb49c4cbacc1b3c45b7867",
            },
        ],
        "auditor_opinion": "建议区纪委监委对相关人员履职情况进一步核查，依规依纪依法处理。",
        "feedback_due": _add_months(sent.date(), 3).isoformat(),
        "complex": False,
        "contact": {"name": "张某", "phone": "029-86851234"},
    }
    return _envelope(
        "clue.referral.v1",
        body,
        payload,
        "referral_id",
        id=id,
        sender=sender,
        recipients=recipients,
        sent_at=sent,
        classification=classification,
        subject=subject,
        in_reply_to=in_reply_to,
    )


def clue_feedback_example(
    *,
    stage: str = "accepted",
    referral: Mapping[str, Any] | None = None,
    id: str | None = None,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
    sent_at: dt.datetime | str | None = None,
    classification: str = "internal",
    subject: str | EllipsisType | None = ...,
    in_reply_to: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """clue.feedback.v1: 阎良区纪委监委 reports on the referral at `stage`, with what it requires.

    Given `referral` (an envelope dict), the feedback answers it, from its recipient.
    """
    sent = _SentAt(sent_at)
    if referral is not None:
        in_reply_to = in_reply_to or referral["id"]
        sender = sender or referral["to"][0]
        recipients = recipients or (referral["from"],)
    body: dict[str, Any] = {
        "referral_id": referral["payload"]["referral_id"] if referral else REFERRAL_ID,
        "stage": stage,
        "occurred_at": sent.date().isoformat(),
    }
    body.update(_FEEDBACK_BY_STAGE.get(stage, {}))
    return _envelope(
        "clue.feedback.v1",
        body,
        payload,
        "referral_id",
        id=id,
        sender=sender or DISCIPLINE,
        recipients=recipients or (AUDIT,),
        sent_at=sent,
        classification=classification,
        subject=subject,
        in_reply_to=in_reply_to or new_message_id(),
    )


_FEEDBACK_BY_STAGE: Final[dict[str, dict[str, Any]]] = {
    "received": {"summary": "区纪委监委已签收该问题线索。"},
    "accepted": {"summary": "区纪委监委已受理该问题线索，由第三监督检查室负责办理。"},
    "returned": {"reason": "移送材料缺少借款合同原件复印件，请补充后重新移送。"},
    "transferred": {
        "reason": "该问题线索涉及市管干部，按照干部管理权限转送市纪委监委办理。",
        "transferred_to": "西安市纪委监委",
    },
    "disposed": {
        "disposition": "preliminary_verification",
        "summary": "经研究，对该问题线索采取初步核实方式处置。",
    },
    "concluded": {
        "disposition": "filed_investigation",
        "outcomes": [
            {"outcome": "party_discipline", "persons": 1, "recovered_amount": "9886000.00"},
            {"outcome": "admonition", "persons": 1},
        ],
        "summary": (
            "经立案审查调查，给予李某某党内严重警告处分，对王某进行诫勉谈话，追回资金988.6万元。"
        ),
    },
}


def share_example(
    *,
    id: str | None = None,
    sender: str = AUDIT,
    recipients: Sequence[str] = (PERSONNEL,),
    sent_at: dt.datetime | str | None = None,
    classification: str = "internal",
    subject: str | EllipsisType | None = ...,
    in_reply_to: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """result.share.v1: the economic-responsibility audit result, shared with 区委组织部."""
    body: dict[str, Any] = {
        "share_id": SHARE_ID,
        "share_type": "econ_resp_result",
        "title": "关于李某某同志任期经济责任审计结果的报告",
        "doc_number": "阎审经责报〔2025〕2号",
        "subject_unit": {"name": COMPANY_NAME, "uscc": COMPANY_USCC},
        "subject_official": {
            "name": "李某某",
            "position": "原党支部书记、董事长",
            "id_number": OFFICIAL_ID_NUMBER,
            "tenure_from": "2019-04-01",
            "tenure_to": "2024-06-30",
        },
        "audit_timing": "departure",
        "evaluation_summary": (
            "李某某任职期间，能够贯彻落实区委区政府决策部署，推动公司主营业务发展；"
            "但在重大经济事项决策、内部控制和国有资产管理方面存在薄弱环节。"
        ),
        "findings": [
            {
                "finding_id": "F1",
                "description": "未经集体决策违规出借资金1250万元，尚有860万元未收回。",
                "amount": "12500000.00",
                "qualification": "违反“三重一大”集体决策制度",
                "responsibility": "direct",
                "handling": "referred",
                "referral_id": REFERRAL_ID,
            },
            {
                "finding_id": "F2",
                "description": "2022年至2023年违规发放津贴补贴38.64万元。",
                "amount": "386400.00",
                "qualification": "违反财经纪律",
                "responsibility": "leadership",
                "handling": "decision",
            },
        ],
        "intended_use": ["cadre_assessment", "appointment", "personnel_file"],
        "attachments": [
            {
                "name": "经济责任审计结果报告.pdf",
                "media_type": "application/pdf",
                "size": 731_204,
                "sha256": "07cb2bd95079d9d87fa7016897536884445118addc2172c8bc237065185a835b",
            }
        ],
    }
    return _envelope(
        "result.share.v1",
        body,
        payload,
        "share_id",
        id=id,
        sender=sender,
        recipients=recipients,
        sent_at=_SentAt(sent_at),
        classification=classification,
        subject=subject,
        in_reply_to=in_reply_to,
    )


def result_feedback_example(
    *,
    share: Mapping[str, Any] | None = None,
    id: str | None = None,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
    sent_at: dt.datetime | str | None = None,
    classification: str = "internal",
    subject: str | EllipsisType | None = ...,
    in_reply_to: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """result.feedback.v1: 区委组织部 reports how it used the shared audit result.

    Given `share` (an envelope dict), the feedback answers it.
    """
    sent = _SentAt(sent_at)
    if share is not None:
        in_reply_to = in_reply_to or share["id"]
        sender = sender or share["to"][0]
        recipients = recipients or (share["from"],)
    body: dict[str, Any] = {
        "share_id": share["payload"]["share_id"] if share else SHARE_ID,
        "used_for": ["cadre_assessment", "personnel_file"],
        "actions": (
            "区委组织部已将审计结果归入李某某干部人事档案，并作为年度考核的重要依据；"
            "对审计发现问题负有领导责任的人员进行了诫勉。"
        ),
        "decisions": [{"kind": "admonition", "persons": 1}],
        "occurred_at": sent.date().isoformat(),
    }
    return _envelope(
        "result.feedback.v1",
        body,
        payload,
        "share_id",
        id=id,
        sender=sender or PERSONNEL,
        recipients=recipients or (AUDIT,),
        sent_at=sent,
        classification=classification,
        subject=subject,
        in_reply_to=in_reply_to or new_message_id(),
    )


def rectification_example(
    *,
    status: str = "in_progress",
    id: str | None = None,
    sender: str = AUDIT,
    recipients: Sequence[str] = (DISCIPLINE, INSPECTION, PERSONNEL),
    sent_at: dt.datetime | str | None = None,
    classification: str = "internal",
    subject: str | EllipsisType | None = ...,
    in_reply_to: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """rectification.status.v1: a phased ledger line of the audit, at `status`.

    The payload carries what `status` requires (evidence, verification).
    """
    sent = _SentAt(sent_at)
    today = sent.date()
    body: dict[str, Any] = {
        "ledger_item_id": LEDGER_ITEM_ID,
        "source": "econ_resp_audit",
        "source_doc_number": "阎审经责报〔2025〕2号",
        "responsible_unit": {"name": COMPANY_NAME, "uscc": COMPANY_USCC},
        "first_responsible": {"name": "赵某", "position": "党支部书记、董事长"},
        "problem_description": "2022年至2023年违规发放津贴补贴38.64万元。",
        "measures": (
            "责令相关人员退还违规发放的津贴补贴；修订《公司薪酬管理办法》，建立薪酬发放审批制度。"
        ),
        "amount_involved": "386400.00",
        "amount_rectified": "215000.00",
        "rectification_class": "phased",
        "deadline": (today + dt.timedelta(days=90)).isoformat(),
        "milestones": [
            {
                "stage": "第一阶段",
                "target": "清退违规发放的津贴补贴",
                "due": (today + dt.timedelta(days=30)).isoformat(),
            },
            {
                "stage": "第二阶段",
                "target": "修订薪酬管理制度并印发执行",
                "due": (today + dt.timedelta(days=90)).isoformat(),
            },
        ],
        "status": status,
        "rules_made": 1,
        "persons_held_accountable": 0,
    }
    if status in ("submitted", "completed", "closed"):
        body["amount_rectified"] = body["amount_involved"]
        body["evidence"] = [
            {
                "name": "整改情况报告及退款凭证.pdf",
                "media_type": "application/pdf",
                "size": 268_544,
                "sha256": "fd41baef09e5bbccc6845dedf567df2aa63843cbf22bf05f22f211c5ccadd2f4",
            },
            {
                "name": "公司薪酬管理办法（修订）.docx",
                "media_type": (
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                ),
                "size": 41_377,
                "sha256": "ae2439102f1833d467a498f9e59dfc6a5cc0f2816d8a0314ed1e27d1a74d69d7",
            },
        ]
    if status in ("completed", "ongoing", "not_rectified", "closed"):
        body["verification"] = {
            "by": "西安市阎良区审计局",
            "at": today.isoformat(),
            "opinion": _VERIFICATION_OPINIONS[status],
        }
    return _envelope(
        "rectification.status.v1",
        body,
        payload,
        "ledger_item_id",
        id=id,
        sender=sender,
        recipients=recipients,
        sent_at=sent,
        classification=classification,
        subject=subject,
        in_reply_to=in_reply_to,
    )


_VERIFICATION_OPINIONS: Final = {
    "completed": "经核查，违规发放的津贴补贴已全部清退，相关制度已修订完善，认定整改到位。",
    "closed": "整改到位，同意销号。",
    "ongoing": "制度建设需持续推进，认定为持续整改。",
    "not_rectified": "截至整改时限，违规发放资金未清退，认定为未整改。",
}


def _envelope(
    message_type: str,
    body: dict[str, Any],
    overrides: Mapping[str, Any] | None,
    business_key: str,
    *,
    id: str | None,
    sender: str,
    recipients: Sequence[str],
    sent_at: _SentAt,
    classification: str,
    subject: str | EllipsisType | None,
    in_reply_to: str | None,
) -> dict[str, Any]:
    payload = {**body, **(overrides or {})}
    envelope: dict[str, Any] = {
        "id": id or new_message_id(),
        "type": message_type,
        "from": sender,
        "to": list(recipients),
        "sent_at": sent_at.text,
        "classification": classification,
    }
    if subject is ...:
        subject = payload.get(business_key)
    if subject is not None:
        envelope["subject"] = subject
    if in_reply_to is not None:
        envelope["in_reply_to"] = in_reply_to
    envelope["payload"] = payload
    return envelope


class _SentAt:
    """The send time of a sample: `text` goes on the wire as given, `date` feeds due dates."""

    def __init__(self, value: dt.datetime | str | None) -> None:
        if value is None:
            value = dt.datetime.now(CHINA_STANDARD_TIME).replace(microsecond=0)
        self.text = value if isinstance(value, str) else value.isoformat()
        try:
            moment = dt.datetime.fromisoformat(self.text)
        except ValueError:  # a deliberately malformed time, in a test of the refusal
            moment = dt.datetime.now(CHINA_STANDARD_TIME)
        self.day = moment.date()

    def date(self) -> dt.date:
        """The calendar day of sending, at the sender's offset."""
        return self.day


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
