"""Schemas document themselves in both languages: descriptions and enumeration labels."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marshmallow import Schema, fields

import schemas
from schemas import (
    ALL_MESSAGE_TYPES,
    AUDIT_TIMINGS,
    CLASSIFICATIONS,
    DECISION_KINDS,
    DISPOSITIONS,
    FEEDBACK_STAGES,
    FINDING_HANDLINGS,
    INTENDED_USES,
    ISSUE_CATEGORIES,
    MESSAGE_TYPE_LABELS,
    NOTICE_KINDS,
    OUTCOMES,
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
    RECTIFICATION_TRANSITIONS,
    RESPONSIBILITIES,
    SHARE_TYPES,
    SOURCE_KINDS,
    Choice,
    EnvelopeSchema,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
ENUMERATIONS = [
    AUDIT_TIMINGS,
    CLASSIFICATIONS,
    DECISION_KINDS,
    DISPOSITIONS,
    FEEDBACK_STAGES,
    FINDING_HANDLINGS,
    INTENDED_USES,
    ISSUE_CATEGORIES,
    NOTICE_KINDS,
    OUTCOMES,
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
    RESPONSIBILITIES,
    SHARE_TYPES,
    SOURCE_KINDS,
]


def all_fields() -> Iterator[tuple[str, fields.Field[Any]]]:
    seen: set[type[Schema]] = set()
    pending: list[tuple[str, Schema]] = [("envelope", EnvelopeSchema())]
    pending += [(name, schema()) for name, schema in ALL_MESSAGE_TYPES.items()]
    while pending:
        where, schema = pending.pop()
        if type(schema) in seen:
            continue
        seen.add(type(schema))
        for name, field in schema.fields.items():
            yield f"{where}.{name}", field
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(field, fields.List):
                yield f"{where}.{name}[]", inner
            if isinstance(inner, fields.Nested):
                pending.append((f"{where}.{name}", inner.schema))


FIELDS = list(all_fields())


def test_every_field_has_a_bilingual_description() -> None:
    for where, field in FIELDS:
        if where.endswith("[]"):
            continue
        description = field.metadata.get("description", "")
        assert CJK.search(description) and LATIN.search(description), where


def test_every_choice_carries_its_labels() -> None:
    choices = [(where, field) for where, field in FIELDS if isinstance(field, Choice)]
    used = [field.labels for _, field in choices]
    for enumeration in ENUMERATIONS:
        assert enumeration in used, enumeration
    for where, field in choices:
        labels = field.metadata["labels"]
        assert labels == field.labels, where
        assert list(labels) == field.validators[0].choices, where  # type: ignore[attr-defined]
        assert all(CJK.search(label) for label in labels.values()), where


def test_every_enumeration_has_chinese_labels() -> None:
    for enumeration in [*ENUMERATIONS, MESSAGE_TYPE_LABELS]:
        assert enumeration
        for value, label in enumeration.items():
            assert re.fullmatch(r"[a-z][a-z0-9_.]*", value), value
            assert CJK.search(label), value


def test_message_type_labels_cover_every_type() -> None:
    assert set(MESSAGE_TYPE_LABELS) == set(ALL_MESSAGE_TYPES)


def test_rectification_transitions_stay_within_the_statuses() -> None:
    assert set(RECTIFICATION_TRANSITIONS) == set(RECTIFICATION_STATUSES)
    for targets in RECTIFICATION_TRANSITIONS.values():
        assert targets <= set(RECTIFICATION_STATUSES)


def test_public_api_is_reexported() -> None:
    for name in schemas.__all__:
        assert getattr(schemas, name) is not None, name
    for name in (
        "SchemaError",
        "MessageInvalid",
        "ClassifiedContent",
        "canonical_bytes",
        "envelope_sha256",
        "PARTNER_ID_RE",
        "KID_RE",
        "BODIES",
        "partner_of",
        "body_of",
        "Envelope",
        "MESSAGE_TYPES",
        "validate_envelope",
        "mask_id_number",
        "id_numbers",
    ):
        assert name in schemas.__all__, name


PACKAGE = Path(schemas.__file__).parent


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_schemas_imports_only_marshmallow_rfc8785_regex_and_the_standard_library(
    module: Path,
) -> None:
    # regex: the Unicode classes (Default_Ignorable_Code_Point…) of the classified check.
    allowed = {"marshmallow", "rfc8785", "regex", "schemas", "__future__"}
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in allowed or top in sys.stdlib_module_names, (module.name, name)
