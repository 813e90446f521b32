"""Properties of the two check characters: generated codes validate; one change is caught."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemas import (
    MessageInvalid,
    id_number_check_character,
    id_number_problem,
    uscc_check_character,
    uscc_problem,
    validate_envelope,
)
from schemas.codes import USCC_ALPHABET
from schemas.examples import referral_example

usccs = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17).map(
    lambda body: body + uscc_check_character(body)
)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"\A[1-8][0-9]{5}\Z"))
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()))
    sequence = draw(st.integers(min_value=0, max_value=999))
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + id_number_check_character(body)


# Replacement characters: the code's own alphabet, plus look-alikes and strangers.
USCC_REPLACEMENTS = USCC_ALPHABET + "IOSVZabcxyz-  ０Ａ"
ID_REPLACEMENTS = "0123456789Xx ０-"


@given(usccs)
def test_generated_uscc_validates(uscc: str) -> None:
    assert uscc_problem(uscc) is None


@given(usccs, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_REPLACEMENTS))
def test_any_single_change_to_a_uscc_is_refused(uscc: str, position: int, char: str) -> None:
    assume(uscc[position] != char)
    changed = uscc[:position] + char + uscc[position + 1 :]
    assert uscc_problem(changed) is not None


@given(id_numbers())
def test_generated_id_number_validates(id_number: str) -> None:
    assert id_number_problem(id_number) is None


@given(id_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from(ID_REPLACEMENTS))
def test_any_single_change_to_an_id_number_is_refused(
    id_number: str, position: int, char: str
) -> None:
    assume(id_number[position] != char)
    changed = id_number[:position] + char + id_number[position + 1 :]
    assert id_number_problem(changed) is not None


@given(usccs, id_numbers())
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
def test_generated_codes_pass_the_message_schema(uscc: str, id_number: str) -> None:
    raw = referral_example()
    raw["payload"]["audited_unit"]["uscc"] = uscc
    raw["payload"]["involved_persons"][0]["id_number"] = id_number
    validate_envelope(raw)


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_no_error_repeats_arbitrary_input(text: str) -> None:
    value = f"⟦{text}⟧"
    raw = referral_example()
    for target in (
        raw["payload"]["audited_unit"],
        raw["payload"]["involved_persons"][0],
        raw["payload"],
        raw,
    ):
        for key in ("uscc", "id_number", "amount_involved", "feedback_due", "sent_at"):
            if key in target:
                target[key] = value
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    shown = json.dumps(caught.value.errors, ensure_ascii=False) + str(caught.value)
    assert "⟦" not in shown and "⟧" not in shown


@pytest.mark.parametrize("bad", ["", "9161011", "91610114MA6TXQ0L3M", "I" * 17, "0" * 16 + "ab"])
def test_uscc_check_character_needs_a_17_character_body(bad: Any) -> None:
    with pytest.raises(ValueError):
        uscc_check_character(bad)


@pytest.mark.parametrize("bad", ["", "61011419720315203X", "6101141972031520", "١" * 17])
def test_id_number_check_character_needs_17_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        id_number_check_character(bad)


def test_known_check_characters() -> None:
    # GB 11643-1999's worked example, and a published company's code.
    assert id_number_check_character("11010519491231002") == "X"
    assert uscc_check_character("91440300192203821") == "6"
