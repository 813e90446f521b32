"""Extreme values behind a valid signature: every one a 400 or 422 problem naming the field,
never a 5xx, and nothing stored (issue 9 item 2).
"""

from __future__ import annotations

import json

import pytest

from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, message_count, problem_code, signed_request

Partners = dict[str, PartnerKeys]
HUGE = "9" * 5000


def post_raw(base_url: str, who: PartnerKeys, path: str, body: str) -> dict[str, object]:
    response = signed_request(base_url, who, "POST", path, body=body.encode())
    assert response.status_code == 400, response.text
    assert problem_code(response) == "invalid-json"
    problem: dict[str, object] = response.json()
    return problem


@pytest.mark.parametrize(
    ("literal", "path"),
    [
        (HUGE, "envelope.payload.rules_made"),
        (f"-{HUGE}", "envelope.payload.rules_made"),
        ("9007199254740992", "envelope.payload.rules_made"),
    ],
)
def test_an_integer_beyond_i_json_in_a_message(
    base_url: str, hub: Hub, partners: Partners, literal: str, path: str
) -> None:
    envelope = examples.rectification_example()
    envelope["payload"]["rules_made"] = 7
    body = json.dumps(partners["audit"].sign(envelope), ensure_ascii=False)
    body = body.replace('"rules_made": 7', f'"rules_made": {literal}')
    problem = post_raw(base_url, partners["audit"], "/v1/messages", body)
    assert problem["errors"] == {path: ["Integer beyond the I-JSON range ±(2**53 - 1)."]}
    assert message_count(hub) == 0


def test_an_integer_beyond_i_json_in_a_batch_and_in_acks(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    good = partners["audit"].sign(examples.rectification_example())
    body = json.dumps({"messages": [good, {"envelope": {"n": 1}, "signature": "x"}]})
    body = body.replace('{"n": 1}', f'{{"n": {HUGE}}}')
    problem = post_raw(base_url, partners["audit"], "/v1/messages:batch", body)
    assert list(problem["errors"]) == ["messages[1].envelope.n"]  # type: ignore[call-overload]
    acks = f'{{"acks": [{{"id": {HUGE}, "ack": "x"}}]}}'
    problem = post_raw(base_url, partners["discipline"], "/v1/inbox/acks", acks)
    assert list(problem["errors"]) == ["acks[0].id"]  # type: ignore[call-overload]
    assert message_count(hub) == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"acks": [{"id": "\\ud800", "ack": "x"}]}', "acks[0].id"),
        ('{"acks": [{"id": "abc", "ack": "x\\udfff"}]}', "acks[0].ack"),
        ('{"acks": [{"\\udc00": "abc"}]}', "acks[0]"),
    ],
)
def test_a_lone_surrogate_is_refused_at_parse_time(
    base_url: str, hub: Hub, partners: Partners, body: str, path: str
) -> None:
    problem = post_raw(base_url, partners["discipline"], "/v1/inbox/acks", body)
    assert list(problem["errors"]) == [path]  # type: ignore[call-overload]


def test_a_lone_surrogate_in_an_envelope(base_url: str, hub: Hub, partners: Partners) -> None:
    envelope = examples.referral_example()
    envelope["payload"]["facts"] = "@@"
    body = json.dumps(partners["audit"].sign(envelope)).replace("@@", "\\ud800")
    problem = post_raw(base_url, partners["audit"], "/v1/messages", body)
    assert list(problem["errors"]) == ["envelope.payload.facts"]  # type: ignore[call-overload]
    assert message_count(hub) == 0


def test_a_pair_of_surrogates_is_one_character(base_url: str, hub: Hub, partners: Partners) -> None:
    envelope = examples.referral_example()
    envelope["payload"]["facts"] = "事实😀"
    body = json.dumps(partners["audit"].sign(envelope))  # ASCII: 😀 as \ud83d\ude00
    assert "\\ud83d\\ude00" in body
    response = signed_request(
        base_url, partners["audit"], "POST", "/v1/messages", body=body.encode()
    )
    assert response.status_code == 201, response.text


def test_an_ack_id_that_is_no_message_id(base_url: str, hub: Hub, partners: Partners) -> None:
    body = json.dumps({"acks": [{"id": "x" * 500, "ack": "x"}]}).encode()
    response = signed_request(base_url, partners["discipline"], "POST", "/v1/inbox/acks", body=body)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["error"]["errors"] == {"id": ["Not a valid message id."]}


@pytest.mark.parametrize(
    ("path", "field", "message"),
    [
        ("/v1/referrals?page=1000000000000000000", "page", "from 1 to 100000"),
        ("/v1/ledger?page=1000000000000000000", "page", "from 1 to 100000"),
        (f"/v1/ledger?page={HUGE}", "page", "from 1 to 100000"),
        ("/v1/referrals?page_size=501", "page_size", "from 1 to 500"),
        ("/v1/log/entries/9223372036854775808", "index", "from 0 to 9007199254740991"),
        ("/v1/log/entries/9007199254740992", "index", "from 0 to 9007199254740991"),
        ("/v1/log/proofs/inclusion?index=0&tree_size=9223372036854775808", "tree_size", "from 1"),
        ("/v1/log/proofs/consistency?first=0&second=99999999999999999999", "second", "from 0"),
        ("/v1/inbox?limit=100000000000000000000", "limit", "from 1 to 500"),
        # ASCII digits only: no other script's digits, no sign, no spaces, no underscores.
        ("/v1/ledger?page=%EF%BC%91", "page", "ASCII digits"),
        ("/v1/referrals?page=%D9%A3", "page", "ASCII digits"),
        ("/v1/log/entries/%D9%A3", "index", "ASCII digits"),
        ("/v1/inbox?limit=%2B5", "limit", "ASCII digits"),
        ("/v1/inbox?limit=-5", "limit", "ASCII digits"),
        ("/v1/inbox?limit=%205", "limit", "ASCII digits"),
        ("/v1/ledger?page=1_0", "page", "ASCII digits"),
        ("/v1/log/proofs/inclusion?index=0x1&tree_size=2", "index", "ASCII digits"),
    ],
)
def test_integer_parameters_are_bounded_and_ascii(
    base_url: str, hub: Hub, partners: Partners, path: str, field: str, message: str
) -> None:
    response = signed_request(base_url, partners["audit"], "GET", path)
    assert response.status_code == 422, response.text
    assert problem_code(response) == "schema-invalid"
    problem = response.json()
    assert list(problem["errors"]) == [field]
    assert message in problem["errors"][field][0]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/messages/%ED%A0%80",
        "/v1/messages/%00",
        "/v1/messages/" + "a" * 65,
        "/v1/messages/aaaaaaaaaaaaaaaa%00/evidence",
        "/v1/ledger/%ED%A0%80",
        "/v1/ledger/%00",
        "/v1/ledger/a%20b",
        "/v1/referrals/%FF",
        "/v1/referrals/x%7F",
        "/v1/referrals/" + "k" * 129,
    ],
)
def test_path_segments_that_name_nothing_are_not_found(
    base_url: str, hub: Hub, partners: Partners, path: str
) -> None:
    response = signed_request(base_url, partners["audit"], "GET", path)
    assert response.status_code == 404, response.text
    assert problem_code(response) == "not-found"
