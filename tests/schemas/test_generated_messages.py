"""Generated messages of every type: the free leaves of the fullest sample (texts, USCCs, ID
numbers) drawn anew are accepted; one mutation of one drawn leaf — the field dropped when it
is required, a value of the wrong type, a label off its enumeration, a USCC's check character
changed — is refused with that field's JSON path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, validate

from exchange.hub import Hub
from schemas import (
    ALL_MESSAGE_TYPES,
    EnvelopeSchema,
    MessageInvalid,
    find_classified,
    validate_envelope,
)
from schemas.codes import USCC_ALPHABET
from schemas.examples import new_message_id
from schemas.fields import Choice, IdNumber, Text, Uscc
from tests.schemas.test_schemas_codes_properties import id_numbers, usccs
from tests.schemas.test_schemas_required import SAMPLES
from tests.support import PartnerKeys, message_count

SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Leaf:
    """One value of a sample message: its JSON path, the keys to reach it, its field."""

    path: str
    keys: tuple[str | int, ...]
    field: fields.Field[Any]


def _leaves(
    schema: Schema, document: dict[str, Any], path: str, keys: tuple[str | int, ...]
) -> Iterator[Leaf]:
    for name, field in schema.fields.items():
        key = field.data_key or name
        if key not in document:
            continue
        here = f"{path}.{key}" if path else key
        yield from _field_leaves(field, document[key], here, (*keys, key))


def _field_leaves(
    field: fields.Field[Any], value: Any, path: str, keys: tuple[str | int, ...]
) -> Iterator[Leaf]:
    if isinstance(field, fields.Nested) and isinstance(value, dict):
        yield from _leaves(field.schema, value, path, keys)
    elif isinstance(field, fields.List) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _field_leaves(field.inner, item, f"{path}[{index}]", (*keys, index))
    else:
        yield Leaf(path, keys, field)


def leaves(message_type: str) -> list[Leaf]:
    """Every leaf of the type's fullest sample, envelope fields and payload fields."""
    sample = SAMPLES[message_type]()
    found = [
        leaf for leaf in _leaves(EnvelopeSchema(), sample, "", ()) if leaf.keys[0] != "payload"
    ]
    payload_schema = ALL_MESSAGE_TYPES[message_type]()
    return found + list(_leaves(payload_schema, sample["payload"], "payload", ("payload",)))


def _text_bounds(field: fields.Field[Any]) -> tuple[int, int]:
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            return validator.min or 1, validator.max or 40
    return 1, 40


# Letters, digits, punctuation and spaces: what a text field takes, Chinese included.
_TEXT = st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\u2028\u2029")


def value_for(leaf: Leaf) -> st.SearchStrategy[Any] | None:
    """A strategy of valid values for a free leaf; None where the sample's value stays
    (enumerations, dates and ids that other fields' conditions refer to).
    """
    field = leaf.field
    if type(field) is Text and len(field.validators) == 1:
        low, high = _text_bounds(field)
        return st.text(_TEXT, min_size=low, max_size=min(high, 60)).filter(str.strip)
    if isinstance(field, Uscc):
        return usccs
    if isinstance(field, IdNumber):
        return id_numbers()
    return None


def _set(document: dict[str, Any], keys: tuple[str | int, ...], value: Any) -> None:
    target: Any = document
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value


def _drop(document: dict[str, Any], keys: tuple[str | int, ...]) -> None:
    target: Any = document
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]


@st.composite
def generated(draw: st.DrawFn, message_type: str) -> dict[str, Any]:
    """The type's fullest sample with every free leaf of its payload drawn anew (the
    envelope's fields name the type and the route, which are not free).
    """
    message = SAMPLES[message_type]()
    for leaf in leaves(message_type):
        strategy = value_for(leaf) if leaf.keys[0] == "payload" else None
        if strategy is not None:
            _set(message, leaf.keys, draw(strategy))
    return message


TYPES = sorted(SAMPLES)
USCC_TYPES = [t for t in TYPES if any(isinstance(leaf.field, Uscc) for leaf in leaves(t))]


@pytest.mark.parametrize("message_type", TYPES)
def test_every_type_has_leaves_to_draw(message_type: str) -> None:
    free = [leaf.path for leaf in leaves(message_type) if value_for(leaf) is not None]
    assert [path for path in free if path.startswith("payload.")], free


@pytest.mark.parametrize("message_type", TYPES)
@SETTINGS
@given(data=st.data())
def test_generated_messages_are_accepted(message_type: str, data: st.DataObject) -> None:
    message = data.draw(generated(message_type))
    assume(find_classified(message) is None)  # a drawn text may spell a state-secret marker
    assert validate_envelope(message).type == message_type


def _mutations(leaf: Leaf) -> list[tuple[str, Any]]:
    # A JSON array is no field's leaf value: not a string, number, flag, object or code.
    found: list[tuple[str, Any]] = [("wrong type", ["a", "list"])]
    if leaf.field.required and isinstance(leaf.keys[-1], str):
        found.append(("dropped", None))
    if isinstance(leaf.field, Choice):
        found.append(("bad enum", "not-a-label"))
    return found


@pytest.mark.parametrize("message_type", TYPES)
@SETTINGS
@given(data=st.data())
def test_one_mutation_is_refused_at_its_path(message_type: str, data: st.DataObject) -> None:
    message = data.draw(generated(message_type))
    assume(find_classified(message) is None)
    leaf = data.draw(st.sampled_from(leaves(message_type)))
    kind, value = data.draw(st.sampled_from(_mutations(leaf)))
    broken = copy.deepcopy(message)
    if kind == "dropped":
        _drop(broken, leaf.keys)
    else:
        _set(broken, leaf.keys, value)
    with pytest.raises(MessageInvalid) as refused:
        validate_envelope(broken)
    assert leaf.path in refused.value.errors, (kind, leaf.path, refused.value.errors)


@pytest.mark.parametrize("message_type", USCC_TYPES)
@SETTINGS
@given(data=st.data())
def test_a_uscc_with_another_check_character_is_refused(
    message_type: str, data: st.DataObject
) -> None:
    codes = [leaf for leaf in leaves(message_type) if isinstance(leaf.field, Uscc)]
    message = data.draw(generated(message_type))
    assume(find_classified(message) is None)
    leaf = data.draw(st.sampled_from(codes))
    target: Any = message
    for key in leaf.keys:
        target = target[key]
    other = data.draw(st.sampled_from([c for c in USCC_ALPHABET if c != target[17]]))
    _set(message, leaf.keys, target[:17] + other)
    with pytest.raises(MessageInvalid) as refused:
        validate_envelope(message)
    assert refused.value.errors == {leaf.path: ["Invalid check character."]}


def _fresh_keys(message: dict[str, Any]) -> dict[str, Any]:
    # Each drawn message a new referral or ledger item, so that none is another's transition.
    key = f"GEN-{new_message_id()[:12]}"
    message["id"] = new_message_id()
    payload = message["payload"]
    for name in ("referral_id", "ledger_item_id"):
        if name in payload:
            payload[name] = message["subject"] = key
    return message


@pytest.mark.parametrize("message_type", ["clue.referral.v1", "rectification.status.v1"])
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_messages_are_accepted_by_the_hub(
    base_url: str,
    hub: Hub,
    partners: dict[str, PartnerKeys],
    message_type: str,
    data: st.DataObject,
) -> None:
    message = _fresh_keys(data.draw(generated(message_type)))
    assume(find_classified(message) is None)
    before = message_count(hub)
    sent = partners["audit"].client(base_url).send(message)
    assert sent.status == ("pending_review" if message_type == "clue.referral.v1" else "released")
    assert message_count(hub) == before + 1
