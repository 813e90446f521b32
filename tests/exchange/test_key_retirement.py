"""Retiring the hub's old keys after a rotation, against a real gunicorn hub and the real CLI:
``exchange keys retire-hub`` deletes a signing key's private half and keeps it published;
``retire-sealing`` drops a sealing key only once nothing stored is sealed under it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from exchange.cli.keys import RESEAL_STATE
from exchange.store.models import Message
from exchange.trust.hub_keys import add_sealing_key
from exchange.trust.resealing import Progress, Resealer, census
from keys import jwks_resolver, jws
from keys.protocol import RECEIPT_TYP
from schemas import examples
from tests.exchange.test_rotation import Killed, everyone, exchange, kid_of, served

pytestmark = pytest.mark.slow


def test_retire_hub_keeps_the_old_key_published_and_signing_nothing(
    served_hub: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served_hub
    the_hub = served(env)
    audit = everyone(the_hub)["audit"].client(url)
    before = audit.send(examples.rectification_example())
    exchange(env, "log", "checkpoint")
    old_kid = kid_of(before.receipt)
    keys_dir = the_hub.config.keys_dir
    private = sorted(p.name for p in keys_dir.glob("hub-*.pem"))

    # The key that signs now cannot be retired: refused in one line, nothing changed.
    refused = exchange(env, "keys", "retire-hub", old_kid, expect=1)
    assert refused.stderr.strip().splitlines() == [
        f"Error: {old_kid} is the current hub key: run `exchange keys rotate-hub` first."
    ]
    assert sorted(p.name for p in keys_dir.glob("hub-*.pem")) == private
    published_before = requests.get(url + "/.well-known/jwks.json", timeout=10).json()["keys"]

    new_kid = exchange(env, "keys", "rotate-hub").stdout.split()[3]
    out = exchange(env, "keys", "retire-hub", old_kid).stdout
    assert out.startswith(f"retired {old_kid}: it signs nothing more")
    # The private half is gone from disk; the public half is a file of its own.
    assert [p.name for p in keys_dir.glob("hub-*.pem")] != private
    assert [kid_of_file(p) for p in keys_dir.glob("hub-*.pem")] == [new_kid]
    assert not any(b"PRIVATE" in p.read_bytes() for p in keys_dir.glob("retired-hub-*"))

    # Every worker still publishes it, unchanged, before the new one; the old receipt verifies.
    for _ in range(4):
        jwks = requests.get(url + "/.well-known/jwks.json", timeout=10).json()
        assert [k["kid"] for k in jwks["keys"]] == [old_kid, new_kid]
        assert jwks["keys"][0] == published_before[0]
    _, claims = jws.verify_compact(before.receipt, jwks_resolver(jwks), typ=RECEIPT_TYP)
    assert json.loads(claims)["log_index"] == before.log_index
    after = audit.send(examples.rectification_example())
    assert kid_of(after.receipt) == new_kid
    exchange(env, "log", "checkpoint")
    assert exchange(env, "log", "verify").stdout.startswith("ok:")
    bundle = tmp_path / "evidence.json"
    exchange(
        env, "evidence", "export", "--out", str(bundle), "--", before.id
    )  # an id may start with "-"
    assert exchange(env, "evidence", "verify", str(bundle)).stdout.startswith("ok:")

    again = exchange(env, "keys", "retire-hub", old_kid, expect=1)
    assert again.stderr.strip() == f"Error: {old_kid} is retired already."
    unknown = exchange(env, "keys", "retire-hub", "hub#1999-01", expect=1)
    assert unknown.stderr.strip() == (
        f"Error: no hub signing key hub#1999-01 (the signing keys are {new_kid})."
    )


def kid_of_file(path: Path) -> str:
    """The kid of a hub key file, as the hub names it."""
    return f"hub#{path.stem.removeprefix('hub-')}"


def test_retire_sealing_only_once_everything_is_resealed(
    served_hub: tuple[str, dict[str, str]],
) -> None:
    url, env = served_hub
    the_hub = served(env)
    audit = everyone(the_hub)["audit"].client(url)
    sent = [audit.send(examples.rectification_example()) for _ in range(3)]
    old_kid = the_hub.trust.sealing.primary_kid
    keys_dir = the_hub.config.keys_dir

    current = exchange(env, "keys", "retire-sealing", old_kid, expect=1)
    assert current.stderr.strip() == (
        f"Error: {old_kid} is the current sealing key: rotate first, then retire it."
    )
    # A newer key, nothing re-sealed yet: the old one is still needed.
    new_kid = add_sealing_key(keys_dir, now=the_hub.now())
    still = exchange(env, "keys", "retire-sealing", old_kid, expect=1)
    assert still.stderr.strip() == (
        f"Error: 3 stored payloads are still sealed under {old_kid}: "
        "run `exchange keys rotate-sealing` first."
    )

    # A re-sealing run killed after its first batch: still needed.
    state = the_hub.config.home / RESEAL_STATE

    def kill(_progress: Progress) -> None:
        raise Killed

    resealer = Resealer(the_hub.sessions, the_hub.readers, the_hub.trust, state, batch=1)
    with pytest.raises(Killed):
        resealer.run(census(the_hub.readers, the_hub.trust.sealing), kill)
    unfinished = exchange(env, "keys", "retire-sealing", old_kid, expect=1)
    assert unfinished.stderr.strip() == (
        "Error: a re-sealing run is not finished: run `exchange keys rotate-sealing` to "
        f"complete it, then retire {old_kid}."
    )
    assert old_kid in served(env).trust.sealing.kids

    exchange(env, "keys", "rotate-sealing")
    assert exchange(env, "keys", "retire-sealing", new_kid, expect=1).stderr.strip() == (
        f"Error: {new_kid} is the current sealing key: rotate first, then retire it."
    )
    out = exchange(env, "keys", "retire-sealing", old_kid).stdout
    assert out.strip() == f"retired sealing key {old_kid}: the ring holds {new_kid}"

    # Every payload opens with the ring as it is now; the hub serves on; the log verifies.
    ring = served(env).trust.sealing
    assert ring.kids == (new_kid,)
    with the_hub.readers() as session:
        rows = session.execute(select(Message.id, Message.sealed_envelope)).all()
    assert {message_id for message_id, _ in rows} == {s.id for s in sent}
    for message_id, sealed in rows:
        assert json.loads(ring.open(bytes(sealed), aad=message_id.encode()))["id"] == message_id
    assert audit.send(examples.rectification_example()).status == sent[0].status
    assert exchange(env, "log", "verify").stdout.startswith("ok:")
