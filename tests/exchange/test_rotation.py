"""Rotating the hub's keys while it serves: ``exchange keys rotate-hub`` (a new signing key
beside the old in the JWK Set) and ``rotate-sealing`` (every stored payload re-sealed online,
resumable after a kill), against a real gunicorn hub and the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from exchange.cli.keys import RESEAL_STATE
from exchange.config import Config
from exchange.errors import BadRequest
from exchange.hub import Hub
from exchange.store.models import Checkpoint, Message
from exchange.trust.hub_keys import HubTrust, add_hub_key, add_sealing_key
from exchange.trust.resealing import Progress, Resealer, census
from keys import SealingError, SealingKeyRing, jwks_resolver, jws
from keys.protocol import CHECKPOINT_TYP, RECEIPT_TYP
from schemas import examples
from tests.forked_cli import run_cli
from tests.support import NAMES, PartnerKeys, register

pytestmark = pytest.mark.slow


def exchange(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run the hub's CLI; assert its exit status."""
    done = run_cli("exchange", args, env, timeout=300)
    assert done.returncode == expect, f"exchange {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def served(env: dict[str, str]) -> Hub:
    """The served hub's store and keys, opened in this process (as an operator's CLI would)."""
    return Hub(Config(home=Path(env["EXCHANGE_HOME"]), database_url=env["EXCHANGE_DATABASE_URL"]))


def everyone(the_hub: Hub) -> dict[str, PartnerKeys]:
    """One registered partner per body, keyed by body."""
    return {pid.split(".")[0]: register(the_hub, pid) for pid in NAMES}


def kid_of(token: str) -> str:
    return str(jws.unverified_header(token)["kid"])


def test_a_retired_sealing_key_opens_nothing_and_the_primary_cannot_be_retired() -> None:
    ring = SealingKeyRing({"seal-old": SealingKeyRing.generate_key()})
    old_token = ring.seal(b"payload", aad=b"id")
    ring = ring.with_key("seal-new", SealingKeyRing.generate_key())
    new_token = ring.rotate(old_token, aad=b"id")
    retired = ring.without_key("seal-old")
    assert retired.kids == ("seal-new",) and retired.primary_kid == "seal-new"
    assert retired.open(new_token, aad=b"id") == b"payload"
    with pytest.raises(SealingError, match="unknown sealing key"):
        retired.open(old_token, aad=b"id")
    with pytest.raises(SealingError, match="primary"):
        ring.without_key("seal-new")
    with pytest.raises(SealingError, match="not in the ring"):
        ring.without_key("seal-other")


# --- the hub's signing key ------------------------------------------------------------------


def test_keys_are_ordered_by_their_label_and_a_second_key_of_one_second_is_refused(
    tmp_path: Path,
) -> None:
    keys_dir = tmp_path / "keys"
    now = datetime(2026, 12, 2, 6, 47, 58, tzinfo=UTC)
    HubTrust.ensure(keys_dir, now=now)
    trust = HubTrust.load(keys_dir)
    assert [k.kid for k in trust.hub_keys] == ["hub#2026-12"]
    added = add_hub_key(keys_dir, now=now)
    # The object loaded before the rotation sees it: no restart needed.
    assert [k.kid for k in trust.hub_keys] == ["hub#2026-12", "hub#2026-12-02T064758"]
    assert trust.current.kid == added.kid == "hub#2026-12-02T064758"
    with pytest.raises(BadRequest, match="as new as"):
        add_hub_key(keys_dir, now=now)
    with pytest.raises(BadRequest, match="as new as"):
        add_hub_key(keys_dir, now=now - timedelta(days=1))
    later = add_hub_key(keys_dir, now=now + timedelta(seconds=1))
    assert trust.current.kid == later.kid
    assert len(trust.jwks()["keys"]) == 3


def test_a_pinned_trust_keeps_the_keys_of_its_moment_and_the_live_one_moves_on(
    tmp_path: Path,
) -> None:
    # What one request or one transaction signs and seals with: read once, when it begins.
    keys_dir = tmp_path / "keys"
    now = datetime(2026, 12, 4, 5, 0, 0, tzinfo=UTC)
    HubTrust.ensure(keys_dir, now=now)
    live = HubTrust.load(keys_dir)
    pinned = live.pinned()
    rotated = add_hub_key(keys_dir, now=now)
    add_sealing_key(keys_dir, now=now + timedelta(days=1))
    assert live.current.kid == rotated.kid
    assert pinned.current.kid == "hub#2026-12"
    assert kid_of(pinned.sign_compact(b"{}", RECEIPT_TYP)) == "hub#2026-12"
    assert kid_of(live.sign_compact(b"{}", RECEIPT_TYP)) == rotated.kid
    assert pinned.sealing.primary_kid != live.sealing.primary_kid
    sealed = pinned.sealing.seal(b"payload", aad=b"id")
    assert live.sealing.open(sealed, aad=b"id") == b"payload"  # the old key still opens
    assert pinned.person_hmac("110101199003074518") == live.person_hmac("110101199003074518")
    assert live.pinned().current.kid == rotated.kid


def test_rotate_hub_while_serving(served_hub: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = served_hub
    the_hub = served(env)
    partners = everyone(the_hub)
    audit = partners["audit"].client(url)
    discipline = partners["discipline"].client(url)
    before = audit.send(examples.rectification_example())
    exchange(env, "log", "checkpoint")
    old_kid = kid_of(before.receipt)
    saved_before = requests.get(url + "/.well-known/jwks.json", timeout=10).json()
    assert [k["kid"] for k in saved_before["keys"]] == [old_kid]

    out = exchange(env, "keys", "rotate-hub").stdout
    new_kid = out.split()[3]
    assert new_kid != old_kid and f"published: {old_kid}, {new_kid}" in out

    # Every gunicorn worker publishes both keys at once (no restart), the old one first.
    for _ in range(6):
        jwks = requests.get(url + "/.well-known/jwks.json", timeout=10).json()
        assert [k["kid"] for k in jwks["keys"]] == [old_kid, new_kid]
        assert jwks["keys"][0] == saved_before["keys"][0]
    after = audit.send(examples.rectification_example())
    assert kid_of(after.receipt) == new_kid
    # The receipt given before the rotation still verifies against the JWK Set of after it.
    resolve = jwks_resolver(jwks)
    for result in (before, after):
        _, claims = jws.verify_compact(result.receipt, resolve, typ=RECEIPT_TYP)
        assert json.loads(claims)["log_index"] == result.log_index
    assert audit.verify_receipt(before.receipt, message_id=before.id)["id"] == before.id
    assert discipline.prove_receipt(before).tree_size > before.log_index

    # Checkpoints: the old ones by the old key, the new ones by the new key; all verify.
    checkpoint = exchange(env, "log", "checkpoint").stdout
    assert "tree_size" in checkpoint
    with the_hub.readers() as session:
        newest_last = select(Checkpoint.signed).order_by(Checkpoint.tree_size)
        signed = [str(token) for token in session.scalars(newest_last)]
    kids = [kid_of(token) for token in signed]
    assert kids[0] == old_kid and kids[-1] == new_kid
    for token in signed:
        jws.verify_compact(token, resolve, typ=CHECKPOINT_TYP)
    verified = exchange(env, "log", "verify").stdout
    assert verified.startswith("ok:") and "2 messages" in verified

    # The evidence of the message received before the rotation: its receipt by the old key,
    # its checkpoint by the new; offline, pinned to the JWK Set the hub publishes now.
    bundle_path = tmp_path / "evidence.json"
    exchange(
        env, "evidence", "export", "--out", str(bundle_path), "--", before.id
    )  # an id may start with "-"
    bundle = json.loads(bundle_path.read_text())
    assert kid_of(bundle["receipt"]) == old_kid and kid_of(bundle["checkpoint"]) == new_kid
    pinned = tmp_path / "jwks.json"
    pinned.write_text(json.dumps(jwks))
    ok = exchange(env, "evidence", "verify", str(bundle_path), "--hub-keys", str(pinned)).stdout
    assert ok.startswith(f"ok: message {before.id}")
    # Pinned to the keys of before the rotation, the new checkpoint is not trusted.
    pinned.write_text(json.dumps(saved_before))
    refused = exchange(
        env, "evidence", "verify", str(bundle_path), "--hub-keys", str(pinned), expect=1
    )
    assert refused.stderr.startswith("INVALID")
    bare = subprocess.run(
        [sys.executable, "-c", OFFLINE, str(bundle_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bare.returncode == 0 and bare.stdout.split() == [before.id, old_kid, new_kid], bare


# Offline: keys alone, in a fresh interpreter.
OFFLINE = """
import json, sys
from keys import verify_evidence, unverified_header
bundle = json.load(open(sys.argv[1], encoding="utf-8"))
verified = verify_evidence(bundle)
assert not {"exchange", "flask", "sqlalchemy"} & {n.split(".")[0] for n in sys.modules}
kid = lambda token: unverified_header(token)["kid"]
print(verified.message_id, kid(bundle["receipt"]), kid(bundle["checkpoint"]))
"""


# --- the hub's sealing key ------------------------------------------------------------------


class Killed(Exception):
    """Stands for the re-sealing process being killed after its first batch."""


def test_rotate_sealing_while_serving_resumes_after_a_kill(
    served_hub: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served_hub
    the_hub = served(env)
    partners = everyone(the_hub)
    audit = partners["audit"].client(url)
    sent = [audit.send(examples.rectification_example()) for _ in range(3)]
    old_kid = the_hub.trust.sealing.primary_kid

    # A first run, killed once its first batch of one row is committed.
    keys_dir = the_hub.config.keys_dir
    new_kid = add_sealing_key(keys_dir, now=the_hub.now())
    assert the_hub.trust.sealing.primary_kid == new_kid
    state_path = the_hub.config.home / RESEAL_STATE

    def kill(_progress: Progress) -> None:
        raise Killed

    resealer = Resealer(the_hub.sessions, the_hub.readers, the_hub.trust, state_path, batch=1)
    with pytest.raises(Killed):
        resealer.run(census(the_hub.readers, the_hub.trust.sealing), kill)
    midway = census(the_hub.readers, the_hub.trust.sealing)
    assert midway[new_kid] == 1 and midway[old_kid] == 2
    assert json.loads(state_path.read_text())["resealed"] == 1

    # The hub serves on meanwhile: a message received now is sealed under the new key.
    during = audit.send(examples.rectification_example())
    out = exchange(env, "keys", "rotate-sealing", "--batch", "1").stdout
    assert out.startswith(f"resuming the re-sealing under {new_kid}")
    assert out.strip().endswith(f"all under {new_kid}") and not state_path.exists()
    assert set(census(the_hub.readers, the_hub.trust.sealing)) == {new_kid}

    # Every payload opens with the new key alone: the old one can be retired.
    retired = the_hub.trust.sealing.without_key(old_kid)
    with the_hub.readers() as session:
        rows = session.execute(select(Message.id, Message.sealed_envelope)).all()
    assert {message_id for message_id, _ in rows} >= {r.id for r in [*sent, during]}
    for message_id, sealed in rows:
        assert retired.kid_of(bytes(sealed)) == new_kid
        envelope = json.loads(retired.open(bytes(sealed), aad=message_id.encode()))
        assert envelope["id"] == message_id
    with pytest.raises(SealingError, match="unknown sealing key"):
        SealingKeyRing({old_kid: SealingKeyRing.generate_key()}).open(
            bytes(rows[0][1]), aad=rows[0][0].encode()
        )
    verified = exchange(env, "log", "verify").stdout
    assert verified.startswith("ok:") and "4 messages" in verified
    bundle_path = tmp_path / "evidence.json"
    exchange(
        env, "evidence", "export", "--out", str(bundle_path), "--", sent[0].id
    )  # an id may start with "-"
    assert exchange(env, "evidence", "verify", str(bundle_path)).stdout.startswith("ok:")

    # A second rotation starts afresh: a newer key, everything re-sealed under it.
    again = exchange(env, "keys", "rotate-sealing").stdout
    newest = served(env).trust.sealing.primary_kid
    assert newest != new_kid and again.startswith(f"new sealing key {newest}")
    assert set(census(the_hub.readers, the_hub.trust.sealing)) == {newest}


def test_sealing_keys_rotated_within_one_second_each_get_a_kid_of_their_own(
    tmp_path: Path,
) -> None:
    keys_dir = tmp_path / "keys"
    now = datetime(2026, 12, 4, 22, 19, 36, tzinfo=UTC)
    HubTrust.ensure(keys_dir, now=now)
    kids = [add_sealing_key(keys_dir, now=now) for _ in range(3)]
    assert kids == ["seal-20261204-221936", "seal-20261204-221936-2", "seal-20261204-221936-3"]
    ring = HubTrust.load(keys_dir).sealing
    assert ring.primary_kid == kids[-1]
    assert ring.kids == ("seal-20261204", *kids)
