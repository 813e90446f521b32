"""A ledger item as each partner sees it: as of the latest line it sent or received, never
more — state, amounts, message id, timeline, figures and report (issue 9 items 3 and 4).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, message_count, post_json, problem_code, signed_request

Partners = dict[str, PartnerKeys]
ITEM = examples.LEDGER_ITEM_ID
DISCIPLINE, INSPECTION = "discipline.yanliang", "inspection.yanliang"


def get(base_url: str, who: PartnerKeys, path: str) -> Any:
    response = signed_request(base_url, who, "GET", path)
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers["Content-Type"] else response.content


def line(status: str, to: list[str], amount: str, **payload: Any) -> dict[str, Any]:
    envelope = examples.rectification_example(status=status, recipients=to)
    envelope["payload"]["amount_rectified"] = amount
    envelope["payload"].update(payload)
    return envelope


@pytest.fixture
def three_lines(base_url: str, hub: Hub, partners: Partners) -> list[str]:
    """Line 1 to discipline, line 2 to inspection only, line 3 to discipline again."""
    audit = partners["audit"].client(base_url)
    sent = [
        audit.send(line("pending", [DISCIPLINE], "1000.00")),
        audit.send(line("in_progress", [INSPECTION], "2000.00", rules_made=5)),
        audit.send(line("submitted", [DISCIPLINE, INSPECTION], "386400.00")),
    ]
    return [s.id for s in sent]


def test_a_recipient_never_sees_a_line_it_was_not_sent(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    first = audit.send(line("pending", [DISCIPLINE], "1000.00"))
    second = audit.send(line("in_progress", [INSPECTION], "2000.00", rules_made=5))
    discipline, inspection = partners["discipline"], partners["inspection"]

    seen = get(base_url, discipline, f"/v1/ledger/{ITEM}")
    assert (seen["status"], seen["amount_rectified"], seen["rules_made"]) == (
        "pending",
        "1000.00",
        1,
    )
    assert seen["last_message_id"] == first.id
    assert [s["message_id"] for s in seen["timeline"]] == [first.id]
    (listed,) = get(base_url, discipline, "/v1/ledger")["items"]
    assert listed == {k: v for k, v in seen.items() if k != "timeline"}
    figures = get(base_url, discipline, "/v1/stats")["rectification"]
    assert figures["by_status"] == {"pending": 1}
    assert figures["amount_rectified"] == "1000.00"
    assert figures["rules_made"] == 1
    assert get(base_url, discipline, "/v1/ledger?status=in_progress&total=true")["total"] == 0
    rows = list(
        csv.reader(
            io.StringIO(get(base_url, discipline, "/v1/reports/ledger.csv").decode("utf-8-sig"))
        )
    )
    assert "待整改" in rows[1] and "整改中" not in rows[1]
    assert "1000.00" in rows[1] and "2000.00" not in rows[1]

    seen = get(base_url, inspection, f"/v1/ledger/{ITEM}")
    assert (seen["status"], seen["amount_rectified"], seen["last_message_id"]) == (
        "in_progress",
        "2000.00",
        second.id,
    )
    assert [s["message_id"] for s in seen["timeline"]] == [second.id]
    assert seen["timeline"][0]["from_state"] is None  # the first line it saw
    assert seen["first_reported_at"] == seen["reported_at"]

    owner = get(base_url, partners["audit"], f"/v1/ledger/{ITEM}")
    assert owner["status"] == "in_progress"
    assert [s["message_id"] for s in owner["timeline"]] == [first.id, second.id]


def test_a_later_line_shows_the_step_from_what_the_recipient_last_saw(
    base_url: str, hub: Hub, partners: Partners, three_lines: list[str]
) -> None:
    first, second, third = three_lines
    seen = get(base_url, partners["discipline"], f"/v1/ledger/{ITEM}")
    assert seen["status"] == "submitted" and seen["last_message_id"] == third
    steps = [(s["from_state"], s["to_state"], s["message_id"]) for s in seen["timeline"]]
    assert steps == [(None, "pending", first), ("pending", "submitted", third)]
    owner = get(base_url, partners["audit"], f"/v1/ledger/{ITEM}")
    assert [s["to_state"] for s in owner["timeline"]] == ["pending", "in_progress", "submitted"]
    assert second in {s["message_id"] for s in owner["timeline"]}


def test_an_outsider_sees_no_line(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"].client(base_url)
    audit.send(line("pending", [DISCIPLINE], "1000.00"))
    personnel = partners["personnel"]
    response = signed_request(base_url, personnel, "GET", f"/v1/ledger/{ITEM}")
    assert response.status_code == 404
    assert get(base_url, personnel, "/v1/ledger?total=true")["total"] == 0
    assert get(base_url, personnel, "/v1/stats")["rectification"]["total"] == 0


def test_a_line_without_subject_reaches_its_recipient(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    envelope = line("pending", [DISCIPLINE], "1000.00")
    del envelope["subject"]
    sent = partners["audit"].client(base_url).send(envelope)
    (listed,) = get(base_url, partners["discipline"], "/v1/ledger")["items"]
    assert (listed["ledger_item_id"], listed["last_message_id"]) == (ITEM, sent.id)
    assert get(base_url, partners["discipline"], "/v1/stats")["rectification"]["total"] == 1
    detail = get(base_url, partners["discipline"], f"/v1/ledger/{ITEM}")
    assert detail["last_message_id"] == sent.id


def test_a_subject_other_than_the_key_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    envelope = line("pending", [DISCIPLINE], "1000.00")
    envelope["subject"] = "ANOTHER-ITEM"
    response = post_json(
        base_url, partners["audit"], "/v1/messages", partners["audit"].sign(envelope)
    )
    assert response.status_code == 422, response.text
    assert problem_code(response) == "schema-invalid"
    assert response.json()["errors"] == {"subject": ["Must equal payload.ledger_item_id."]}
    assert message_count(hub) == 0
    assert get(base_url, partners["audit"], "/v1/ledger?total=true")["total"] == 0
