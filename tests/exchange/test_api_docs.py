"""The API documentation people use: Swagger UI from the hub's own files over an OpenAPI
document whose every field has an example, with the message types, the problem types and
request examples (issue 12).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from exchange.api.problems import PROBLEM_TYPES
from exchange.app import create_app
from exchange.config import Config
from schemas import validate_envelope


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("docs-home")
    app = create_app(Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}"))
    document: dict[str, Any] = app.test_client().get("/v1/openapi.json").get_json()
    return document


def _properties(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, prop, schema)
        for name, component in spec["components"]["schemas"].items()
        for prop, schema in component.get("properties", {}).items()
    ]


def test_every_field_carries_an_example(spec: dict[str, Any]) -> None:
    properties = _properties(spec)
    assert len(properties) > 150
    without = [
        f"{name}.{prop}"
        for name, prop, schema in properties
        if "example" not in schema and "$ref" not in json.dumps(schema)
    ]
    assert without == []


def test_the_message_types_are_components_with_valid_examples(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    for name in (
        "ClueReferralV1Payload",
        "ClueFeedbackV1Payload",
        "ResultShareV1Payload",
        "ResultFeedbackV1Payload",
        "RectificationStatusV1Payload",
        "HubNoticeV1Payload",
    ):
        assert "example" in components[name], name
    envelope = components["Envelope"]["example"]
    assert validate_envelope(envelope).type == "clue.referral.v1"
    assert components["Envelope"]["properties"]["from"]["example"] == envelope["from"]


def test_requests_carry_examples_and_problem_types_are_listed(spec: dict[str, Any]) -> None:
    submit = spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]
    assert validate_envelope(submit["example"]["envelope"]).type == "rectification.status.v1"
    batch = spec["paths"]["/v1/messages:batch"]["post"]["requestBody"]["content"]
    assert len(batch["application/json"]["example"]["messages"]) == 2
    acks = spec["paths"]["/v1/inbox/acks"]["post"]["requestBody"]["content"]["application/json"]
    assert acks["example"]["acks"][0]["id"]
    description = spec["info"]["description"]
    for code, (status, _title) in PROBLEM_TYPES.items():
        assert f"`urn:exchange:error:{code}` | {status} |" in description
    assert "审计机关" in description and "problem documents" in description


def test_the_page_is_swagger_ui_from_the_hubs_own_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = create_app(Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}"))
    client = app.test_client()
    page = client.get("/v1/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/v1/") for s in sources), sources
    assert "<script>" not in page.text  # no inline script
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert not home.exists()
