"""Limits (issue 14 item 4): rate limits per partner and per client address, in memory and in
the machine's Redis; bodies refused before they are read; nesting and batch bounds; a timeout
on every outbound call.
"""

from __future__ import annotations

import ast
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import requests
from werkzeug.serving import make_server

from adapters import ExchangeClient
from exchange.admin.partners import set_rate_limit
from exchange.app import create_app
from exchange.config import DEFAULT_ADDRESS_LIMIT, DEFAULT_PARTNER_LIMIT, Config
from exchange.hub import Hub
from exchange.store.models import Partner
from exchange.transport.webhook_sender import WebhookSender
from schemas import examples
from tests.exchange.test_cli import Cli, cli, cli_home  # noqa: F401 (fixtures)
from tests.support import (
    PartnerKeys,
    message_count,
    post_json,
    problem_code,
    signed_request,
)

Partners = dict[str, PartnerKeys]
REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def served(hub: Hub, **limits: str | None) -> Iterator[str]:
    """The hub's store served by an app of its own limits, with a key prefix of its own (so
    that parallel runs on one Redis never share a counter).
    """
    prefix = limits.pop("ratelimit_prefix", None) or f"test-{uuid.uuid4().hex}"
    config = Config(
        home=hub.config.home,
        database_url=hub.config.database_url,
        clock=hub.config.clock,
        ratelimit_prefix=prefix,
        **limits,  # type: ignore[arg-type]
    )
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["exchange"].engine.dispose()
        app.extensions["exchange"].read_engine.dispose()


def pull(base_url: str, who: PartnerKeys) -> requests.Response:
    return signed_request(base_url, who, "GET", "/v1/inbox")


def assert_rate_limited(response: requests.Response, naming: str) -> None:
    assert response.status_code == 429, response.text
    assert problem_code(response) == "rate-limited"
    assert naming in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_a_partner_over_its_limit_is_refused_with_retry_after(hub: Hub, partners: Partners) -> None:
    audit, discipline = partners["audit"], partners["discipline"]
    with served(hub, ratelimit_partner="3/minute") as url:
        for remaining in ("2", "1", "0"):
            answer = pull(url, audit)
            assert answer.status_code == 200, answer.text
            assert answer.headers["X-RateLimit-Limit"] == "3"
            assert answer.headers["X-RateLimit-Remaining"] == remaining
        assert_rate_limited(pull(url, audit), "partner audit.yanliang")
        # Another partner has a counter of its own; the limit spans every route.
        assert pull(url, discipline).status_code == 200
        refused = post_json(url, audit, "/v1/messages", audit.sign(examples.referral_example()))
        assert_rate_limited(refused, "3 per 1 minute")
    assert message_count(hub) == 0


def test_a_partners_own_limit_replaces_the_default(hub: Hub, partners: Partners) -> None:
    audit, discipline = partners["audit"], partners["discipline"]
    with hub.sessions.begin() as session:
        set_rate_limit(session, audit.partner_id, "5/minute")
        set_rate_limit(session, discipline.partner_id, "1/minute")
    with served(hub, ratelimit_partner="2/minute") as url:
        assert [pull(url, audit).status_code for _ in range(6)] == [200] * 5 + [429]
        assert [pull(url, discipline).status_code for _ in range(2)] == [200, 429]
        inspection = partners["inspection"]
        assert [pull(url, inspection).status_code for _ in range(3)] == [200, 200, 429]


def test_unsigned_requests_are_bounded_per_address_before_any_key_is_read(
    hub: Hub, partners: Partners
) -> None:
    with served(hub, ratelimit_address="4/minute", ratelimit_partner="100/minute") as url:
        statuses = [requests.get(url + "/v1/inbox", timeout=10).status_code for _ in range(4)]
        assert statuses == [401] * 4
        assert_rate_limited(requests.get(url + "/v1/inbox", timeout=10), "address 127.0.0.1")
        # The address's limit counts signed requests too: it is the looser, outer bound.
        assert_rate_limited(pull(url, partners["audit"]), "address 127.0.0.1")


def test_redis_counters_are_shared_by_every_process_of_the_hub(
    hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"]
    store = redis.Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex}"
    shared = {"ratelimit_partner": "3/minute", "ratelimit_url": REDIS_URL}
    try:
        with (
            served(hub, ratelimit_prefix=prefix, **shared) as one,
            served(hub, ratelimit_prefix=prefix, **shared) as other,
        ):
            assert [pull(url, audit).status_code for url in (one, other, one)] == [200] * 3
            assert_rate_limited(pull(other, audit), "partner audit.yanliang")
            assert store.keys(f"*{prefix}*partner:audit.yanliang*"), "no counter in Redis"
        # Another prefix (another hub on the same Redis) counts apart.
        with served(hub, **shared) as apart:
            assert pull(apart, audit).status_code == 200
    finally:
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        store.close()


def test_without_redis_each_process_counts_in_memory(hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    # Nothing listens on port 1: the limiter falls back to memory, never a 5xx.
    with served(hub, ratelimit_partner="2/minute", ratelimit_url="redis://127.0.0.1:1/0") as url:
        assert [pull(url, audit).status_code for _ in range(3)] == [200, 200, 429]


def test_limits_come_from_the_environment() -> None:
    default = Config.from_env({"EXCHANGE_HOME": "/tmp/x"})
    assert default.ratelimit_partner == DEFAULT_PARTNER_LIMIT
    assert default.ratelimit_address == DEFAULT_ADDRESS_LIMIT
    assert default.ratelimit_url is None
    set_ = Config.from_env(
        {
            "EXCHANGE_HOME": "/tmp/x",
            "EXCHANGE_RATELIMIT_PARTNER": "50/second",
            "EXCHANGE_RATELIMIT_ADDRESS": "off",
            "EXCHANGE_RATELIMIT_URL": REDIS_URL,
        }
    )
    assert (set_.ratelimit_partner, set_.ratelimit_address) == ("50/second", None)
    assert set_.ratelimit_url == REDIS_URL
    with pytest.raises(ValueError, match="EXCHANGE_RATELIMIT_PARTNER: Not a rate limit"):
        Config.from_env({"EXCHANGE_HOME": "/tmp/x", "EXCHANGE_RATELIMIT_PARTNER": "fast"})


def test_set_limit_from_the_command_line(hub: Hub, partners: Partners, cli: Cli) -> None:  # noqa: F811
    audit = partners["audit"].partner_id
    assert cli.ok("partners", "set-limit", audit, "50/second;2000/minute").strip() == (
        f"{audit}: rate limit 50/second;2000/minute"
    )
    assert "rate limit 50/second;2000/minute" in cli.ok("partners", "list")
    stderr = cli.refused("partners", "set-limit", audit, "lots")
    assert stderr.strip().splitlines() == [
        "Error: Not a rate limit: 'lots'; write e.g. 600/minute or 100/second;3000/hour."
    ]
    cli.refused("partners", "set-limit", "nobody.yanliang", "5/minute")
    cli.refused("partners", "set-limit", audit, "5/minute", "--default")
    with hub.sessions() as session:
        assert session.get(Partner, audit).rate_limit == "50/second;2000/minute"  # type: ignore[union-attr]
    cli.ok("partners", "set-limit", audit, "--default")
    with hub.sessions() as session:
        assert session.get(Partner, audit).rate_limit is None  # type: ignore[union-attr]


# --- bodies, nesting, batches -------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    limit = hub.config.max_batch_bytes + 4096
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        # Announce 100 MB, send none of it: the answer comes without the body.
        connection.sendall(
            b"POST /v1/messages:batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"application/problem+json" in head
    problem = json.loads(body)
    assert problem["type"] == "urn:exchange:error:payload-too-large"
    assert str(limit) in problem["detail"]
    assert message_count(hub) == 0


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_deep_nesting_is_refused_as_invalid_json(
    base_url: str, hub: Hub, partners: Partners, depth: int
) -> None:
    audit = partners["audit"]
    body = ("[" * depth + "]" * depth).encode()
    response = signed_request(base_url, audit, "POST", "/v1/messages", body=body)
    assert response.status_code == 400, response.text
    assert problem_code(response) == "invalid-json"
    assert "Nested too deeply" in response.json()["detail"]
    assert message_count(hub) == 0


@pytest.mark.parametrize("depth", [500, 900, 990])
def test_deep_nesting_inside_a_payload_is_refused_without_a_5xx(
    base_url: str, hub: Hub, partners: Partners, depth: int
) -> None:
    audit = partners["audit"]
    envelope = examples.referral_example()
    envelope["payload"]["extensions"] = "NESTED"
    # Spelled out: neither a signer nor json.dumps would nest this deep.
    nested = '{"n":' * depth + '"线索"' + "}" * depth
    body = json.dumps(audit.sign(envelope), ensure_ascii=False).replace('"NESTED"', nested)
    response = signed_request(base_url, audit, "POST", "/v1/messages", body=body.encode())
    assert 400 <= response.status_code < 500, response.text
    assert problem_code(response) in {"schema-invalid", "signature-invalid", "invalid-json"}
    assert message_count(hub) == 0


def test_a_ten_thousand_digit_integer_is_refused_by_path(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"]
    body = b'{"envelope": {"id": ' + b"9" * 10_000 + b'}, "signature": "x"}'
    response = signed_request(base_url, audit, "POST", "/v1/messages", body=body)
    assert response.status_code == 400, response.text
    assert problem_code(response) == "invalid-json"
    assert "envelope.id" in response.json()["errors"]
    assert message_count(hub) == 0


def test_more_than_500_acks_are_refused_naming_the_field(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    acks = [{"id": f"{i:026d}", "ack": "x"} for i in range(501)]
    response = post_json(base_url, partners["discipline"], "/v1/inbox/acks", {"acks": acks})
    assert response.status_code == 422, response.text
    assert problem_code(response) == "schema-invalid"
    assert list(response.json()["errors"]) == ["acks"]


def test_every_405_names_the_allowed_methods(hub: Hub) -> None:
    app = create_app(hub.config)
    client = app.test_client()
    rules = [rule for rule in app.url_map.iter_rules() if "<" not in rule.rule]
    assert len(rules) > 10
    for rule in rules:
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - set(rule.methods or ()):
            answer = client.open(rule.rule, method=method)
            if answer.status_code == 405:
                assert answer.headers["Allow"], (rule.rule, method)
                assert set(answer.headers["Allow"].split(", ")) >= set(rule.methods or ())
                assert answer.mimetype == "application/problem+json"


# --- timeouts on every outbound call ------------------------------------------------------

HTTP_CALLS = {"get", "post", "put", "patch", "delete", "head", "request", "send", "urlopen"}
CLIENTS = ("requests", "http", "session", "internal", "urllib")


def outbound_calls_without_timeout() -> list[str]:
    """Every HTTP call in the hub, the agent and the partner client without ``timeout=``."""
    missing = []
    for package in ("exchange", "adapters", "keys", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not _imports_an_http_client(tree):
                continue
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                receiver = ast.unparse(node.func.value).lower()
                if node.func.attr not in HTTP_CALLS or not receiver.endswith(CLIENTS):
                    continue
                if receiver.endswith("session") and node.args and _is_model(node.args[0]):
                    continue  # a database session's get(Model, key)
                if not any(keyword.arg == "timeout" for keyword in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return missing


def _imports_an_http_client(tree: ast.Module) -> bool:
    imported = {
        alias.name if isinstance(node, ast.Import) else str(node.module)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    return any(
        name.split(".")[0] in {"requests", "httpx"} or name == "urllib.request" for name in imported
    )


def _is_model(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id[:1].isupper()


def test_every_outbound_call_has_a_timeout() -> None:
    assert outbound_calls_without_timeout() == []


class _Slow(BaseHTTPRequestHandler):
    """Answers after 30 s: longer than any timeout under test."""

    def do_POST(self) -> None:
        time.sleep(30)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def slow_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_slow_webhook_is_a_timeout_not_a_hang(slow_url: str) -> None:
    sender = WebhookSender(timeout=0.5)
    started = time.monotonic()
    answer = sender.post(slow_url, b"{}", {}, recipient="audit.yanliang", allow_internal=True)
    sender.close()
    assert answer.error == "timed out after 0.5 s"
    assert time.monotonic() - started < 5


def test_a_slow_hub_is_a_timeout_for_the_client(slow_url: str, partners: Partners) -> None:
    audit = partners["audit"]
    client = ExchangeClient(slow_url, audit.kid, audit.key, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        client.inbox()
    assert time.monotonic() - started < 5
