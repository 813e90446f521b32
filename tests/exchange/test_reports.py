"""Reports for people: the 整改台账 and the 移送线索台账 as XLSX and CSV — rows, labels, the
summary sheet against ``tracking.stats``, the downloads over the API and the CLI.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from exchange.hub import Hub
from exchange.supervision.days import china_today
from exchange.supervision.figures import stats
from exchange.supervision.reports.ledger import ledger_report
from exchange.supervision.reports.referrals import referral_report
from exchange.supervision.reports.workbook import Column, Report, Table
from exchange.supervision.scope import Period
from schemas import examples, uscc_check_character
from tests.exchange.test_cli import Cli, cli_env
from tests.support import PartnerKeys, problem_code, review, signed_request

Partners = dict[str, PartnerKeys]
AUDIT, DISCIPLINE, INSPECTION, PERSONNEL = (
    "audit.yanliang",
    "discipline.yanliang",
    "inspection.yanliang",
    "personnel.yanliang",
)
COMPANY = {"name": examples.COMPANY_NAME, "uscc": examples.COMPANY_USCC}
STREET = {
    "name": "西安市阎良区某街道办事处",
    "uscc": "11610114MB0000000" + uscc_check_character("11610114MB0000000"),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEDGER_HEADERS = [
    "台账编号",
    "报送单位",
    "问题来源",
    "来源文书文号",
    "整改责任单位",
    "统一社会信用代码",
    "第一责任人",
    "问题描述",
    "整改措施",
    "整改类型",
    "整改状态",
    "整改时限",
    "下一阶段时限",
    "是否逾期",
    "涉及金额(元)",
    "已整改金额(元)",
    "完善制度数",
    "问责人数",
    "首次报送",
    "最近报送",
]
REFERRAL_HEADERS = [
    "移送编号",
    "文号",
    "被审计(巡察)单位",
    "移送单位",
    "接收单位",
    "问题类别",
    "涉及金额(元)",
    "移送日期",
    "反馈时限",
    "当前状态",
    "处置方式",
    "是否逾期",
    "首次反馈用时(天)",
    "办结日期",
    "处理人数",
    "追回金额(元)",
]


@dataclass
class Seeded:
    """What ``seed`` sent: the referral envelopes by referral id."""

    referrals: dict[str, dict[str, Any]]


def release(hub: Hub, message_id: str) -> None:
    """Two distinct reviewers approve a held referral."""
    for reviewer in ("zhang.reviewer", "li.reviewer"):
        review(hub, message_id, reviewer)


@pytest.fixture
def seeded(base_url: str, hub: Hub, partners: Partners) -> Seeded:
    """Four ledger items (three of audit, one of inspection) and three referrals."""
    audit = partners["audit"].client(base_url)
    inspection = partners["inspection"].client(base_url)
    discipline = partners["discipline"].client(base_url)

    def line(client: Any, key: str, status: str, **overrides: Any) -> None:
        recipients = overrides.pop("recipients", (DISCIPLINE, INSPECTION, PERSONNEL))
        sender = overrides.pop("sender", AUDIT)
        client.send(
            examples.rectification_example(
                status=status,
                sender=sender,
                recipients=recipients,
                payload={"ledger_item_id": key, **overrides},
            )
        )

    line(
        audit,
        "YL-ZG-001",
        "completed",
        rectification_class="immediate",
        milestones=[],
        amount_involved="100000.00",
        amount_rectified="100000.00",
        rules_made=2,
        persons_held_accountable=1,
    )
    line(
        audit,
        "YL-ZG-002",
        "in_progress",
        responsible_unit=STREET,
        amount_involved="50000.00",
        amount_rectified="20000.00",
        measures="第一次报送的整改措施。",
    )
    line(  # the later line goes to discipline only
        audit,
        "YL-ZG-002",
        "submitted",
        recipients=(DISCIPLINE,),
        responsible_unit=STREET,
        amount_involved="50000.00",
        amount_rectified="50000.00",
        measures="第二次报送的整改措施。",
    )
    line(
        audit,
        "YL-ZG-003",
        "pending",
        recipients=(DISCIPLINE,),
        rectification_class="continuous",
        milestones=[],
        deadline="2020-01-01",
        responsible_unit=STREET,
        problem_description="-5万元尚未退还",
        measures='=HYPERLINK("http://example.invalid","点击")',
        first_responsible={"name": "钱某"},
    )
    line(
        inspection,
        "XC-ZG-001",
        "closed",
        sender=INSPECTION,
        recipients=(DISCIPLINE,),
        source="inspection",
        inspection_round="2025年第一轮",
        rectification_class="immediate",
        milestones=[],
        responsible_unit=COMPANY,
        amount_involved="0.00",
        amount_rectified="0.00",
    )

    concluded = examples.referral_example(
        payload={"referral_id": "YL-YJ-001", "doc_number": "阎审移〔2025〕3号"}
    )
    overdue = examples.referral_example(
        sender=INSPECTION,
        recipients=(DISCIPLINE, PERSONNEL),
        payload={
            "referral_id": "XC-YJ-001",
            "doc_number": "阎巡移〔2025〕1号",
            "source": {"kind": "inspection_round", "name": "2025年第一轮巡察"},
            "issue_category": "eight_rules",
            "feedback_due": "2020-01-01",
        },
    )
    held = examples.referral_example(
        payload={"referral_id": "YL-YJ-002", "doc_number": "阎审移〔2025〕4号"}
    )
    release(hub, audit.send(concluded).id)
    release(hub, inspection.send(overdue).id)
    audit.send(held)
    discipline.inbox()
    discipline.ack([concluded["id"]])
    for stage in ("accepted", "disposed", "concluded"):
        discipline.send(examples.clue_feedback_example(stage=stage, referral=concluded))
    return Seeded({"YL-YJ-001": concluded, "XC-YJ-001": overdue, "YL-YJ-002": held})


# --- reading the files back -------------------------------------------------------------------


def workbook(data: bytes) -> tuple[Worksheet, Worksheet]:
    book = load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 2
    return book.worksheets[0], book.worksheets[1]


def sheet_rows(sheet: Worksheet) -> tuple[list[Any], list[dict[str, Any]]]:
    rows = list(sheet.iter_rows(values_only=True))
    headers: list[Any] = list(rows[0])
    return headers, [dict(zip(headers, row, strict=True)) for row in rows[1:]]


def summary_blocks(sheet: Worksheet) -> dict[str, list[tuple[Any, ...]]]:
    """The summary sheet's blocks by title ("" for the untitled one), split at blank rows."""
    blocks: dict[str, list[tuple[Any, ...]]] = {}
    current: list[tuple[Any, ...]] | None = None
    for row in sheet.iter_rows(values_only=True):
        values = tuple(row)
        if all(v is None for v in values):
            current = None
            continue
        if current is None:
            if isinstance(values[0], str) and all(v is None for v in values[1:]):
                current = blocks.setdefault(values[0], [])
                continue
            current = blocks.setdefault("", [])
        current.append(values)
    return blocks


def figures(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    assert rows[0][1] in ("数值", "件数"), rows[0]
    return {row[0]: row[1] for row in rows[1:]}


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def as_day(value: Any) -> date:
    assert isinstance(value, datetime), value
    return value.date()


# --- the 整改台账 -----------------------------------------------------------------------------


def test_the_ledger_workbook_has_a_row_per_item_and_the_figures_of_stats(
    seeded: Seeded, hub: Hub
) -> None:
    now = hub.now()
    today = china_today(now)
    with hub.readers() as session:
        report = ledger_report(session, hub.trust, None, Period(), now)
        expected = stats(session, None, Period(), now)["rectification"]
    assert report.filename("xlsx") == f"整改台账-{today}.xlsx"
    rows_sheet, summary_sheet = workbook(report.xlsx())
    assert rows_sheet.title == "整改台账" and summary_sheet.title == "汇总"
    assert rows_sheet.freeze_panes == "A2"
    assert rows_sheet.auto_filter.ref == "A1:T5"
    assert rows_sheet.column_dimensions["H"].width == 48

    headers, rows = sheet_rows(rows_sheet)
    assert headers == LEDGER_HEADERS
    by_key = {row["台账编号"]: row for row in rows}
    assert [row["台账编号"] for row in rows] == ["YL-ZG-001", "YL-ZG-002", "YL-ZG-003", "XC-ZG-001"]

    first = by_key["YL-ZG-001"]
    assert first["报送单位"] == "燕良区审计局"
    assert first["问题来源"] == "经济责任审计"
    assert first["来源文书文号"] == "阎审经责报〔2025〕2号"
    assert first["整改责任单位"] == examples.COMPANY_NAME
    assert first["统一社会信用代码"] == examples.COMPANY_USCC
    assert first["第一责任人"] == "赵某（党支部书记、董事长）"
    assert first["问题描述"] == "2022年至2023年违规发放津贴补贴38.64万元。"
    assert first["整改措施"].startswith("责令相关人员退还")
    assert (first["整改类型"], first["整改状态"], first["是否逾期"]) == (
        "立行立改",
        "已完成整改",
        "否",
    )
    assert first["涉及金额(元)"] == 100000 and first["已整改金额(元)"] == 100000
    assert (first["完善制度数"], first["问责人数"]) == (2, 1)
    assert first["下一阶段时限"] is None
    assert isinstance(first["首次报送"], datetime) and first["首次报送"].date() == today

    second = by_key["YL-ZG-002"]
    assert (second["整改类型"], second["整改状态"]) == ("分阶段整改", "已报送待认定")
    assert second["整改责任单位"] == STREET["name"]
    assert second["涉及金额(元)"] == 50000 and second["已整改金额(元)"] == 50000
    assert as_day(second["下一阶段时限"]) == today + timedelta(days=30)
    assert as_day(second["整改时限"]) == today + timedelta(days=90)
    assert second["整改措施"] == "第二次报送的整改措施。"  # the hub operator reads the latest

    third = by_key["YL-ZG-003"]
    assert (third["整改类型"], third["整改状态"], third["是否逾期"]) == ("持续整改", "待整改", "是")
    assert as_day(third["整改时限"]) == date(2020, 1, 1)
    assert third["第一责任人"] == "钱某"

    tour = by_key["XC-ZG-001"]
    assert (tour["报送单位"], tour["问题来源"], tour["整改状态"]) == (
        "燕良区委巡察办",
        "巡察",
        "已销号",
    )

    # Number formats: amounts with two decimals, dates as dates.
    amount_cell = rows_sheet.cell(row=2, column=LEDGER_HEADERS.index("涉及金额(元)") + 1)
    assert amount_cell.number_format == "#,##0.00" and amount_cell.data_type == "n"
    deadline_cell = rows_sheet.cell(row=2, column=LEDGER_HEADERS.index("整改时限") + 1)
    assert isinstance(deadline_cell.value, datetime)
    assert deadline_cell.number_format == "yyyy-mm-dd"

    blocks = summary_blocks(summary_sheet)
    assert f"整改台账汇总（截至{today.year}年{today.month}月{today.day}日）" in blocks
    context = {row[0]: row[1] for row in blocks[""]}
    assert context["统计范围"] == "全部报送单位"
    assert as_day(context["截至日期"]) == today
    main = figures(blocks["主要指标"])
    labels = {
        "台账条目总数": "total",
        "已完成整改": "completed",
        "已销号": "closed",
        "持续整改": "ongoing",
        "未整改": "not_rectified",
        "逾期": "overdue",
        "整改率(%)": "rectification_rate",
        "立行立改条目数": "immediate_total",
        "立行立改完成率(%)": "immediate_rate",
        "完善制度数": "rules_made",
        "问责人数": "persons_held_accountable",
    }
    for label, key in labels.items():
        assert main[label] == expected[key], label
    assert main["涉及金额(元)"] == float(expected["amount_involved"]) == 536400
    assert main["已整改金额(元)"] == float(expected["amount_rectified"])
    assert (main["台账条目总数"], main["整改率(%)"], main["立行立改完成率(%)"]) == (4, 50, 100)
    assert main["逾期"] == 1

    unit_rows = blocks["按整改责任单位"]
    assert unit_rows[0][:3] == ("整改责任单位", "统一社会信用代码", "台账条目总数")
    units = {row[0]: row for row in unit_rows[1:]}
    for unit in expected["by_unit"]:
        row = units[unit["unit"]["name"]]
        assert row[1] == unit["unit"]["uscc"]
        assert list(row[2:9]) == [
            unit[k]
            for k in (
                "total",
                "completed",
                "closed",
                "ongoing",
                "not_rectified",
                "overdue",
                "rectification_rate",
            )
        ]
        assert row[9] == float(unit["amount_involved"])
    assert len(units) == len(expected["by_unit"]) == 2


def test_the_ledger_csv_has_a_bom_crlf_and_the_same_rows(seeded: Seeded, hub: Hub) -> None:
    now = hub.now()
    with hub.readers() as session:
        report = ledger_report(session, hub.trust, None, Period(), now)
    rows = csv_rows(report.csv())
    assert rows[0] == LEDGER_HEADERS
    assert [r[0] for r in rows[1:]] == ["YL-ZG-001", "YL-ZG-002", "YL-ZG-003", "XC-ZG-001"]
    first = dict(zip(LEDGER_HEADERS, rows[1], strict=True))
    assert first["涉及金额(元)"] == "100000.00"
    assert first["整改状态"] == "已完成整改"
    assert first["下一阶段时限"] == ""
    assert first["首次报送"].startswith(china_today(now).isoformat() + " ")
    third = dict(zip(LEDGER_HEADERS, rows[3], strict=True))
    assert third["整改时限"] == "2020-01-01"
    assert third["是否逾期"] == "是"


def test_text_that_looks_like_a_formula_stays_text(seeded: Seeded, hub: Hub) -> None:
    with hub.readers() as session:
        report = ledger_report(session, hub.trust, None, Period(), hub.now())
    rows_sheet, _ = workbook(report.xlsx())
    measures = rows_sheet.cell(row=4, column=LEDGER_HEADERS.index("整改措施") + 1)
    assert measures.data_type == "s"
    assert measures.value == '=HYPERLINK("http://example.invalid","点击")'
    problem = rows_sheet.cell(row=4, column=LEDGER_HEADERS.index("问题描述") + 1)
    assert (problem.data_type, problem.value) == ("s", "-5万元尚未退还")
    third = dict(zip(LEDGER_HEADERS, csv_rows(report.csv())[3], strict=True))
    assert third["整改措施"] == '\'=HYPERLINK("http://example.invalid","点击")'
    assert third["问题描述"] == "'-5万元尚未退还"


def test_a_recipient_reads_only_the_status_lines_sent_to_it(seeded: Seeded, hub: Hub) -> None:
    now = hub.now()
    with hub.readers() as session:
        personnel = ledger_report(session, hub.trust, PERSONNEL, Period(), now)
        discipline = ledger_report(session, hub.trust, DISCIPLINE, Period(), now)
    personnel_rows = {str(r[0]): r for r in personnel.table.rows}
    discipline_rows = {str(r[0]): r for r in discipline.table.rows}
    assert sorted(personnel_rows) == ["YL-ZG-001", "YL-ZG-002"]
    assert len(discipline_rows) == 4
    measures = LEDGER_HEADERS.index("整改措施")
    assert personnel_rows["YL-ZG-002"][measures] == "第一次报送的整改措施。"
    assert discipline_rows["YL-ZG-002"][measures] == "第二次报送的整改措施。"


def test_the_period_counts_items_by_the_day_first_reported(seeded: Seeded, hub: Hub) -> None:
    now = hub.now()
    today = china_today(now)
    with hub.readers() as session:
        later = ledger_report(session, hub.trust, None, Period(today + timedelta(days=1)), now)
        until = ledger_report(session, hub.trust, None, Period(None, today), now)
        referrals = referral_report(
            session, hub.trust, None, Period(None, today - timedelta(1)), now
        )
    assert later.table.rows == [] and len(until.table.rows) == 4
    assert referrals.table.rows == []
    rows_sheet, summary_sheet = workbook(later.xlsx())
    assert sheet_rows(rows_sheet)[1] == []
    blocks = summary_blocks(summary_sheet)
    main = figures(blocks["主要指标"])
    assert main["台账条目总数"] == 0 and main["整改率(%)"] is None
    context = {row[0]: row[1] for row in blocks[""]}
    assert context["统计期间"] == f"{today + timedelta(days=1)} 至 不限（按首次报送日期）"


# --- the 移送线索台账 -------------------------------------------------------------------------


def test_the_referral_workbook_has_a_row_per_handling_and_the_figures_of_stats(
    seeded: Seeded, hub: Hub
) -> None:
    now = hub.now()
    today = china_today(now)
    with hub.readers() as session:
        report = referral_report(session, hub.trust, None, Period(), now)
        expected = stats(session, None, Period(), now)["referrals"]
    assert report.filename("csv") == f"移送线索台账-{today}.csv"
    rows_sheet, summary_sheet = workbook(report.xlsx())
    assert rows_sheet.title == "移送线索台账"
    headers, rows = sheet_rows(rows_sheet)
    assert headers == REFERRAL_HEADERS
    cases = {(r["移送编号"], r["接收单位"]): r for r in rows}
    assert sorted(cases) == [
        ("XC-YJ-001", "燕良区委组织部"),
        ("XC-YJ-001", "燕良区纪委监委"),
        ("YL-YJ-001", "燕良区纪委监委"),
        ("YL-YJ-002", "燕良区纪委监委"),
    ]
    done = cases[("YL-YJ-001", "燕良区纪委监委")]
    assert done["文号"] == "阎审移〔2025〕3号"
    assert done["被审计(巡察)单位"] == examples.COMPANY_NAME
    assert (done["移送单位"], done["问题类别"]) == ("燕良区审计局", "国有资产重大损失")
    assert done["涉及金额(元)"] == 12500000
    assert as_day(done["移送日期"]) == today
    assert (done["当前状态"], done["处置方式"], done["是否逾期"]) == (
        "已办结",
        "立案审查调查",
        "否",
    )
    assert as_day(done["办结日期"]) == today
    assert (done["处理人数"], done["追回金额(元)"]) == (2, 9886000)
    assert done["首次反馈用时(天)"] is not None and done["首次反馈用时(天)"] >= 0

    late = cases[("XC-YJ-001", "燕良区纪委监委")]
    assert (late["移送单位"], late["文号"], late["问题类别"]) == (
        "燕良区委巡察办",
        "阎巡移〔2025〕1号",
        "违反中央八项规定精神",
    )
    assert (late["当前状态"], late["是否逾期"], late["处置方式"]) == ("已送达", "是", None)
    assert as_day(late["反馈时限"]) == date(2020, 1, 1)
    assert cases[("XC-YJ-001", "燕良区委组织部")]["当前状态"] == "已放行"
    assert cases[("YL-YJ-002", "燕良区纪委监委")]["当前状态"] == "待审核"

    blocks = summary_blocks(summary_sheet)
    assert any(title.startswith("移送线索台账汇总（截至") for title in blocks)
    main = figures(blocks["主要指标"])
    # Version 1: released cases are counted, the one held in review apart.
    assert main["已放行移送(件次)"] == expected["total"] == 3
    assert main["待审核"] == expected["held"] == 1
    assert main["逾期未反馈"] == expected["overdue"] == 2
    assert main["已反馈"] == expected["with_feedback"] == 1
    assert main["反馈用时中位数(天)"] == expected["median_days_to_feedback"]
    assert main["办结"] == expected["concluded"] == 1
    assert main["处理人数"] == expected["persons_handled"] == 2
    assert main["追回金额(元)"] == float(expected["recovered_amount"]) == 9886000
    assert figures(blocks["按当前状态"]) == {
        "已放行": 1,
        "已送达": 1,
        "已办结": 1,
    }
    assert figures(blocks["按问题类别"]) == {"违反中央八项规定精神": 2, "国有资产重大损失": 1}
    assert sum(expected["by_state"].values()) == 3


# --- the API ----------------------------------------------------------------------------------


def download(base_url: str, who: PartnerKeys, path: str) -> requests.Response:
    response = signed_request(base_url, who, "GET", path)
    assert response.status_code == 200, response.text
    return response


def test_the_api_serves_each_partner_its_own_rows(
    seeded: Seeded, base_url: str, hub: Hub, partners: Partners
) -> None:
    today = china_today(hub.now()).isoformat()
    response = download(base_url, partners["audit"], "/v1/reports/ledger.xlsx")
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="ledger-{today}.xlsx"; '
        f"filename*=UTF-8''{quote(f'整改台账-{today}.xlsx')}"
    )
    assert response.headers["Cache-Control"] == "no-store"
    _, rows = sheet_rows(workbook(response.content)[0])
    assert [r["台账编号"] for r in rows] == ["YL-ZG-001", "YL-ZG-002", "YL-ZG-003"]

    response = download(base_url, partners["personnel"], "/v1/reports/ledger.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        f"filename*=UTF-8''{quote(f'整改台账-{today}.csv')}"
        in (response.headers["Content-Disposition"])
    )
    assert [r[0] for r in csv_rows(response.content)[1:]] == ["YL-ZG-001", "YL-ZG-002"]

    response = download(base_url, partners["inspection"], "/v1/reports/referrals.xlsx")
    assert f'filename="referrals-{today}.xlsx"' in response.headers["Content-Disposition"]
    rows_sheet, summary_sheet = workbook(response.content)
    _, rows = sheet_rows(rows_sheet)
    assert {r["移送编号"] for r in rows} == {"XC-YJ-001"} and len(rows) == 2
    assert figures(summary_blocks(summary_sheet)["主要指标"])["已放行移送(件次)"] == 2

    response = download(base_url, partners["personnel"], "/v1/reports/referrals.csv")
    rows_csv = csv_rows(response.content)
    assert rows_csv[0] == REFERRAL_HEADERS
    assert [(r[0], r[4]) for r in rows_csv[1:]] == [("XC-YJ-001", "燕良区委组织部")]

    # A referral still held for review is its sender's alone.
    response = download(base_url, partners["discipline"], "/v1/reports/referrals.csv")
    assert sorted(r[0] for r in csv_rows(response.content)[1:]) == ["XC-YJ-001", "YL-YJ-001"]
    response = download(base_url, partners["audit"], f"/v1/reports/referrals.csv?to={today}")
    assert sorted(r[0] for r in csv_rows(response.content)[1:]) == ["YL-YJ-001", "YL-YJ-002"]


@pytest.mark.parametrize(
    "query",
    ["?from=2026-13-01", "?from=yesterday", "?from=2026-11-22&to=2026-11-21"],
)
def test_the_api_refuses_a_bad_period_naming_the_field(
    base_url: str, partners: Partners, query: str
) -> None:
    for path in ("/v1/reports/ledger.xlsx", "/v1/reports/referrals.csv"):
        response = signed_request(base_url, partners["audit"], "GET", path + query)
        assert response.status_code == 422, response.text
        assert problem_code(response) == "schema-invalid"
        assert "from" in response.json()["errors"]


@pytest.mark.parametrize("field", ["source_doc_number", "problem_category", "owner", "unit"])
def test_the_api_refuses_a_filter_with_control_characters_naming_it(
    base_url: str, partners: Partners, field: str
) -> None:
    # Found by the OpenAPI fuzzer: U+0007 in a filter reached the workbook's title and openpyxl
    # refused it with a 500.
    for path in ("/v1/reports/ledger.xlsx", "/v1/stats"):
        query = f"?{field}=%07%E5%AE%A1%19&as_of=2026-06-30"
        response = signed_request(base_url, partners["audit"], "GET", path + query)
        assert response.status_code == 422, response.text
        assert problem_code(response) == "schema-invalid"
        assert field in response.json()["errors"]


def test_a_workbook_title_with_control_characters_still_renders() -> None:
    report = Report(
        name="整改台账",
        ascii_name="ledger",
        as_of=date(2026, 6, 30),
        table=Table(columns=(Column("问题"),), rows=[["甲\x07乙"]]),
        title="整改台账汇总\x19",
    )
    rows_sheet, summary_sheet = workbook(report.xlsx())
    assert rows_sheet.cell(row=2, column=1).value == "甲\ufffd乙"
    assert summary_sheet.cell(row=1, column=1).value == "整改台账汇总\ufffd"


def test_the_api_answers_only_signed_requests(base_url: str, partners: Partners) -> None:
    response = requests.get(base_url + "/v1/reports/ledger.csv", timeout=30)
    assert response.status_code == 401
    assert problem_code(response) == "request-signature-invalid"


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def hub_cli(hub: Hub, hub_home: Path, database_url: str) -> Cli:
    """The CLI over the test hub's own home (same keys) and database."""
    return Cli(cli_env(hub_home, database_url))


def test_the_cli_writes_both_formats(seeded: Seeded, hub_cli: Cli, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.xlsx"
    out = hub_cli.ok("report", "ledger", "--format", "xlsx", "--out", str(ledger))
    assert out == f"wrote {ledger} (4 rows)\n"
    _, rows = sheet_rows(workbook(ledger.read_bytes())[0])
    assert len(rows) == 4

    referrals = tmp_path / "移送线索台账.csv"  # the format from the suffix
    out = hub_cli.ok("report", "referrals", "--out", str(referrals), "--partner", PERSONNEL)
    assert out == f"wrote {referrals} (1 row)\n"
    assert csv_rows(referrals.read_bytes())[1][0] == "XC-YJ-001"

    later = (date.today() + timedelta(days=2)).isoformat()
    out = hub_cli.ok(
        "report", "referrals", "--format", "xlsx", "--out", str(tmp_path / "r"), "--from", later
    )
    assert out.endswith("(0 rows)\n")

    assert "no such partner: nobody.x" in hub_cli.refused(
        "report", "ledger", "--out", str(ledger), "--partner", "nobody.x"
    )
    assert "--format" in hub_cli.refused("report", "ledger", "--out", str(tmp_path / "x.txt"))
    assert "--from must not be after --to" in hub_cli.refused(
        "report", "ledger", "--out", str(ledger), "--from", "2026-02-01", "--to", "2026-01-01"
    )
    assert "2026-13-01" in hub_cli.refused(
        "report", "ledger", "--out", str(ledger), "--from", "2026-13-01", code=2
    )


def test_the_cli_takes_the_cut_off_and_scope_of_the_api(
    seeded: Seeded, hub_cli: Cli, hub: Hub, base_url: str, partners: Partners, tmp_path: Path
) -> None:
    today = china_today(hub.now()).isoformat()
    scope = {
        "source_doc_number": "阎审经责报〔2025〕2号",
        "as_of": today,
        "source": "econ_resp_audit",
    }
    options = [f"--{name.replace('_', '-')}={value}" for name, value in scope.items()]
    ledger = tmp_path / "scoped.xlsx"
    hub_cli.ok("report", "ledger", "--out", str(ledger), "--partner", "audit.yanliang", *options)
    query = "&".join(f"{name}={quote(value)}" for name, value in scope.items())
    answer = download(base_url, partners["audit"], f"/v1/reports/ledger.xlsx?{query}")
    from_cli, from_api = workbook(ledger.read_bytes()), workbook(answer.content)
    assert sheet_rows(from_cli[0]) == sheet_rows(from_api[0])
    assert len(sheet_rows(from_cli[0])[1]) == 3
    assert summary_blocks(from_cli[1]) == summary_blocks(from_api[1])
    titles = list(summary_blocks(from_cli[1]))
    assert any(
        t.startswith("整改台账汇总（截至") and "阎审经责报〔2025〕2号" in t for t in titles
    ), titles

    other = tmp_path / "other.csv"
    out = hub_cli.ok(
        "report", "ledger", "--out", str(other), "--source-doc-number=阎审报〔1999〕1号"
    )
    assert out.endswith("(0 rows)\n")
    assert "--source" in hub_cli.refused(
        "report", "ledger", "--out", str(other), "--source", "rumour", code=2
    )
    assert "--source-year" in hub_cli.refused(
        "report", "ledger", "--out", str(other), "--source-year", "1800", code=2
    )
