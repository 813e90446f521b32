"""The fast ``log verify`` (index ranges in several processes, resumable) against the reference
pass: on a good store both pass with the same figures; on every tampered store both fail at
the same log index for the same reason, with one job and with two — on each database.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from exchange.hub import Hub
from exchange.store.models import Checkpoint, LogEntry, Message
from exchange.transparency.checks import IntegrityFailure
from exchange.transparency.marker import MARKER_FILE, read_mark
from exchange.transparency.parallel import (
    ENTRIES_PER_JOB,
    LogVerification,
    jobs_that_pay,
    verify_log,
)
from exchange.transparency.verify import verify_store
from exchange.transparency.window import sign_checkpoint
from keys import SigningKey, leaf_hash
from tests.exchange.test_cli import Cli, cli_env
from tests.exchange.test_log import entry_index, exchange_some, fill, leaves, tamper
from tests.keys.other_nonce import sign_with_nonce
from tests.support import PartnerKeys, rewrite_entry

Partners = dict[str, PartnerKeys]


def checkpoint(hub: Hub) -> int:
    """Sign a checkpoint of the log as it is; its size."""
    with hub.sessions.begin() as session:
        return int(sign_checkpoint(session, hub.notary, hub.now()).tree_size)


@pytest.fixture
def store(base_url: str, hub: Hub, partners: Partners) -> list[str]:
    """Messages and trust entries under three checkpoints, and a message after the last."""
    ids = exchange_some(base_url, partners, 3)
    checkpoint(hub)
    fill(hub, 5)
    ids += exchange_some(base_url, partners, 2)
    checkpoint(hub)
    fill(hub, 3)
    checkpoint(hub)
    ids += exchange_some(base_url, partners, 1)
    return ids


def reference(hub: Hub) -> str:
    """The reference pass's verdict: ``ok …`` with its figures, or ``index: reason``."""
    try:
        with hub.readers() as session:
            report = verify_store(session, hub.trust)
    except IntegrityFailure as failure:
        return f"{failure.index}: {failure.reason}"
    return f"ok {report.entries} {report.checkpoints} {report.messages} {report.root_hash}"


def fast(
    hub: Hub, jobs: int | None, since: int = 0, pinned: bytes | None = None
) -> LogVerification:
    """The fast verifier over the hub's store, with the hub's keys."""
    url, keys = hub.config.database_url, hub.config.keys_dir
    return verify_log(url, hub.trust, keys, jobs=jobs, since=since, pinned_root=pinned)


def verdict(run: Callable[[], LogVerification]) -> str:
    """A run's verdict in the reference's form."""
    try:
        report = run()
    except IntegrityFailure as failure:
        return f"{failure.index}: {failure.reason}"
    return f"ok {report.entries} {report.checkpoints} {report.messages} {report.root_hash}"


def assert_parity(hub: Hub, expected: str) -> str:
    """The reference fails with ``expected`` in its reason; both job counts fail alike."""
    wanted = reference(hub)
    assert expected in wanted and not wanted.startswith("ok"), wanted
    assert verdict(lambda: fast(hub, 1)) == wanted
    assert verdict(lambda: fast(hub, 2)) == wanted
    return wanted


def test_a_good_store_passes_both_with_the_same_figures(store: list[str], hub: Hub) -> None:
    wanted = reference(hub)
    assert wanted == f"ok {len(leaves(hub))} 3 6 {fast(hub, 1).root_hash}"
    assert verdict(lambda: fast(hub, 1)) == wanted
    assert verdict(lambda: fast(hub, 2)) == wanted
    assert fast(hub, 2).verified_checkpoint is not None
    # Unasked, a log this short is checked in this process: a job would cost more than it saves.
    assert verdict(lambda: fast(hub, None)) == wanted
    assert fast(hub, None).jobs == 1 and fast(hub, 2).jobs == 2


@pytest.mark.parametrize(
    ("entries", "cpus", "jobs"),
    [
        (0, 2, 1),
        (ENTRIES_PER_JOB - 1, 2, 1),
        (2 * ENTRIES_PER_JOB - 1, 2, 1),
        (2 * ENTRIES_PER_JOB, 2, 2),
        (10**6, 2, 2),
        (3 * ENTRIES_PER_JOB, 8, 3),
        (10**6, 1, 1),
    ],
)
def test_jobs_are_started_only_where_they_pay(entries: int, cpus: int, jobs: int) -> None:
    assert jobs_that_pay(entries, cpus) == jobs


def test_a_checkpoint_of_the_empty_log_passes(hub: Hub) -> None:
    """`exchange log checkpoint` on a fresh hub signs size 0; the log then grows past it."""
    assert checkpoint(hub) == 0
    fill(hub, 4)
    assert checkpoint(hub) == 4
    assert reference(hub).startswith("ok 4 2 0 ")
    assert verdict(lambda: fast(hub, 2)) == reference(hub)


def test_a_changed_payload_digest(store: list[str], hub: Hub) -> None:
    tamper(hub, "UPDATE messages SET envelope_sha256 = :d WHERE id = :i", d="0" * 64, i=store[4])
    failure = assert_parity(hub, "digest does not match")
    assert failure.startswith(f"{entry_index(hub, store[4], 'message:received')}:")


def test_a_changed_sealed_payload(store: list[str], hub: Hub) -> None:
    with hub.sessions() as session:
        sealed = bytearray(session.scalars(select(Message.sealed_envelope).limit(1)).one())
    sealed[-3] ^= 0x01
    tamper(
        hub,
        "UPDATE messages SET sealed_envelope = :s WHERE id IN (SELECT id FROM messages "
        "ORDER BY log_index LIMIT 1)",
        s=bytes(sealed),
    )
    assert_parity(hub, "sealed envelope altered")


@pytest.mark.parametrize("column", ["entry", "actor", "at"])
def test_a_changed_entry_field(store: list[str], hub: Hub, column: str) -> None:
    index = entry_index(hub, store[3], "message:pulled")
    with hub.engine.begin() as connection:
        row = connection.execute(select(LogEntry).where(LogEntry.index == index)).one()
        values = {
            "entry": bytes(row.entry).replace(b"pulled", b"pulleD"),
            "actor": "inspection.yanliang",
            "at": row.at - timedelta(seconds=1),
        }
        connection.execute(
            update(LogEntry).where(LogEntry.index == index).values({column: values[column]})
        )
    assert assert_parity(hub, "").startswith(f"{index}: ")


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_deleted_entry(store: list[str], hub: Hub, which: str) -> None:
    size = len(leaves(hub))
    index = {"first": 0, "middle": size // 2, "last": size - 2}[which]
    tamper(hub, "DELETE FROM log_entries WHERE idx = :i", i=index)
    assert assert_parity(hub, "entry missing").startswith(f"{index}: ")


def test_a_run_of_deleted_entries_across_ranges(store: list[str], hub: Hub) -> None:
    size = len(leaves(hub))
    tamper(hub, "DELETE FROM log_entries WHERE idx >= :a AND idx < :b", a=3, b=size - 4)
    assert assert_parity(hub, f"entry missing (the next stored index is {size - 4})")


def test_swapped_entries(store: list[str], hub: Hub) -> None:
    first = entry_index(hub, store[0], "message:received")
    second = entry_index(hub, store[5], "message:received")
    with hub.engine.begin() as connection:
        rows = dict(
            connection.execute(
                select(LogEntry.index, LogEntry.entry).where(LogEntry.index.in_([first, second]))
            ).all()
        )
        for index, other in ((first, second), (second, first)):
            connection.execute(
                update(LogEntry)
                .where(LogEntry.index == index)
                .values(entry=rows[other], leaf_hash=leaf_hash(bytes(rows[other])))
            )
    assert assert_parity(hub, "entry names another index").startswith(f"{first}: ")


def test_a_bad_checkpoint_signature(store: list[str], hub: Hub) -> None:
    with hub.engine.begin() as connection:
        size, signed = connection.execute(
            select(Checkpoint.tree_size, Checkpoint.signed).order_by(Checkpoint.tree_size)
        ).all()[1]
        connection.execute(
            update(Checkpoint).where(Checkpoint.tree_size == size).values(signed=_flipped(signed))
        )
    assert assert_parity(hub, f"checkpoint {size} is not signed by the hub")


def test_a_rewritten_history_caught_by_the_checkpoint(store: list[str], hub: Hub) -> None:
    """Every stored hash recomputed after the change: only the signed root can tell."""
    index = entry_index(hub, store[3], "message:acked")
    rewrite_entry(hub, index, b'"ack_sha256":"', b'"ack_sha256":"0')
    first = min(leaves_sizes(hub))
    assert assert_parity(hub, "does not match the entries").startswith(f"{first}: checkpoint")


def leaves_sizes(hub: Hub) -> list[int]:
    with hub.sessions() as session:
        return list(session.scalars(select(Checkpoint.tree_size)))


def test_a_signed_checkpoint_that_does_not_extend_the_log(store: list[str], hub: Hub) -> None:
    """A checkpoint the hub's key signed over another tree (a fork shown to someone else)."""
    sizes = sorted(leaves_sizes(hub))
    forged = hub.notary.checkpoint(sizes[1], b"\x07" * 32, hub.now())
    with hub.engine.begin() as connection:
        connection.execute(
            update(Checkpoint)
            .where(Checkpoint.tree_size == sizes[1])
            .values(signed=forged["signed"])
        )
    failure = assert_parity(hub, f"checkpoint {sizes[1]} does not match the entries")
    assert failure.startswith(f"{sizes[0]}: ")


def test_a_checkpoint_beyond_the_log(store: list[str], hub: Hub) -> None:
    size = len(leaves(hub))
    tamper(hub, "DELETE FROM log_entries WHERE idx >= :i", i=max(leaves_sizes(hub)) - 2)
    assert size > max(leaves_sizes(hub))
    assert_parity(hub, "entries from here on were removed")


def test_a_message_moved_off_its_entry(store: list[str], hub: Hub) -> None:
    tamper(hub, "UPDATE messages SET log_index = log_index + 1 WHERE id = :i", i=store[2])
    assert_parity(hub, f"message {store[2]} has no received entry at its log index")


@pytest.mark.parametrize("index", [-1, 10**6])
def test_a_message_outside_the_log(store: list[str], hub: Hub, index: int) -> None:
    tamper(hub, "UPDATE messages SET log_index = :x WHERE id = :i", x=index, i=store[1])
    size = len(leaves(hub))
    assert assert_parity(hub, "has no received entry").startswith(f"{size}: message {store[1]}")


def test_a_message_named_again_by_a_later_received_entry(store: list[str], hub: Hub) -> None:
    """The last message's received entry (after the last checkpoint) rewritten to name the
    first message: its row and hashes agree, but the first message's received entry is no
    longer the newest that names it (the reference keeps the newest).
    """
    first = entry_index(hub, store[0], "message:received")
    last = entry_index(hub, store[-1], "message:received")
    rewrite_entry(hub, last, store[-1].encode(), store[0].encode())
    tamper(hub, "UPDATE log_entries SET message_id = :m WHERE idx = :i", m=store[0], i=last)
    failure = assert_parity(hub, "has no received entry at its log index")
    assert failure.startswith(f"{first}: message {store[0]} ")


def _signed(token: str, key: SigningKey, nonce: int | None = None) -> str:
    """``token`` with its signature made again by ``key`` (with ``nonce``: not the one the
    key's deterministic signing makes, but as valid).
    """
    header, payload, _ = token.split(".")
    signing_input = f"{header}.{payload}".encode()
    raw = key.sign(signing_input) if nonce is None else sign_with_nonce(key, signing_input, nonce)
    return f"{header}.{payload}.{_b64url(raw)}"


def _flipped(token: str) -> str:
    """``token`` with one bit of its signature flipped (still well-formed base64url)."""
    head, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    return f"{head}.{_b64url(bytes([raw[0] ^ 1]) + raw[1:])}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _column(hub: Hub, column: str, message_id: str) -> str:
    with hub.engine.connect() as connection:
        query = f"SELECT {column} FROM messages WHERE id = :i"
        return str(connection.execute(text(query), {"i": message_id}).scalar_one())


@pytest.mark.parametrize("change", ["a bit of its signature", "another key's signature"])
def test_a_changed_receipt(store: list[str], hub: Hub, change: str) -> None:
    receipt = _column(hub, "receipt", store[4])
    if change == "a bit of its signature":
        forged = _flipped(receipt)
    else:
        forged = _signed(receipt, SigningKey.generate())  # under the hub's kid
    tamper(hub, "UPDATE messages SET receipt = :r WHERE id = :i", r=forged, i=store[4])
    failure = assert_parity(hub, f"message {store[4]}: signature or receipt does not verify")
    assert failure.startswith(f"{entry_index(hub, store[4], 'message:received')}:")


def test_another_messages_receipt(store: list[str], hub: Hub) -> None:
    # Signed by the hub, but for another envelope at another index.
    other = _column(hub, "receipt", store[0])
    tamper(hub, "UPDATE messages SET receipt = :r WHERE id = :i", r=other, i=store[4])
    assert assert_parity(hub, f"message {store[4]}: receipt does not match")


def test_a_changed_partner_signature(store: list[str], hub: Hub) -> None:
    forged = _flipped(_column(hub, "signature", store[3]))
    tamper(hub, "UPDATE messages SET signature = :s WHERE id = :i", s=forged, i=store[3])
    assert assert_parity(hub, f"message {store[3]}: signature or receipt does not verify")


def test_a_receipt_the_hub_signed_with_another_nonce_passes(store: list[str], hub: Hub) -> None:
    # The verifier checks the hub's own receipts by signing again; a receipt that is not what
    # the hub's signing makes but is validly signed by its key still verifies.
    wanted = reference(hub)
    receipt = _column(hub, "receipt", store[4])
    again = _signed(receipt, hub.trust.current.signing_key, nonce=0xC0FFEE)
    assert again != receipt
    tamper(hub, "UPDATE messages SET receipt = :r WHERE id = :i", r=again, i=store[4])
    assert wanted.startswith("ok") and reference(hub) == wanted
    assert verdict(lambda: fast(hub, 1)) == wanted
    assert verdict(lambda: fast(hub, 2)) == wanted


# --- resuming from a checkpoint ---------------------------------------------------------------


def test_a_resumed_run_starts_at_the_newest_checkpoint_at_or_below_since(
    store: list[str], hub: Hub
) -> None:
    sizes = sorted(leaves_sizes(hub))
    whole = fast(hub, 2)
    resumed = fast(hub, 2, since=sizes[1] + 1)
    assert resumed.start == sizes[1]
    assert resumed.root_hash == whole.root_hash
    assert resumed.messages < whole.messages
    assert fast(hub, 1, since=sizes[0] - 1).start == 0


def test_a_resumed_run_does_not_see_tampering_before_its_checkpoint(
    store: list[str], hub: Hub
) -> None:
    """Out of scope by design (the help says so): the full run still catches it."""
    sizes = sorted(leaves_sizes(hub))
    index = entry_index(hub, store[0], "message:released")
    with hub.sessions() as session:
        entry = bytes(session.scalars(select(LogEntry.entry).where(LogEntry.index == index)).one())
    tamper(hub, "UPDATE log_entries SET entry = :e WHERE idx = :i", e=entry + b" ", i=index)
    assert reference(hub).startswith(f"{index}: entry bytes do not match")
    assert fast(hub, 2, since=sizes[-1]).start == sizes[-1]


def test_a_resumed_run_catches_rehashed_entries_before_its_checkpoint(
    store: list[str], hub: Hub
) -> None:
    """The stored hashes it starts from must fold to the root the hub signed."""
    sizes = sorted(leaves_sizes(hub))
    rewrite_entry(hub, 2, b'"index":2', b'"index":2 ')
    failure = verdict(lambda: fast(hub, 2, since=sizes[-1]))
    assert failure == (
        f"0: checkpoint {sizes[-1]} does not match the entries: one of entries "
        f"0..{sizes[-1] - 1} was altered"
    )


def test_a_resumed_run_refuses_a_changed_pinned_checkpoint(store: list[str], hub: Hub) -> None:
    sizes = sorted(leaves_sizes(hub))
    marked = fast(hub, 2).verified_checkpoint
    assert marked is not None and marked.tree_size == sizes[-1]
    assert fast(hub, 2, since=marked.tree_size, pinned=marked.root_hash).start == sizes[-1]
    failure = verdict(lambda: fast(hub, 2, since=marked.tree_size, pinned=b"\x01" * 32))
    gone = f"checkpoint {sizes[-1]}, verified by an earlier run, is gone or changed"
    assert failure == f"{sizes[-1] - 1}: {gone}"


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def hub_cli(hub: Hub, tmp_path: Path, hub_home: Path, database_url: str) -> Cli:
    """The CLI over a home of its own (its marker file) with the test hub's keys."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "keys").symlink_to(hub_home / "keys")
    return Cli(cli_env(home, database_url))


def test_the_command_verifies_in_jobs_and_resumes_from_its_marker(
    store: list[str], hub: Hub, hub_cli: Cli
) -> None:
    sizes = sorted(leaves_sizes(hub))
    size = len(leaves(hub))
    refused = hub_cli.refused("log", "verify", "--since", "last", code=2)
    assert "--since" in refused and "no clean run has been recorded yet" in refused
    out = hub_cli.ok("log", "verify", "--jobs", "2")
    assert f"ok: {size} entries, 3 checkpoints, 6 messages; root " in out
    assert f"verified up to checkpoint {sizes[-1]} (resume with --since last)" in out
    mark = read_mark(Path(hub_cli.env["EXCHANGE_HOME"]))
    assert mark is not None and mark.tree_size == sizes[-1]
    resumed = hub_cli.ok("log", "verify", "--since", "last", "--jobs", "1")
    assert f"ok: {size} entries (entries {sizes[-1]}.. from checkpoint {sizes[-1]})" in resumed
    assert ", 1 messages; root " in resumed


def test_the_command_reports_progress_lines_off_a_terminal(
    store: list[str], hub: Hub, hub_cli: Cli
) -> None:
    done = hub_cli.run("log", "verify", "--jobs", "2", "--progress-every", "0")
    assert done.returncode == 0, done.stderr
    size = len(leaves(hub))
    lines = [line for line in done.stderr.splitlines() if line.startswith("log verify: ")]
    assert lines and f"of {size} entries" in lines[-1], done.stderr
    assert "entries/s" in lines[-1] and "s left" in lines[-1]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--jobs", "0"], "--jobs"),
        (["--jobs", "two"], "--jobs"),
        (["--since", "-3"], "--since"),
        (["--since", "lastt"], "--since"),
        (["--progress-every", "-1"], "--progress-every"),
    ],
)
def test_the_command_refuses_bad_options_by_name(
    hub: Hub, hub_cli: Cli, args: list[str], named: str
) -> None:
    refused = hub_cli.refused("log", "verify", *args, code=2)
    assert named in refused
    assert not (Path(hub_cli.env["EXCHANGE_HOME"]) / MARKER_FILE).exists()


def test_the_command_refuses_an_unreadable_marker(hub: Hub, hub_cli: Cli) -> None:
    (Path(hub_cli.env["EXCHANGE_HOME"]) / MARKER_FILE).write_text("{not json")
    refused = hub_cli.refused("log", "verify", "--since", "last", code=2)
    assert "is not a log verify marker" in refused and "--since" in refused


def test_the_command_names_the_first_bad_index(store: list[str], hub: Hub, hub_cli: Cli) -> None:
    index = entry_index(hub, store[4], "message:released")
    tamper(hub, "DELETE FROM log_entries WHERE idx = :i", i=index)
    stderr = hub_cli.refused("log", "verify", "--jobs", "2")
    assert f"FAILED at log index {index}: entry missing" in stderr
    assert not (Path(hub_cli.env["EXCHANGE_HOME"]) / MARKER_FILE).exists()
    with hub.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM log_entries")).scalar_one() > 0
