"""End to end: the real CLI sets up a hub, a real gunicorn process serves it, real clients talk."""

from __future__ import annotations

import json
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters import ExchangeClient
from keys import jws, load_signing_key, static_resolver
from keys.ed25519 import VerifyingKey
from schemas import envelope_sha256, examples
from tests.forked_cli import run_cli

EXCHANGE = str(Path(sys.executable).parent / "exchange")
BODIES = {
    "audit.yanliang": "燕良区审计局",
    "discipline.yanliang": "燕良区纪委监委",
    "inspection.yanliang": "燕良区委巡察办",
    "personnel.yanliang": "燕良区委组织部",
}

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(env: dict[str, str], *args: str) -> str:
    """``exchange *args`` in a process of its own (forked from the CLI zygote); its output."""
    done = run_cli("exchange", args, env)
    assert done.returncode == 0, f"exchange {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_four_bodies_exchange_all_five_types(
    served_hub: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served_hub
    clients: dict[str, ExchangeClient] = {}
    for partner_id, name in BODIES.items():
        kid = f"{partner_id}#2026-11"
        keygen = ("keygen", "--kid", kid, "--out", str(tmp_path / "keys"))
        assert run_cli("exchange-partner", keygen, env).returncode == 0
        stem = kid.replace("#", "_")
        run(
            env,
            "partners",
            "add",
            partner_id,
            "--name",
            name,
            "--kid",
            kid,
            "--key",
            str(tmp_path / "keys" / f"{stem}.pub.pem"),
        )
        key = load_signing_key(tmp_path / "keys" / f"{stem}.pem")
        clients[partner_id.split(".")[0]] = ExchangeClient(url, kid, key)
    listing = run(env, "partners", "list")
    assert all(pid in listing for pid in BODIES)

    audit, discipline = clients["audit"], clients["discipline"]
    personnel, inspection = clients["personnel"], clients["inspection"]

    # 整改状态: audit → the three other bodies, no review.
    ledger_line = examples.rectification_example()
    assert audit.send(ledger_line).status == "released"

    # 问题线索移送: audit → discipline, four eyes before release (through the CLI).
    referral = examples.referral_example()
    assert audit.send(referral).status == "pending_review"
    secret = tmp_path / "reviewer-password"
    secret.write_text(secrets.token_urlsafe(16) + "\n")
    for reviewer in ("张审核", "李复核", "王审核"):
        run(env, "users", "add", reviewer, "--role", "reviewer", "--password-file", str(secret))
    approve = ["review", "approve", "--password-file", str(secret), "--as"]
    run(env, *approve, "张审核", "--", referral["id"])
    assert "released" in run(env, *approve, "李复核", "--", referral["id"])

    # 成果共享: audit → personnel, one reviewer.
    share = examples.share_example()
    assert audit.send(share).status == "pending_review"
    assert "released" in run(env, *approve, "王审核", "--", share["id"])

    received = pull_and_ack(discipline)
    assert {ledger_line["id"], referral["id"]} <= received
    assert ledger_line["id"] in pull_and_ack(inspection)
    assert {ledger_line["id"], share["id"]} <= pull_and_ack(personnel)

    # 线索办理情况反馈 and 成果运用情况反馈 answer the originals, back to audit.
    feedback = examples.clue_feedback_example(referral=referral)
    assert discipline.send(feedback).status == "released"
    use = examples.result_feedback_example(share=share)
    assert personnel.send(use).status == "released"
    assert {feedback["id"], use["id"]} <= pull_and_ack(audit)

    # The sender sees every recipient's signed ack, and each verifies with that recipient's key.
    directory = {
        k["kid"]: VerifyingKey.from_jwk(k["jwk"]) for p in audit.partners() for k in p["keys"]
    }
    for envelope in (ledger_line, referral, share):
        view = audit.message(envelope["id"])
        assert view["status"] == "released"
        for delivery in view["deliveries"]:
            assert delivery["state"] == "acked", delivery
            _header, payload = jws.verify_compact(
                delivery["ack"], static_resolver(directory), typ="exchange-ack+jws"
            )
            claims: dict[str, Any] = json.loads(payload)
            assert claims["id"] == envelope["id"]
            assert claims["envelope_sha256"] == envelope_sha256(envelope)
        audit.verify_receipt(
            view["receipt"], message_id=envelope["id"], digest=envelope_sha256(envelope)
        )


def pull_and_ack(client: ExchangeClient) -> set[str]:
    """Pull everything (the client verifies sender JWS and hub receipt), ack it, return ids."""
    page = client.inbox()
    ids = {item.envelope["id"] for item in page.items}
    results = client.ack(ids)
    assert all(r.get("status") == "acked" for r in results), results
    return ids


def test_slow_clients_do_not_stall_the_hub(served_hub: tuple[str, dict[str, str]]) -> None:
    """Four clients trickle their headers a byte at a time; /healthz still answers at once."""
    url, _env = served_hub
    port = int(url.rsplit(":", 1)[1])
    tricklers = []
    for _ in range(4):
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        tricklers.append(slow)
    try:
        latencies = []
        for _ in range(8):
            for slow in tricklers:
                slow.sendall(b"X")  # a header that never ends
            started = time.monotonic()
            answer = requests.get(url + "/healthz", timeout=5)
            latencies.append(time.monotonic() - started)
            assert answer.status_code == 200
            time.sleep(0.25)
        assert max(latencies) < 1.0, latencies
    finally:
        for slow in tricklers:
            slow.close()
