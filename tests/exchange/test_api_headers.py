"""Headers on every answer: no sniffing anywhere, no caching of partner data, ``Allow`` on a
405 (issue 9 item 6).
"""

from __future__ import annotations

import pytest
import requests

from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, problem_code, signed_request

Partners = dict[str, PartnerKeys]

SIGNED = [
    "/v1/inbox",
    "/v1/ledger",
    "/v1/referrals",
    "/v1/stats",
    "/v1/partners",
    "/v1/log/checkpoint",
    "/v1/reports/ledger.csv",
    "/v1/messages/nonexistent-message-id",
    "/v1/ledger?page=0",
]


@pytest.mark.parametrize("path", SIGNED)
def test_partner_answers_are_never_cached_nor_sniffed(
    base_url: str, hub: Hub, partners: Partners, path: str
) -> None:
    response = signed_request(base_url, partners["audit"], "GET", path)
    assert response.status_code in (200, 404, 422), response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_stored_message_is_not_cached(base_url: str, hub: Hub, partners: Partners) -> None:
    sent = partners["audit"].client(base_url).send(examples.rectification_example())
    response = signed_request(base_url, partners["audit"], "GET", f"/v1/messages/{sent.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json", "/v1/openapi.json", "/x"]
)
def test_open_answers_are_not_sniffed(base_url: str, hub: Hub, path: str) -> None:
    response = requests.get(base_url + path, timeout=10)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if path == "/v1/openapi.json":
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_an_unsigned_request_is_refused_without_caching(base_url: str, hub: Hub) -> None:
    response = requests.get(base_url + "/v1/ledger", timeout=10)
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/messages", "OPTIONS, POST"),
        ("PUT", "/v1/inbox/acks", "OPTIONS, POST"),
        ("POST", "/v1/stats", "GET, HEAD, OPTIONS"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_method_not_allowed_names_the_allowed_ones(
    base_url: str, hub: Hub, partners: Partners, method: str, path: str, allowed: str
) -> None:
    response = signed_request(base_url, partners["audit"], method, path)
    assert response.status_code == 405, response.text
    assert problem_code(response) == "method-not-allowed"
    assert response.headers["Allow"] == allowed
