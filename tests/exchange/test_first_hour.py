"""The errors of a new user's first hour: each one line a person can act on, with its exit
code, and nothing created (issue 12).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy import text

from exchange.app import create_app
from exchange.config import Config
from exchange.hub import Hub
from keys import SigningKey
from schemas import examples
from tests.exchange.test_cli import Cli, cli_env
from tests.exchange.test_end_to_end import EXCHANGE, free_port, run
from tests.support import (
    IDENTITY_KEY,
    PartnerKeys,
    problem_code,
    signed_request,
    store_small_order_key,
)

Partners = dict[str, PartnerKeys]

BEFORE_INIT = [
    ["partners", "list"],
    ["partners", "add", "audit.yanliang", "--name", "审计局", "--key", "KEY"],
    ["keys", "revoke", "audit.yanliang#1"],
    ["review", "list"],
    ["log", "verify"],
    ["log", "checkpoint"],
    ["notices", "run-once"],
    ["worker", "--once"],
    ["deliveries", "list"],
    ["evidence", "export", "--out", "bundle.json", "--", "aaaaaaaaaaaaaaaa"],
    ["report", "ledger", "--out", "ledger.xlsx"],
    ["serve", "--port", "9"],
]


@pytest.mark.parametrize("args", BEFORE_INIT, ids=lambda args: " ".join(args[:2]))
def test_every_command_before_init_says_so_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    key = work / "audit.pub.pem"
    key.write_bytes(SigningKey.generate().public_key.to_pem())
    cli = Cli(cli_env(home, f"sqlite:///{home / 'exchange.db'}"))
    done = cli.run(*[str(key) if a == "KEY" else a for a in args])
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "exchange init" in lines[0] and str(home) in lines[0]
    assert not home.exists()
    assert sorted(p.name for p in work.iterdir()) == ["audit.pub.pem"]


def test_readyz_and_the_key_set_answer_503_until_init(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = create_app(Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}"))
    client = app.test_client()
    for path in ("/readyz", "/.well-known/jwks.json"):
        answer = client.get(path)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.headers["Retry-After"]
        assert "exchange init" in answer.get_json()["detail"]
    assert client.get("/healthz").status_code == 200
    assert not home.exists()
    Hub(Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}")).initialise()
    ready = create_app(Config(home=home, database_url=f"sqlite:///{home / 'exchange.db'}"))
    assert ready.test_client().get("/readyz").status_code == 200
    assert ready.test_client().get("/.well-known/jwks.json").get_json()["keys"]


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _identity_pem() -> bytes:
    # The neutral point: under it (R = identity, S = 0) "verifies" for every message.
    identity = ed25519.Ed25519PublicKey.from_public_bytes(IDENTITY_KEY)
    return identity.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: SigningKey.generate().to_pem(), "is a private key"),
        (lambda: _pem(rsa.generate_private_key(65537, 2048)), "RSA, not Ed25519"),
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "not Ed25519"),
        (lambda: b"hello", "not a PEM public key"),
        (lambda: _identity_pem(), "small-order"),
    ],
    ids=["private", "rsa", "ec", "not-pem", "small-order"],
)
def test_partners_add_refuses_what_is_no_ed25519_public_key(
    hub: Hub, hub_home: Path, database_url: str, tmp_path: Path, make: object, said: str
) -> None:
    key = tmp_path / "given.pem"
    key.write_bytes(make())  # type: ignore[operator]
    cli = Cli(cli_env(hub_home, database_url))
    done = cli.run("partners", "add", "audit.yanliang", "--name", "审计局", "--key", str(key))
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], done.stderr
    assert "audit.yanliang" not in cli.ok("partners", "list")


def test_request_signature_refusals_say_which_check_failed(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"]
    body = json.dumps(audit.sign(examples.rectification_example())).encode()

    def detail(**knobs: object) -> str:
        answer = signed_request(base_url, audit, "POST", "/v1/messages", body=body, **knobs)  # type: ignore[arg-type]
        assert answer.status_code == 401, answer.text
        return str(answer.json()["detail"])

    assert "<partner id>#<label>" in detail(kid="audit.yanliang")
    unknown = detail(kid="audit.yanliang#nope")
    assert "audit.yanliang#nope is not registered" in unknown and "exchange keys add" in unknown
    assert "the key registered for its keyid" in detail(key=SigningKey.generate())
    skew = detail(created=int(hub.now().timestamp()) - 1000)
    assert re.search(r"-100[01] s", skew) and "±300 s" in skew and "clock" in skew
    answer = signed_request(base_url, audit, "GET", "/v1/inbox", kid="audit.yanliang")
    assert problem_code(answer) == "unknown-key"


def test_a_small_order_key_written_into_the_store_behind_the_hub_verifies_nothing(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    # The hub refuses such a key at `partners add`; one put in by SQL verifies no request and
    # no message (401, nothing stored), and the directory still answers.
    audit = partners["audit"]
    store_small_order_key(hub, audit.kid)
    answer = signed_request(base_url, audit, "GET", "/v1/inbox")
    assert answer.status_code == 401, answer.text
    assert problem_code(answer) == "request-signature-invalid"
    body = json.dumps(audit.sign(examples.rectification_example())).encode()
    refused = signed_request(base_url, audit, "POST", "/v1/messages", body=body)
    assert refused.status_code == 401, refused.text
    with hub.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar_one() == 0
    listing = signed_request(base_url, partners["discipline"], "GET", "/v1/partners")
    assert listing.status_code == 200, listing.text


def test_serve_run_from_inside_the_hub_home_boots(tmp_path: Path) -> None:
    # The home holds keys/, which must not shadow the `keys` package on gunicorn's sys.path.
    home = tmp_path / "home"
    env = dict(os.environ, EXCHANGE_HOME=str(home))
    env.pop("EXCHANGE_DATABASE_URL", None)
    run(env, "init")
    assert (home / "keys").is_dir()
    port = free_port()
    server = subprocess.Popen(
        [EXCHANGE, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = _first_answer(f"http://127.0.0.1:{port}/readyz", server)
        assert answer.status_code == 200, answer.text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "ImportError" not in output, output


def _first_answer(url: str, server: subprocess.Popen[str]) -> requests.Response:
    for _ in range(150):
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            # A worker that fails to boot takes the arbiter down with it: stop waiting then.
            assert server.poll() is None, server.communicate(timeout=30)[0]
            time.sleep(0.1)
    raise AssertionError("the hub did not come up")
