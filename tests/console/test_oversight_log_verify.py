"""The log browser's "verify this entry" (issue 11): its script checks an entry's inclusion proof
in headless Chromium with WebCrypto (RFC 9162 leaf and node hashes) against the newest
checkpoint of a real hub — every entry of an uneven tree verifies, and a tampered entry, a
tampered audit path or a wrong root does not.

The page is served under ``Content-Security-Policy: script-src 'self'`` (as the console is):
the script runs from its file, with no inline code.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from exchange.console.oversight.log import entries_page, entry_proof, newest_checkpoint
from exchange.hub import Hub
from schemas import examples

# The module's one Chromium (a fixture, used by name).
from tests.exchange.test_api_docs_page import CHROMIUM, browser  # noqa: F401
from tests.support import PartnerKeys, signed_request

STATIC = Path(__file__).resolve().parents[2] / "exchange/console/static"
CSP = "default-src 'self'; script-src 'self'; style-src 'self'"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


def tampered(proof: dict[str, Any], how: str) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(proof))
    if how == "entry":
        changed["entry"]["actor"] = changed["entry"]["actor"] + "x"
    elif how == "path":
        first = changed["hashes"][0]
        changed["hashes"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    elif how == "root":
        changed["root_hash"] = "00" * 32
    elif how == "index":
        changed["index"] = changed["index"] ^ 1
    return changed


class Site:
    """Files served over HTTP from a thread, each under the console's CSP."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        files = {**files, "/favicon.ico": ("image/x-icon", b"")}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                media_type, body = files.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in files else 404)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Security-Policy", CSP)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_page(documents: dict[str, dict[str, Any]]) -> Site:
    """A page with one verify button per proof document."""
    buttons = "".join(
        f'<button id="b-{name}" data-verify-url="/proof/{name}.json" '
        f'data-verify-result="r-{name}" data-label-verified="已验证" '
        f'data-label-failed="未通过验证">验证</button><span id="r-{name}"></span>'
        for name in documents
    )
    page = (
        '<!doctype html><meta charset="utf-8"><title>log</title>'
        f'<script src="/oversight-verify.js"></script>{buttons}'
    ).encode()
    files = {
        "/page.html": ("text/html; charset=utf-8", page),
        "/oversight-verify.js": ("text/javascript", (STATIC / "oversight-verify.js").read_bytes()),
    }
    for name, document in documents.items():
        files[f"/proof/{name}.json"] = ("application/json", json.dumps(document).encode())
    return Site(files)


@pytest.fixture
def logged(base_url: str, hub: Hub, partners: dict[str, PartnerKeys]) -> int:
    """A few messages sent (the log then holds an uneven number of entries) and a checkpoint
    signed over them: its tree size.
    """
    audit = partners["audit"].client(base_url, hub.now)
    for _ in range(3):
        audit.send(examples.rectification_example())
    response = signed_request(base_url, partners["audit"], "GET", "/v1/log/checkpoint")
    assert response.status_code == 200, response.text
    size: int = response.json()["tree_size"]
    return size


def test_every_entry_verifies_and_a_tampered_proof_does_not(
    browser: Browser,  # noqa: F811 (the fixture imported above)
    hub: Hub,
    logged: int,
) -> None:
    with hub.engine.connect() as connection:
        checkpoint = newest_checkpoint(connection)
        assert checkpoint is not None and checkpoint.tree_size == logged
        assert logged > 2 and logged & (logged - 1), logged  # uneven: not a power of two
        proofs = {str(i): entry_proof(connection, i) for i in range(logged)}
        assert entry_proof(connection, logged) is None  # not under the checkpoint yet
        listed = entries_page(connection, before=None, limit=logged)
        assert [row.index for row in listed] == list(range(logged - 1, -1, -1))
        assert entries_page(connection, before=2, limit=10)[0].index == 1
    documents: dict[str, dict[str, Any]] = {}
    for name, proof in proofs.items():
        assert proof is not None and proof["root_hash"] == checkpoint.root_hash
        documents[name] = proof
    last = proofs[str(logged - 1)]
    assert last is not None
    for how in ("entry", "path", "root", "index"):
        documents[f"tampered-{how}"] = tampered(last, how)
    site = verify_page(documents)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(site.url + "/page.html")
        for name in documents:
            page.click(f"#b-{name}")
        for name in documents:
            result = page.locator(f"#r-{name}")
            expected = "no" if name.startswith("tampered") else "yes"
            page.wait_for_selector(f"#r-{name}[data-verified]")
            assert result.get_attribute("data-verified") == expected, name
            assert result.inner_text() == ("已验证" if expected == "yes" else "未通过验证")
    finally:
        page.close()
        site.close()
    assert errors == []
