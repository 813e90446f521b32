"""The wire types: USCC, ID number, amount, date, text, counts, digests, choices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas import MessageInvalid, validate_envelope
from schemas.examples import (
    rectification_example,
    referral_example,
    share_example,
)

USCC_ALPHABET_MESSAGE = (
    "Must use only digits and the letters A-H, J-N, P-R, T, U, W-Y (upper case)."
)


def payload_errors(raw: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    return caught.value.errors


def referral_with(path: str, value: Any, set_at: Any) -> dict[str, Any]:
    raw = referral_example()
    set_at(raw, path, value)
    return raw


# --- 统一社会信用代码 USCC (GB 32100-2015) -------------------------------------------


@pytest.mark.parametrize(
    "uscc",
    [
        "914403001922038216",  # 华为技术有限公司
        "9144030071526726XG",  # 腾讯科技（深圳）有限公司
        "91110108551385082Q",  # 小米科技有限责任公司
        "11610114MB1570823X",
    ],
)
def test_valid_uscc(uscc: str, set_at: Any) -> None:
    validate_envelope(referral_with("payload.audited_unit.uscc", uscc, set_at))


@pytest.mark.parametrize(
    ("uscc", "message"),
    [
        ("91610114MA6TXQ0L3N", "Invalid check character."),
        ("91610114MA6TXQ0L3A", "Invalid check character."),
        ("81610114MA6TXQ0L3M", "Invalid check character."),
        ("91610114MA6TXO0L3M", USCC_ALPHABET_MESSAGE),
        ("91610114MA6TXQ0L3I", USCC_ALPHABET_MESSAGE),
        ("91610114ma6txq0l3m", USCC_ALPHABET_MESSAGE),
        ("91610114MA6TXQ0L3", "Must be 18 characters."),
        ("91610114MA6TXQ0L3MM", "Must be 18 characters."),
        ("", "Must be 18 characters."),
    ],
)
def test_bad_uscc(uscc: str, message: str, set_at: Any) -> None:
    raw = referral_with("payload.audited_unit.uscc", uscc, set_at)
    assert payload_errors(raw) == {"payload.audited_unit.uscc": [message]}


def test_uscc_must_be_a_string(set_at: Any) -> None:
    raw = referral_with("payload.audited_unit.uscc", 916101140, set_at)
    assert payload_errors(raw) == {"payload.audited_unit.uscc": ["Not a valid string."]}


# --- 公民身份号码 ID number (GB 11643) ------------------------------------------------


@pytest.mark.parametrize("id_number", ["11010519491231002X", "610114197203152039"])
def test_valid_id_number(id_number: str, set_at: Any) -> None:
    validate_envelope(referral_with("payload.involved_persons[0].id_number", id_number, set_at))


@pytest.mark.parametrize(
    ("id_number", "message"),
    [
        ("610114197203152038", "Invalid check character."),
        ("110105194912310021", "Invalid check character."),
        ("11010519491231002x", "Must be 17 digits followed by a digit or X (upper case)."),
        ("61011419720315203A", "Must be 17 digits followed by a digit or X (upper case)."),
        ("6101141972031520X9", "Must be 17 digits followed by a digit or X (upper case)."),
        ("610114197202302034", "Invalid birth date."),  # 30 February
        ("610114197213152031", "Invalid birth date."),  # month 13
        ("610114189912312035", "Invalid birth date."),  # before 1900
        ("610114299901012030", "Invalid birth date."),  # in the future
        ("61011419720315203", "Must be 18 characters."),
        ("61011472031520", "Must be 18 characters."),
    ],
)
def test_bad_id_number(id_number: str, message: str, set_at: Any) -> None:
    path = "payload.involved_persons[0].id_number"
    raw = referral_with(path, id_number, set_at)
    assert payload_errors(raw) == {path: [message]}


def test_bad_id_number_of_the_audited_official(set_at: Any) -> None:
    raw = share_example()
    set_at(raw, "payload.subject_official.id_number", "610114197203152038")
    assert payload_errors(raw) == {
        "payload.subject_official.id_number": ["Invalid check character."]
    }


# --- amounts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["0", "0.5", "0.50", "12500000", "12500000.00", "999999999999999.99"]
)
def test_valid_amount(amount: str, set_at: Any) -> None:
    validate_envelope(referral_with("payload.amount_involved", amount, set_at))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1.234", "Must be a decimal string in yuan with at most 2 decimals."),
        ("1e3", "Must be a decimal string in yuan with at most 2 decimals."),
        ("1E3", "Must be a decimal string in yuan with at most 2 decimals."),
        ("+100", "Must be a decimal string in yuan with at most 2 decimals."),
        ("-100", "Must not be negative."),
        ("-0.01", "Must not be negative."),
        ("1,250.00", "Must be a decimal string in yuan with at most 2 decimals."),
        ("01.00", "Must be a decimal string in yuan with at most 2 decimals."),
        ("1.", "Must be a decimal string in yuan with at most 2 decimals."),
        (".5", "Must be a decimal string in yuan with at most 2 decimals."),
        (" 1", "Must be a decimal string in yuan with at most 2 decimals."),
        ("NaN", "Must be a decimal string in yuan with at most 2 decimals."),
        ("Infinity", "Must be a decimal string in yuan with at most 2 decimals."),
        ("１２", "Must be a decimal string in yuan with at most 2 decimals."),
        ("", "Must be a decimal string in yuan with at most 2 decimals."),
        ("1250万", "Must be a decimal string in yuan with at most 2 decimals."),
        ("1000000000000000", "Must be a decimal string in yuan with at most 2 decimals."),
        (1250, "Must be a string, not a number."),
        (12.5, "Must be a string, not a number."),
        (True, "Must be a decimal string in yuan with at most 2 decimals."),
        (None, "Field may not be null."),
    ],
)
def test_bad_amount(amount: Any, message: str, set_at: Any) -> None:
    raw = referral_with("payload.amount_involved", amount, set_at)
    assert payload_errors(raw) == {"payload.amount_involved": [message]}


def test_bad_amount_deep_in_a_list(set_at: Any) -> None:
    raw = share_example()
    set_at(raw, "payload.findings[1].amount", "386400.001")
    assert list(payload_errors(raw)) == ["payload.findings[1].amount"]


# --- dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    ["2025-02-30", "2025-2-3", "20250203", "2025-02-03T00:00:00", "2025/02/03", "", 20250203],
)
def test_bad_date(date: Any, set_at: Any) -> None:
    raw = referral_with("payload.feedback_due", date, set_at)
    assert payload_errors(raw) == {"payload.feedback_due": ["Not a valid date (YYYY-MM-DD)."]}


def test_period_must_not_end_before_it_starts(set_at: Any) -> None:
    raw = referral_with("payload.source.period.to", "2020-12-31", set_at)
    assert payload_errors(raw) == {"payload.source.period.to": ["Must not be before from."]}


def test_tenure_must_not_end_before_it_starts(set_at: Any) -> None:
    raw = share_example()
    set_at(raw, "payload.subject_official.tenure_to", "2019-03-31")
    assert payload_errors(raw) == {
        "payload.subject_official.tenure_to": ["Must not be before tenure_from."]
    }


# --- text --------------------------------------------------------------------------


def test_facts_up_to_twenty_thousand_characters(set_at: Any) -> None:
    validate_envelope(referral_with("payload.facts", "事" * 20_000, set_at))
    raw = referral_with("payload.facts", "事" * 20_001, set_at)
    assert payload_errors(raw) == {"payload.facts": ["Length must be between 1 and 20000."]}


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("payload.audited_unit.name", 200),
        ("payload.involved_persons[0].name", 64),
        ("payload.involved_persons[0].position", 128),
        ("payload.doc_number", 64),
        ("payload.legal_basis[0]", 500),
        ("payload.qualification", 2_000),
        ("payload.auditor_opinion", 5_000),
        ("payload.source.scope", 2_000),
        ("payload.evidence[0].name", 255),
        ("payload.contact.name", 64),
    ],
)
def test_every_text_has_a_limit(path: str, limit: int, set_at: Any) -> None:
    validate_envelope(referral_with(path, "字" * limit, set_at))
    raw = referral_with(path, "字" * (limit + 1), set_at)
    assert list(payload_errors(raw)) == [path]


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_blank_text_is_refused(text: str, set_at: Any) -> None:
    raw = referral_with("payload.facts", text, set_at)
    assert list(payload_errors(raw)) == ["payload.facts"]


def test_control_characters_are_refused(set_at: Any) -> None:
    raw = referral_with("payload.audited_unit.name", "某公司\n第二行", set_at)
    assert payload_errors(raw) == {
        "payload.audited_unit.name": ["Must not contain control characters."]
    }
    raw = referral_with("payload.facts", "第一段\x00", set_at)
    assert payload_errors(raw) == {"payload.facts": ["Must not contain control characters."]}


def test_multiline_text_keeps_line_breaks(set_at: Any) -> None:
    validate_envelope(referral_with("payload.facts", "第一段。\r\n\t第二段。", set_at))


def test_lone_surrogate_is_refused(set_at: Any) -> None:
    raw = referral_with("payload.facts", "事实\ud800", set_at)
    assert payload_errors(raw) == {"payload.facts": ["Must be valid Unicode text."]}


def test_text_must_be_a_string(set_at: Any) -> None:
    raw = referral_with("payload.facts", ["事实"], set_at)
    assert payload_errors(raw) == {"payload.facts": ["Not a valid string."]}


def test_business_key_without_spaces(set_at: Any) -> None:
    raw = referral_example(payload={"referral_id": "YL SJ 3"})
    assert payload_errors(raw) == {"payload.referral_id": ["Must not contain spaces."]}


# --- choices, counts, flags, digests ----------------------------------------------


def test_bad_choice_lists_the_choices_not_the_input(set_at: Any) -> None:
    raw = referral_with("payload.issue_category", "bribery", set_at)
    (message,) = payload_errors(raw)["payload.issue_category"]
    assert message.startswith("Must be one of: embezzlement_bribery, dereliction")
    assert "bribery," not in message.replace("embezzlement_bribery,", "")


def test_choice_must_be_a_string(set_at: Any) -> None:
    raw = referral_with("payload.issue_category", 3, set_at)
    assert payload_errors(raw) == {"payload.issue_category": ["Not a valid string."]}


def test_list_of_choices_unique() -> None:
    raw = share_example(payload={"intended_use": ["appointment", "appointment"]})
    assert payload_errors(raw) == {"payload.intended_use": ["Must not contain duplicates."]}


def test_bad_choice_in_a_list_by_index() -> None:
    raw = share_example(payload={"intended_use": ["appointment", "promotion"]})
    assert list(payload_errors(raw)) == ["payload.intended_use[1]"]


@pytest.mark.parametrize("size", [-1, 1.5, "12", True, 2**53])
def test_bad_attachment_size(size: Any, set_at: Any) -> None:
    raw = referral_with("payload.evidence[0].size", size, set_at)
    assert list(payload_errors(raw)) == ["payload.evidence[0].size"]


def test_attachment_size_zero_is_fine(set_at: Any) -> None:
    validate_envelope(referral_with("payload.evidence[0].size", 0, set_at))


@pytest.mark.parametrize("count", [-1, 2.0, "3", False])
def test_bad_counts(count: Any) -> None:
    raw = rectification_example(payload={"rules_made": count})
    assert list(payload_errors(raw)) == ["payload.rules_made"]


@pytest.mark.parametrize("flag", [1, 0, "true", "yes", None])
def test_flag_is_json_true_or_false(flag: Any, set_at: Any) -> None:
    raw = referral_with("payload.complex", flag, set_at)
    assert list(payload_errors(raw)) == ["payload.complex"]


@pytest.mark.parametrize(
    "digest",
    ["E5BDC59EDCC65302A70FF2A3553E446E6345F2DDD3489296166221976F153DF5", "e5bd", "g" * 64],
)
def test_bad_sha256(digest: str, set_at: Any) -> None:
    raw = referral_with("payload.evidence[0].sha256", digest, set_at)
    assert payload_errors(raw) == {
        "payload.evidence[0].sha256": ["Must be 64 lower-case hexadecimal characters."]
    }


@pytest.mark.parametrize("media_type", ["pdf", "application/", "application/pdf; x=1", "/pdf"])
def test_bad_media_type(media_type: str, set_at: Any) -> None:
    raw = referral_with("payload.evidence[0].media_type", media_type, set_at)
    assert payload_errors(raw) == {"payload.evidence[0].media_type": ["Not a valid media type."]}


def test_attachment_name_is_not_a_path(set_at: Any) -> None:
    raw = referral_with("payload.evidence[0].name", "../../etc/passwd", set_at)
    assert payload_errors(raw) == {"payload.evidence[0].name": ["Must be a file name, not a path."]}


@pytest.mark.parametrize("phone", ["029-86851234", "13912345678", "+86 29 8685 1234"])
def test_good_phone(phone: str, set_at: Any) -> None:
    validate_envelope(referral_with("payload.contact.phone", phone, set_at))


@pytest.mark.parametrize("phone", ["call me", "12", "029-8685-1234 ext. 5"])
def test_bad_phone(phone: str, set_at: Any) -> None:
    raw = referral_with("payload.contact.phone", phone, set_at)
    assert payload_errors(raw) == {"payload.contact.phone": ["Not a valid telephone number."]}


# --- no error repeats its input ---------------------------------------------------

SENTINEL = "泄露样本ZQX"


@pytest.mark.parametrize(
    "path",
    [
        "id",
        "type",
        "from",
        "to[0]",
        "sent_at",
        "classification",
        "in_reply_to",
        "payload.referral_id",
        "payload.audited_unit.uscc",
        "payload.involved_persons[0].id_number",
        "payload.issue_category",
        "payload.amount_involved",
        "payload.feedback_due",
        "payload.evidence[0].sha256",
        "payload.evidence[0].media_type",
        "payload.evidence[0].size",
        "payload.evidence[0].name",
        "payload.complex",
        "payload.contact.phone",
        "payload.legal_basis",
        "payload.source",
    ],
)
def test_errors_never_contain_the_value(path: str, set_at: Any) -> None:
    raw = referral_example(subject=None, in_reply_to="a" * 16)
    for value in (f"{SENTINEL} ../{SENTINEL}/x", SENTINEL * 9000, [SENTINEL * 100], {SENTINEL: 1}):
        set_at(raw, path, value)
        with pytest.raises(MessageInvalid) as caught:
            validate_envelope(raw)
        assert SENTINEL not in json.dumps(caught.value.errors, ensure_ascii=False)
        assert SENTINEL not in str(caught.value)
        assert SENTINEL not in repr(caught.value.args)
