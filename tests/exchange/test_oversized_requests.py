"""What gunicorn refuses before the hub sees it — a request line over 8,190 bytes (414), too
many or too large header fields (431), a request it cannot parse (400) — is answered as a
problem document, by a real ``exchange serve`` (issue 14 item 2).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator

import pytest
import requests

from tests.exchange.test_end_to_end import EXCHANGE, free_port, run

LIMIT = 8190  # exchange serve's --limit-request-line and --limit-request-field_size


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``exchange serve`` (gunicorn, one worker) on an SQLite store of its own."""
    home = tmp_path_factory.mktemp("oversized")
    env = dict(os.environ, EXCHANGE_HOME=str(home / "home"))
    env.pop("EXCHANGE_DATABASE_URL", None)
    assert "store ready" in run(env, "init")
    port = free_port()
    server = subprocess.Popen(
        [EXCHANGE, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            server.poll()
            assert server.returncode is None, "exchange serve exited"
            subprocess.run(["sleep", "0.05"], check=True)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def raw(url: str, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes as they are; the status line, headers and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body


def assert_problem(answer: tuple[str, dict[str, str], bytes], status: int) -> dict[str, object]:
    line, headers, body = answer
    assert line.startswith(f"HTTP/1.1 {status} "), line
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Content-Length"]) == len(body)
    problem: dict[str, object] = json.loads(body)
    assert problem["status"] == status
    assert problem["type"] == "urn:exchange:error:bad-request"
    return problem


def test_a_request_line_over_the_limit_is_a_414_problem(served: str) -> None:
    target = "/v1/inbox?after=" + "a" * LIMIT
    answer = raw(served, f"GET {target} HTTP/1.1\r\nHost: hub\r\n\r\n".encode())
    problem = assert_problem(answer, 414)
    assert str(LIMIT) in str(problem["detail"])
    # The same through an ordinary client.
    response = requests.get(served + target, timeout=10)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_header_field_over_the_limit_is_a_431_problem(served: str) -> None:
    request = f"GET /v1/inbox HTTP/1.1\r\nHost: hub\r\nX-Long: {'b' * LIMIT}\r\n\r\n"
    problem = assert_problem(raw(served, request.encode()), 431)
    assert str(LIMIT) in str(problem["detail"])


def test_too_many_header_fields_is_a_431_problem(served: str) -> None:
    fields = "".join(f"X-Field-{i}: {i}\r\n" for i in range(101))
    request = f"GET /v1/inbox HTTP/1.1\r\nHost: hub\r\n{fields}\r\n"
    problem = assert_problem(raw(served, request.encode()), 431)
    assert "At most 100 header fields" in str(problem["detail"])


def test_an_unreadable_request_line_is_a_400_problem(served: str) -> None:
    problem = assert_problem(raw(served, b"GET /v1/inbox HTTP/9.x\r\n\r\n"), 400)
    # What the client sent is not echoed back.
    assert "9.x" not in str(problem["detail"])


def test_the_app_still_answers_under_the_limits(served: str) -> None:
    response = requests.get(served + "/v1/inbox?after=" + "a" * 4000, timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    # exchange serve reads its limits from the environment: the headers show them.
    assert response.headers["X-RateLimit-Limit"] == "300"  # the tighter: 300/second
