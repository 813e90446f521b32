"""Write the parts of the docs that the code defines, so that they cannot drift from it.

``python docs/generate.py`` rewrites, from the schemas, the agreements and the lifecycles:

- in ``docs/domain.md`` and ``docs/protocol.md``, every block between
  ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` (the field tables, the
  enumerations, the transition tables, the default agreements, the envelope);
- ``docs/examples/<type>.json``: one valid envelope of each type a partner sends, made by the
  same function as ``exchange-partner example`` but with a fixed id and ``sent_at``.

``python docs/generate.py --check`` writes nothing and exits 1 naming each file that is not
what it would write; ``tests/test_docs.py`` runs the same check.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from marshmallow import Schema, fields, validate

import schemas
from adapters.cli import EXAMPLE_BUILDERS, envelope_text, example_envelope
from exchange.supervision.lifecycles.referral import DISPOSITION_CHANGES, HUB_STEPS, STAGES
from exchange.trust.agreements import BODIES as AGREEMENT_BODIES
from exchange.trust.agreements import DEFAULT_AGREEMENTS
from schemas import (
    ALL_MESSAGE_TYPES,
    BODIES,
    DISPOSITIONS,
    MESSAGE_TYPE_LABELS,
    MESSAGE_TYPES,
    RECTIFICATION_STATUSES,
    RECTIFICATION_TRANSITIONS,
    REFERRAL_STATES,
    Amount,
    Choice,
    EnvelopeSchema,
    IdNumber,
    IsoDate,
    Rfc3339,
    Text,
    Uscc,
)
from schemas.common import PayloadSchema
from schemas.fields import (
    MAX_SAFE_INTEGER,
    MEDIA_TYPE_RE,
    PHONE_RE,
    BusinessKey,
    Count,
    Flag,
    JsonObject,
    MessageId,
    PartnerId,
    Sha256,
    Unique,
    Year,
)

DOCS: Final = Path(__file__).resolve().parent
EXAMPLES_DIR: Final = DOCS / "examples"
PAGES: Final = (DOCS / "domain.md", DOCS / "protocol.md")

EXAMPLE_SENT_AT: Final = "2025-06-03T10:00:00+08:00"
"""When every example was 'sent': due dates and deadlines follow from it."""
EXAMPLE_IDS: Final = {
    "clue.referral.v1": "docs-example-clue-referral-1",
    "clue.feedback.v1": "docs-example-clue-feedback-1",
    "result.share.v1": "docs-example-result-share-1",
    "result.feedback.v1": "docs-example-result-feedback-1",
    "rectification.status.v1": "docs-example-rectification-1",
}
"""The fixed message id of each example; a feedback answers the example it replies to."""
ANSWERS: Final = {
    "clue.feedback.v1": "clue.referral.v1",
    "result.feedback.v1": "result.share.v1",
}

_CJK: Final = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_REQUIRED_WHEN: Final = re.compile(r"\s*\(required ((?:when|for) [^)]*)\)")
_BLOCK: Final = re.compile(
    r"(<!-- generated:(?P<name>[a-z0-9.-]+) -->\n).*?(<!-- /generated:(?P=name) -->)", re.S
)


# --- examples -----------------------------------------------------------------------------


def example_documents() -> dict[str, str]:
    """File name → text of each ``docs/examples/<type>.json``."""
    documents: dict[str, str] = {}
    for message_type in EXAMPLE_BUILDERS:
        answered = ANSWERS.get(message_type)
        envelope = example_envelope(
            message_type,
            message_id=EXAMPLE_IDS[message_type],
            sent_at=EXAMPLE_SENT_AT,
            in_reply_to=EXAMPLE_IDS[answered] if answered else None,
        )
        documents[f"{message_type}.json"] = envelope_text(envelope)
    return documents


# --- field tables -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One field of a schema as a table row: its JSON path below the table's root."""

    path: str
    field: fields.Field[Any]


def walk(schema: Schema, prefix: str = "") -> Iterator[Row]:
    """Every field of a schema, depth first; nested objects' fields under ``parent.`` and
    list items' under ``parent[].``.
    """
    for name, field in schema.fields.items():
        path = f"{prefix}{field.data_key or name}"
        yield Row(path, field)
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, Schema):
            below = f"{path}[]." if isinstance(field, fields.List) else f"{path}."
            yield from walk(inner.schema, below)


def split_description(description: str) -> tuple[str, str, str]:
    """``"处置方式 disposition (required when stage is disposed)"`` → Chinese label, English
    description, condition (``when stage is disposed``, or ``""``).
    """
    words = description.split(" ")
    label: list[str] = []
    for word in words:
        if label and any(_CJK.search(w) for w in label) and not _CJK.search(word):
            break
        label.append(word)
    english = " ".join(words[len(label) :])
    condition = _REQUIRED_WHEN.search(english)
    if condition is None:
        return " ".join(label), english, ""
    return " ".join(label), _REQUIRED_WHEN.sub("", english), condition[1]


def _length(field: fields.Field[Any]) -> tuple[int | None, int | None]:
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            return validator.min, validator.max
    return None, None


def _bounds(field: fields.Field[Any]) -> str:
    low, high = _length(field)
    return f"{low or 0}..{high}" if high is not None else f"≥ {low or 0}"


def _pattern(field: fields.Field[Any]) -> str:
    for validator in field.validators:
        if isinstance(validator, validate.Regexp):
            if validator.regex.pattern == MEDIA_TYPE_RE.pattern:
                return ", a media type (RFC 6838)"
            if validator.regex.pattern == PHONE_RE.pattern:
                return ", a telephone number"
            if "/" in validator.regex.pattern:
                return ", a file name (no `/` or `\\`)"
    return ""


def enumeration_name(labels: Mapping[str, str]) -> str:
    """The name of the ``schemas`` constant that holds these labels (``ISSUE_CATEGORIES``)."""
    for name in sorted(dir(schemas)):
        if name.isupper() and getattr(schemas, name) == labels:
            return name
    raise LookupError(f"no schemas constant holds {sorted(labels)}")


def _anchor(name: str) -> str:
    return "enum-" + name.lower().replace("_", "-")


def field_type(field: fields.Field[Any], page: str = "") -> str:
    """What a field holds, as the table says it, with its limits; links go to ``page``."""
    simple: list[tuple[type[fields.Field[Any]], str]] = [
        (Amount, "amount: a string, 元, ≤ 2 decimals"),
        (IsoDate, "date `YYYY-MM-DD`"),
        (Rfc3339, "timestamp, RFC 3339 with offset"),
        (Flag, "`true` or `false`"),
        (Uscc, "USCC, 18, GB 32100 check"),
        (IdNumber, "ID number, 18, GB 11643 check"),
        (Sha256, "64 lower-case hex"),
        (MessageId, "message id `[A-Za-z0-9_-]{16,64}`"),
        (JsonObject, "object"),
    ]
    for kind, text in simple:
        if isinstance(field, kind):
            return text
    if isinstance(field, fields.List):
        return _list_type(field, page)
    if isinstance(field, fields.Nested):
        return "object"
    if isinstance(field, Choice):
        return f"one of {_enumeration_link(field, page)}"
    if isinstance(field, PartnerId):
        return "partner id" + (" or `hub`" if field.allow_hub else "")
    if isinstance(field, Count):
        high = max(v.max for v in field.validators if isinstance(v, validate.Range))
        return "integer ≥ 0 (I-JSON range)" if high == MAX_SAFE_INTEGER else f"integer 0..{high:,}"
    if isinstance(field, Year):
        return f"year {Year.FIRST}..{Year.LAST} (integer)"
    if isinstance(field, BusinessKey):
        return "business key: text 1..128, no spaces, nothing invisible"
    if isinstance(field, Text):
        if "labels" in field.metadata:
            return f"one of the [message types]({page}#message-types)"
        multiline = ", multi-line" if field.multiline else ""
        return f"text {_bounds(field)}{multiline}{_pattern(field)}"
    raise TypeError(f"no table type for {type(field).__name__}")


def _list_type(field: fields.List[Any], page: str) -> str:
    inner = field.inner
    if isinstance(inner, fields.Nested):
        what = "objects"
    elif isinstance(inner, Choice):
        what = f"values of {_enumeration_link(inner, page)}"
    else:
        what = field_type(inner, page)
    unique = any(isinstance(v, Unique) for v in field.validators)
    return f"list of {what}; {_bounds(field)}" + (", unique" if unique else "")


def _enumeration_link(field: Choice, page: str) -> str:
    name = enumeration_name(field.labels)
    return f"[`{name}`]({page}#{_anchor(name)})"


def field_table(schema: Schema, page: str = "") -> str:
    """The Markdown table of a schema's fields (nested ones on their own rows); its links go
    to ``page`` (``""``: the page itself).
    """
    lines = [
        "| field | 中文 | type | required | meaning |",
        "|---|---|---|---|---|",
    ]
    for row in walk(schema):
        field = row.field
        label, english, condition = split_description(str(field.metadata.get("description", "")))
        required = "**yes**" if field.required else condition
        kind = field_type(field, page)
        lines.append(f"| `{row.path}` | {label} | {kind} | {required} | {_cell(english)} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# --- the other tables ---------------------------------------------------------------------


def message_types_table() -> str:
    """Every message type: its label, business key, whether it answers a message."""
    lines = [
        "| type | 中文 | sent by | `subject` = payload field | `in_reply_to` |",
        "|---|---|---|---|---|",
    ]
    for message_type, schema in ALL_MESSAGE_TYPES.items():
        assert issubclass(schema, PayloadSchema)
        sent_by = "partners" if message_type in MESSAGE_TYPES else "the hub only"
        key = f"`{schema.business_key}`" if schema.business_key else "— (any text ≤ 128)"
        replies = "**required**" if schema.replies else "optional"
        label = MESSAGE_TYPE_LABELS[message_type]
        lines.append(f"| `{message_type}` | {label} | {sent_by} | {key} | {replies} |")
    return "\n".join(lines)


def bodies_table() -> str:
    """The bodies, and what the default agreements let each send and receive."""
    lines = ["| body id | 中文 | sends (default agreements) | receives |", "|---|---|---|---|"]
    for body, label in BODIES.items():
        sends = sorted({a.type for a in DEFAULT_AGREEMENTS if a.sender_body == body})
        receives = sorted({a.type for a in DEFAULT_AGREEMENTS if body in a.recipient_bodies})
        lines.append(
            f"| `{body}` | {label} | {_codes(sends)} | {_codes([*receives, 'hub.notice.v1'])} |"
        )
    return "\n".join(lines)


def _codes(values: Sequence[str]) -> str:
    return ", ".join(f"`{v}`" for v in values) or "—"


def agreements_table() -> str:
    """The default agreements of ``exchange.trust.agreements``."""
    lines = [
        "| type | from | to | reviewers before release | answers (`in_reply_to`) |",
        "|---|---|---|---|---|",
    ]
    order = list(AGREEMENT_BODIES)
    for agreement in DEFAULT_AGREEMENTS:
        to = sorted(agreement.recipient_bodies, key=order.index)
        reviewers = {0: "none", 1: "1"}.get(agreement.reviewers, f"{agreement.reviewers} distinct")
        answers = f"a released `{agreement.reply_to}`" if agreement.reply_to else "—"
        lines.append(
            f"| `{agreement.type}` | `{agreement.sender_body}` | {_codes(to)} | {reviewers} "
            f"| {answers} |"
        )
    return "\n".join(lines)


def enumerations() -> str:
    """Every enumeration a field uses, and the referral states: wire value and label."""
    used: dict[str, list[str]] = {}
    for root, schema in [("envelope", EnvelopeSchema()), *_payloads()]:
        for row in walk(schema):
            inner = row.field.inner if isinstance(row.field, fields.List) else row.field
            if isinstance(inner, Choice):
                where = f"`{row.path}`" if root == "envelope" else f"{root} `{row.path}`"
                used.setdefault(enumeration_name(inner.labels), []).append(where)
    used["REFERRAL_STATES"] = ["`GET /v1/referrals?state=`, the referral lifecycle"]
    parts = []
    for name in sorted(used):
        labels: Mapping[str, str] = getattr(schemas, name)
        rows = "\n".join(f"| `{value}` | {label} |" for value, label in labels.items())
        parts.append(
            f'<a id="{_anchor(name)}"></a>\n**`{name}`** — used by {", ".join(used[name])}\n\n'
            f"| value | 中文 |\n|---|---|\n{rows}"
        )
    return "\n\n".join(parts)


def _payloads() -> list[tuple[str, Schema]]:
    return [(f"`{t}`", schema()) for t, schema in ALL_MESSAGE_TYPES.items()]


def rectification_transitions() -> str:
    """The status table of ``schemas.rectification``, with labels."""

    def named(status: str) -> str:
        return f"`{status}` {RECTIFICATION_STATUSES[status]}"

    order = list(RECTIFICATION_STATUSES)
    lines = ["| from | may be followed by |", "|---|---|"]
    for status, targets in RECTIFICATION_TRANSITIONS.items():
        after = ", ".join(named(t) for t in sorted(targets, key=order.index))
        lines.append(f"| {named(status)} | {after} |")
    return "\n".join(lines)


def referral_steps() -> str:
    """What moves a referral case: the hub's events and the feedback stages."""

    def states(values: Sequence[str] | frozenset[str]) -> str:
        order = list(REFERRAL_STATES)
        return ", ".join(f"`{v}`" for v in sorted(values, key=order.index))

    lines = ["| step | moves the case to | from |", "|---|---|---|"]
    hub_words = {
        "released": "the approval that completes its review releases it",
        "rejected": "a reviewer rejects it",
        "delivered": "the recipient pulls it, or a push is answered 2xx",
        "acked": "the recipient's signed ack",
    }
    for event, after in HUB_STEPS.items():
        lines.append(f"| {hub_words[event]} | `{event}` | {states(after)} |")
    for stage, (state, after) in STAGES.items():
        lines.append(f"| feedback `stage: {stage}` | `{state}` | {states(after)} |")
    changes = ["| disposition | may change to |", "|---|---|"]
    for disposition, targets in DISPOSITION_CHANGES.items():
        named = ", ".join(f"`{t}` {DISPOSITIONS[t]}" for t in sorted(targets))
        changes.append(f"| `{disposition}` {DISPOSITIONS[disposition]} | {named} |")
    return "\n".join(lines) + "\n\n" + "\n".join(changes)


def blocks() -> dict[str, str]:
    """Block name → generated Markdown."""
    generated = {
        "bodies": bodies_table(),
        "message-types": message_types_table(),
        "envelope": field_table(EnvelopeSchema(), "domain.md"),
        "enumerations": enumerations(),
        "agreements": agreements_table(),
        "rectification-transitions": rectification_transitions(),
        "referral-steps": referral_steps(),
    }
    for message_type, schema in ALL_MESSAGE_TYPES.items():
        generated[f"fields-{message_type}"] = field_table(schema())
    return generated


def render(text: str, generated: Mapping[str, str]) -> str:
    """The page with each generated block replaced; KeyError names a block nothing makes."""

    def replace(match: re.Match[str]) -> str:
        return f"{match[1]}{generated[match['name']]}\n{match[3]}"

    return _BLOCK.sub(replace, text)


# --- writing and checking -----------------------------------------------------------------


def expected_files() -> dict[Path, str]:
    """Every generated file (and page with generated blocks) → the text it should have."""
    generated = blocks()
    files = {page: render(page.read_text(encoding="utf-8"), generated) for page in PAGES}
    for name, text in example_documents().items():
        files[EXAMPLES_DIR / name] = text
    return files


def stale() -> list[Path]:
    """The files that are not what ``expected_files`` says (missing ones included)."""
    return [
        path
        for path, text in expected_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str]) -> int:
    """Write the generated parts (``--check``: only say which are stale); the exit status."""
    if list(argv) == ["--check"]:
        late = stale()
        for path in late:
            print(f"stale: {path.relative_to(DOCS.parent)} (run python docs/generate.py)")
        return 1 if late else 0
    if argv:
        print("usage: python docs/generate.py [--check]", file=sys.stderr)
        return 2
    EXAMPLES_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
