"""``exchange backup`` while the hub serves writes, and ``exchange restore`` into a fresh home
and database (of either backend): the log verifies, every message opens and every receipt
verifies against the restored keys, the counts are the manifest's; a damaged backup is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from adapters.client import SendResult
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Base, Message
from keys import jwks_resolver, jws
from keys.protocol import RECEIPT_TYP
from schemas import examples
from tests.conftest import PG_URL, xdist_worker
from tests.exchange.test_rotation import exchange
from tests.support import PartnerKeys

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def restore_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: an SQLite file, or a PostgreSQL database of this
    test's own beside the test database, dropped afterwards.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    if not PG_URL:
        pytest.skip("EXCHANGE_TEST_DATABASE_URL is not set")
    name = f"{make_url(PG_URL).database}_restore_{xdist_worker()}"
    server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def hub_env(hub: Hub) -> dict[str, str]:
    """The environment of the CLI on the running hub's home and store."""
    return dict(
        os.environ,
        EXCHANGE_HOME=str(hub.config.home),
        EXCHANGE_DATABASE_URL=hub.config.database_url,
    )


def counts(url: str) -> dict[str, int]:
    """Rows per table of the hub's schema."""
    engine = create_engine(url)
    with engine.connect() as connection:
        found = {
            t.name: int(connection.execute(select(func.count()).select_from(t)).scalar_one())
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    return found


def test_backup_while_serving_writes_restores_and_verifies(
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
    restore_url: str,
    tmp_path: Path,
) -> None:
    audit = partners["audit"].client(base_url)
    before = [audit.send(examples.rectification_example()) for _ in range(4)]
    env = hub_env(hub)
    exchange(env, "log", "checkpoint")
    during: list[SendResult] = []
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.wait(0.02):  # a steady trickle, as partners write
            during.append(audit.send(examples.rectification_example()))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        out = tmp_path / "backup"
        keys_out = tmp_path / "backup-keys"
        made = exchange(env, "backup", "--out", str(out), "--keys-out", str(keys_out)).stdout
    finally:
        stop.set()
        writer.join(timeout=60)
    assert made.startswith("backed up ") and f"keys in {keys_out}" in made
    assert during, "nothing was written while the backup ran"
    manifest = json.loads((out / "manifest.json").read_text())
    assert not (out / "keys").exists() and sorted(os.listdir(keys_out)) == sorted(
        manifest["key_files"]
    )
    assert manifest["tables"]["messages"]["rows"] >= len(before)

    restored_home = tmp_path / "restored"
    target = dict(os.environ, EXCHANGE_HOME=str(restored_home), EXCHANGE_DATABASE_URL=restore_url)
    # The keys are apart: without them the restore says where they are, and stores nothing.
    refused = exchange(target, "restore", str(out), expect=1)
    assert refused.stderr.strip().splitlines() == [
        f"Error: the backup holds no keys and {restored_home / 'keys'} has none: give --keys "
        "DIR (where `exchange backup --keys-out` wrote them)"
    ]
    done = exchange(target, "restore", str(out), "--keys", str(keys_out)).stdout
    assert "ok:" in done, done
    assert exchange(target, "log", "verify").stdout.startswith("ok:")
    restored_counts = counts(restore_url)
    assert restored_counts == {n: t["rows"] for n, t in manifest["tables"].items()}

    # Every message opens under the restored sealing ring; every receipt given before the
    # backup verifies against the restored hub's keys and names the restored log index.
    restored = Hub(Config(home=restored_home, database_url=restore_url))
    with restored.readers() as session:
        rows = {m.id: m for m in session.scalars(select(Message))}
    assert len(rows) == manifest["tables"]["messages"]["rows"]
    for message_id, message in rows.items():
        envelope = json.loads(
            restored.trust.sealing.open(bytes(message.sealed_envelope), aad=message_id.encode())
        )
        assert envelope["id"] == message_id
    resolve = jwks_resolver(restored.trust.jwks())
    for sent in before + [s for s in during if s.id in rows]:
        _, claims = jws.verify_compact(sent.receipt, resolve, typ=RECEIPT_TYP)
        assert json.loads(claims)["log_index"] == rows[sent.id].log_index == sent.log_index
    assert {s.id for s in before} <= set(rows)
    restored.engine.dispose()

    # Restoring again onto what is now a store with data: refused, unless --force.
    again = exchange(target, "restore", str(out), "--keys", str(keys_out), expect=1)
    assert "the store holds data" in again.stderr and len(again.stderr.splitlines()) == 1
    forced = exchange(target, "restore", str(out), "--keys", str(keys_out), "--force").stdout
    assert "are now in" in forced and "ok:" in forced
    assert counts(restore_url) == restored_counts


def test_a_damaged_backup_is_refused_and_nothing_is_stored(
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
    restore_url: str,
    tmp_path: Path,
) -> None:
    audit = partners["audit"].client(base_url)
    for _ in range(3):
        audit.send(examples.rectification_example())
    env = hub_env(hub)
    exchange(env, "log", "checkpoint")
    out = tmp_path / "backup"
    made = exchange(env, "backup", "--out", str(out)).stdout
    assert f"keys in {out / 'keys'}" in made
    target = dict(
        os.environ, EXCHANGE_HOME=str(tmp_path / "restored"), EXCHANGE_DATABASE_URL=restore_url
    )

    # One byte of a message changed: its file no longer has its hash.
    messages = out / "tables" / "messages.jsonl"
    pristine = messages.read_bytes()
    lines = pristine.splitlines(keepends=True)
    row = json.loads(lines[0])
    sealed = json.loads((out / "manifest.json").read_text())["tables"]["messages"]["columns"]
    at = sealed.index("sealed_envelope")
    row[at] = row[at][:10] + ("A" if row[at][10] != "A" else "B") + row[at][11:]
    tampered = json.dumps(row).encode() + b"\n" + b"".join(lines[1:])
    messages.write_bytes(tampered)
    refused = exchange(target, "restore", str(out), expect=1)
    assert refused.stderr.strip().splitlines() == [
        f"Error: {messages} does not match its SHA-256 in the manifest: refused"
    ]
    assert not (tmp_path / "restored" / "keys").exists()

    # The same change with the manifest's hash rewritten to match: the log's own checks
    # (signed checkpoint, entry hashes) refuse it after the load.
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["tables/messages.jsonl"] = hashlib.sha256(tampered).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    failed = exchange(target, "restore", str(out), expect=1)
    assert failed.stderr.startswith("FAILED at log index"), failed.stderr

    # A missing file, and a directory that is no backup.
    messages.unlink()
    missing = exchange(target, "restore", str(out), "--force", expect=1)
    assert f"{messages} is missing" in missing.stderr
    not_backup = exchange(target, "restore", str(tmp_path), expect=1)
    assert "holds no manifest.json" in not_backup.stderr

    # Into a directory that is not empty, no backup is written.
    busy = exchange(env, "backup", "--out", str(out), expect=1)
    assert "is not an empty directory" in busy.stderr
