"""The partner docs stay true: docs/protocol.md and docs/domain.md name everything the code
defines, their generated blocks and docs/examples/ are what docs/generate.py writes, every
example validates, and every link inside docs/ leads somewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from marshmallow import fields

from docs import generate
from exchange.api.problems import PROBLEM_TYPES
from exchange.app import create_app
from exchange.config import Config
from keys import protocol
from schemas import (
    ALL_MESSAGE_TYPES,
    MESSAGE_TYPES,
    Choice,
    EnvelopeSchema,
    parse_json,
    validate_envelope,
)

DOCS = generate.DOCS
PROTOCOL = (DOCS / "protocol.md").read_text(encoding="utf-8")
DOMAIN = (DOCS / "domain.md").read_text(encoding="utf-8")
PROBLEM_ROW = re.compile(r"^\| `([a-z-]+)` \| ([0-9]{3}) \|", re.M)


def test_generated_parts_are_what_the_code_says() -> None:
    assert generate.stale() == [], "run: .venv/bin/python docs/generate.py"


def test_every_generated_block_is_on_a_page_and_every_marker_has_a_block() -> None:
    names = set(re.findall(r"<!-- generated:([a-z0-9.-]+) -->", PROTOCOL + DOMAIN))
    assert names == set(generate.blocks())
    for name in names:
        assert (PROTOCOL + DOMAIN).count(f"<!-- /generated:{name} -->") == 1, name


def test_every_problem_code_is_listed_with_its_status() -> None:
    listed = {code: int(status) for code, status in PROBLEM_ROW.findall(PROTOCOL)}
    assert listed == {code: status for code, (status, _title) in PROBLEM_TYPES.items()}


def _routes() -> set[str]:
    """Every ``METHOD /path`` the hub answers, paths as OpenAPI writes them."""
    app = create_app(Config(home=Path("/nonexistent"), database_url="sqlite://"))
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[-1] == "static":  # files of a page, not the protocol
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.add(f"{method} {path}")
    spec: dict[str, Any] = app.extensions["exchange_api"].spec.to_dict()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert documented <= routes, documented - routes  # the OpenAPI document is of real routes
    return routes


def test_every_endpoint_is_in_the_protocol() -> None:
    routes = _routes()
    assert "POST /v1/messages:batch" in routes and "GET /healthz" in routes
    # `/` and `/admin/…` are the operators' console (signed-in sessions), not the protocol.
    console = {r for r in routes if r.split(" ", 1)[1] == "/" or " /admin/" in r}
    assert "GET /admin/" in console and "`/admin/`" in PROTOCOL
    missing = sorted(r for r in routes - console if f"`{r}`" not in PROTOCOL)
    assert not missing, missing


def test_every_message_type_and_field_is_in_the_domain() -> None:
    for message_type, schema in ALL_MESSAGE_TYPES.items():
        assert f"`{message_type}`" in DOMAIN, message_type
        for row in generate.walk(schema()):
            assert f"| `{row.path}` |" in DOMAIN, (message_type, row.path)


def test_every_envelope_field_is_in_the_protocol() -> None:
    for row in generate.walk(EnvelopeSchema()):
        assert f"| `{row.path}` |" in PROTOCOL, row.path


def test_every_enumeration_value_is_in_the_domain() -> None:
    for message_type, schema in ALL_MESSAGE_TYPES.items():
        for row in generate.walk(schema()):
            inner = row.field.inner if isinstance(row.field, fields.List) else row.field
            if isinstance(inner, Choice):
                for value, label in inner.labels.items():
                    assert f"| `{value}` | {label} |" in DOMAIN, (message_type, row.path, value)


def test_every_wire_name_of_keys_protocol_is_in_the_protocol() -> None:
    names = [protocol.MESSAGE_TYP, protocol.RECEIPT_TYP, protocol.ACK_TYP, protocol.CHECKPOINT_TYP]
    names += [protocol.EVIDENCE_FORMAT, *protocol.LogAction]
    for name in names:
        assert f"`{name}`" in PROTOCOL, name


def test_the_version_1_additions_section_describes_what_is_built() -> None:
    section = DOMAIN.split("## Version 1 additions\n", 1)[1]
    assert "Not built yet" not in section
    for name in ("status_date", "as_of", "authority", "accountability", "/v1/shares"):
        assert name in section, name


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
def test_each_example_file_validates_and_is_what_the_generator_writes(message_type: str) -> None:
    path = generate.EXAMPLES_DIR / f"{message_type}.json"
    text = path.read_text(encoding="utf-8")
    envelope = validate_envelope(parse_json(text))
    assert envelope.type == message_type
    assert text == generate.example_documents()[path.name]
    assert "\\u" not in text, "Chinese is written unescaped"


def test_the_examples_are_one_per_partner_type_and_replies_answer_them() -> None:
    files = {p.name for p in generate.EXAMPLES_DIR.glob("*.json")}
    assert files == {f"{t}.json" for t in MESSAGE_TYPES}
    for reply, answered in generate.ANSWERS.items():
        envelope = parse_json((generate.EXAMPLES_DIR / f"{reply}.json").read_bytes())
        assert envelope["in_reply_to"] == generate.EXAMPLE_IDS[answered]


def _anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a page's headings, and its explicit ``<a id>``s."""
    headings = re.findall(r"^#{1,6} (.+)$", text, re.M)
    made = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    return made | set(re.findall(r'<a id="([^"]+)"></a>', text))


@pytest.mark.parametrize("page", ["protocol.md", "domain.md"])
def test_every_link_inside_docs_leads_somewhere(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        target, _, anchor = link.partition("#")
        if re.match(r"[a-z]+:", target):
            continue
        path = DOCS / target if target else DOCS / page
        assert path.exists(), link
        if anchor:
            assert anchor in _anchors(path.read_text(encoding="utf-8")), link
