"""The transparency log: stored tree, checkpoints, proofs over the API, and `exchange log verify`
catching every kind of tampering — on each database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from exchange.hub import Hub
from exchange.store.models import Checkpoint, LogEntry, Message
from exchange.transparency.tree import StoredTree
from exchange.transparency.window import session_window
from keys import (
    consistency_proof,
    inclusion_proof,
    jwks_resolver,
    jws,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from keys.protocol import CHECKPOINT_TYP
from schemas import examples
from tests.conftest import Clock
from tests.exchange.test_cli import Cli, cli_env
from tests.support import (
    PartnerKeys,
    problem_code,
    rewrite_entry,
    signed_request,
    store_small_order_key,
)

Partners = dict[str, PartnerKeys]


def leaves(hub: Hub) -> list[bytes]:
    with hub.sessions() as session:
        return [bytes(h) for h in session.scalars(select(LogEntry.leaf_hash).order_by("idx"))]


def fill(hub: Hub, count: int) -> None:
    """Append ``count`` entries in one transaction (trust events, as the CLI makes them)."""
    now = hub.now()
    with hub.sessions.begin() as session, session_window(session, now) as window:
        for n in range(count):
            window.log.append(at=now, actor="test", action="partner:added", partner_id=f"test.p{n}")


def exchange_some(base_url: str, partners: Partners, count: int = 3) -> list[str]:
    """Messages sent, released, pulled and acked: every kind of message entry."""
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"].client(base_url)
    ids = []
    for _ in range(count):
        envelope = examples.rectification_example(
            sender="audit.yanliang", recipients=["discipline.yanliang"]
        )
        ids.append(audit.send(envelope).id)
    discipline.ack([item.envelope["id"] for item in discipline.inbox().items])
    return ids


# --- the stored tree --------------------------------------------------------------------------


def test_stored_roots_and_proofs_match_the_reference_tree(hub: Hub) -> None:
    for batch in (1, 2, 5, 9, 20):  # transactions of several sizes: edges resumed across them
        fill(hub, batch)
    reference = leaves(hub)
    assert len(reference) == 37
    with hub.sessions() as session:
        tree = StoredTree(session.connection())
        assert tree.size() == 37
        for size in range(1, 38):
            assert tree.root(size) == root_hash(reference[:size])
            for index in range(0, size, 3):
                assert tree.inclusion(index, size) == inclusion_proof(reference[:size], index)
            for first in range(0, size + 1, 4):
                assert tree.consistency(first, size) == consistency_proof(reference, first, size)


def test_a_checkpoint_is_signed_in_the_transaction_that_crosses_each_thousand(hub: Hub) -> None:
    fill(hub, 998)
    fill(hub, 5)  # crosses 1,000: one checkpoint at 1,003
    fill(hub, 10)  # crosses nothing
    with hub.sessions() as session:
        checkpoints = session.scalars(select(Checkpoint)).all()
    assert [c.tree_size for c in checkpoints] == [1003]
    _, payload = jws.verify_compact(
        checkpoints[0].signed, jwks_resolver(hub.trust.jwks()), typ=CHECKPOINT_TYP
    )
    claims = json.loads(payload)
    assert claims["tree_size"] == 1003
    assert claims["origin"] == hub.config.origin
    assert bytes.fromhex(claims["root_hash"]) == root_hash(leaves(hub)[:1003])


# --- the API ----------------------------------------------------------------------------------


def get(base_url: str, who: PartnerKeys, path: str) -> dict:  # type: ignore[type-arg]
    response = signed_request(base_url, who, "GET", path)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_checkpoint_and_proofs_over_the_api_verify(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    audit = partners["audit"]
    exchange_some(base_url, partners)
    first = get(base_url, audit, "/v1/log/checkpoint")
    _, payload = jws.verify_compact(
        first["checkpoint"], jwks_resolver(hub.trust.jwks()), typ=CHECKPOINT_TYP
    )
    claims = json.loads(payload)
    assert claims == {k: first[k] for k in ("origin", "tree_size", "root_hash", "issued_at")}
    assert claims["tree_size"] == len(leaves(hub))

    # Within a second the same head comes back; later, a new one covers the new entries.
    exchange_some(base_url, partners, 2)
    assert get(base_url, audit, "/v1/log/checkpoint")["tree_size"] == first["tree_size"]
    clock.offset += timedelta(seconds=2)
    second = get(base_url, audit, "/v1/log/checkpoint")
    assert second["tree_size"] == len(leaves(hub)) > first["tree_size"]

    proof = get(
        base_url,
        audit,
        f"/v1/log/proofs/consistency?first={first['tree_size']}&second={second['tree_size']}",
    )
    verify_consistency(
        first["tree_size"],
        second["tree_size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(h) for h in proof["hashes"]],
    )
    # Audit is given the proof of every entry that concerns it, and of no other.
    mine = {
        index
        for index in range(second["tree_size"])
        if signed_request(base_url, audit, "GET", f"/v1/log/entries/{index}").status_code == 200
    }
    assert 0 < len(mine) < second["tree_size"]
    for index in range(second["tree_size"]):
        path = f"/v1/log/proofs/inclusion?index={index}&tree_size={second['tree_size']}"
        if index not in mine:
            response = signed_request(base_url, audit, "GET", path)
            assert (response.status_code, problem_code(response)) == (404, "not-found")
            continue
        proof = get(base_url, audit, path)
        verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            index,
            second["tree_size"],
            [bytes.fromhex(h) for h in proof["hashes"]],
            bytes.fromhex(second["root_hash"]),
        )


def test_entries_are_shown_only_to_the_partners_they_concern(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    message_id = exchange_some(base_url, partners, 1)[0]
    with hub.sessions() as session:
        rows = session.execute(
            select(LogEntry.index, LogEntry.action).where(LogEntry.message_id == message_id)
        ).all()
    actions = {action: index for index, action in rows}
    assert set(actions) == {
        "message:received",
        "message:released",
        "message:pulled",
        "message:acked",
    }
    received = actions["message:received"]
    for body in ("audit", "discipline"):
        entry = get(base_url, partners[body], f"/v1/log/entries/{received}")
        assert entry["entry"]["message_id"] == message_id
        assert entry["entry"]["index"] == received
        assert (
            entry["leaf_hash"]
            == leaf_hash(
                json.dumps(entry["entry"], sort_keys=True, separators=(",", ":")).encode()
            ).hex()
        )
    outsider = signed_request(base_url, partners["personnel"], "GET", f"/v1/log/entries/{received}")
    assert outsider.status_code == 404 and problem_code(outsider) == "not-found"
    missing = signed_request(base_url, partners["audit"], "GET", "/v1/log/entries/999999")
    assert missing.status_code == 404
    # A partner sees the registration of its own key.
    with hub.sessions() as session:
        key_entry = session.scalar(
            select(func.min(LogEntry.index)).where(LogEntry.action == "key:added")
        )
    assert key_entry is not None
    shown = [
        signed_request(base_url, partners[b], "GET", f"/v1/log/entries/{key_entry}").status_code
        for b in ("audit", "discipline", "inspection", "personnel")
    ]
    assert sorted(shown) == [200, 404, 404, 404]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/v1/log/proofs/inclusion?index=x&tree_size=3", "index"),
        ("/v1/log/proofs/inclusion?index=0", "tree_size"),
        ("/v1/log/proofs/inclusion?index=-1&tree_size=3", "index"),
        ("/v1/log/proofs/consistency?first=1", "second"),
    ],
)
def test_malformed_proof_queries_name_the_field(
    base_url: str, partners: Partners, query: str, field: str
) -> None:
    response = signed_request(base_url, partners["audit"], "GET", query)
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_proofs_beyond_the_log_are_refused(base_url: str, partners: Partners) -> None:
    audit = partners["audit"]
    for query in (
        "/v1/log/proofs/inclusion?index=0&tree_size=100000",
        "/v1/log/proofs/inclusion?index=5&tree_size=5",
        "/v1/log/proofs/consistency?first=3&second=100000",
        "/v1/log/proofs/consistency?first=3&second=2",
    ):
        response = signed_request(base_url, audit, "GET", query)
        assert response.status_code == 400, query
        assert problem_code(response) == "bad-request"


# --- exchange log verify against tampering ---------------------------------------------------


@pytest.fixture
def hub_cli(hub: Hub, hub_home: Path, database_url: str) -> Cli:
    """The CLI over the test hub's own home (same keys) and database."""
    return Cli(cli_env(hub_home, database_url))


@pytest.fixture
def busy_log(base_url: str, hub: Hub, partners: Partners, hub_cli: Cli) -> list[str]:
    """Some exchanged messages and a checkpoint covering them."""
    ids = exchange_some(base_url, partners, 3)
    hub_cli.ok("log", "checkpoint")
    return ids


def tamper(hub: Hub, statement: str, **params: object) -> None:
    with hub.engine.begin() as connection:
        assert connection.execute(text(statement), params).rowcount >= 1


def entry_index(hub: Hub, message_id: str, action: str) -> int:
    with hub.sessions() as session:
        index = session.scalar(
            select(LogEntry.index).where(
                LogEntry.message_id == message_id, LogEntry.action == action
            )
        )
    assert index is not None
    return index


def test_an_untouched_store_verifies(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    out = hub_cli.ok("log", "verify")
    size = len(leaves(hub))
    assert f"ok: {size} entries, 1 checkpoints, 3 messages" in out
    assert root_hash(leaves(hub)).hex() in out


def test_verify_names_an_entry_changed_by_one_byte(
    busy_log: list[str], hub_cli: Cli, hub: Hub
) -> None:
    index = entry_index(hub, busy_log[1], "message:released")
    with hub.sessions() as session:
        entry = bytes(session.scalar(select(LogEntry.entry).where(LogEntry.index == index)) or b"")
    altered = entry.replace(b"released", b"releaseD")
    tamper(hub, "UPDATE log_entries SET entry = :e WHERE idx = :i", e=altered, i=index)
    assert f"FAILED at log index {index}:" in hub_cli.refused("log", "verify")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "inspection.yanliang"),
        ("action", "message:acked"),
        ("message_id", "aaaaaaaaaaaaaaaaaaaa"),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_verify_names_an_entry_whose_clear_columns_were_edited(
    busy_log: list[str], hub_cli: Cli, hub: Hub, column: str, value: object
) -> None:
    """A DBA edits only a column the hub queries by: the entry bytes still hash right."""
    index = entry_index(hub, busy_log[1], "message:pulled")
    with hub.engine.begin() as connection:
        connection.execute(update(LogEntry).where(LogEntry.index == index).values({column: value}))
    out = hub_cli.refused("log", "verify")
    assert f"FAILED at log index {index}: the row's {column} column does not match" in out


def test_verify_names_a_deleted_entry(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    index = entry_index(hub, busy_log[0], "message:pulled")
    tamper(hub, "DELETE FROM log_entries WHERE idx = :i", i=index)
    assert f"FAILED at log index {index}: entry missing" in hub_cli.refused("log", "verify")


def test_verify_notices_the_log_cut_short(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    size = len(leaves(hub))
    tamper(hub, "DELETE FROM log_entries WHERE idx = :i", i=size - 1)
    assert f"FAILED at log index {size - 1}:" in hub_cli.refused("log", "verify")


def test_verify_names_two_swapped_entries(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    first = entry_index(hub, busy_log[0], "message:received")
    second = entry_index(hub, busy_log[2], "message:received")
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
    assert f"FAILED at log index {first}: entry names another index" in hub_cli.refused(
        "log", "verify"
    )


def test_verify_names_a_changed_sealed_payload(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    with hub.sessions() as session:
        message = session.get(Message, busy_log[1])
        assert message is not None
        sealed, index = bytearray(message.sealed_envelope), message.log_index
    sealed[-20] ^= 0x01
    tamper(
        hub,
        "UPDATE messages SET sealed_envelope = :s WHERE id = :i",
        s=bytes(sealed),
        i=busy_log[1],
    )
    assert f"FAILED at log index {index}: message {busy_log[1]}: sealed" in hub_cli.refused(
        "log", "verify"
    )


def test_verify_names_a_swapped_digest(busy_log: list[str], hub_cli: Cli, hub: Hub) -> None:
    with hub.sessions() as session:
        a, b = (session.get(Message, i) for i in busy_log[:2])
        assert a is not None and b is not None
        first_index = min(a.log_index, b.log_index)
        digests = {a.id: b.envelope_sha256, b.id: a.envelope_sha256}
    for message_id, digest in digests.items():
        tamper(
            hub, "UPDATE messages SET envelope_sha256 = :d WHERE id = :i", d=digest, i=message_id
        )
    stderr = hub_cli.refused("log", "verify")
    assert f"FAILED at log index {first_index}:" in stderr and "digest does not match" in stderr


def test_verify_catches_a_rewritten_history_by_the_checkpoint(
    busy_log: list[str], hub_cli: Cli, hub: Hub
) -> None:
    """An administrator who rewrites an entry *and* every hash stored after it is still caught
    by the signed checkpoint (the ack's digest changes; the clear columns still agree).
    """
    index = entry_index(hub, busy_log[2], "message:acked")
    rewrite_entry(hub, index, b'"ack_sha256":"', b'"ack_sha256":"0')
    stderr = hub_cli.refused("log", "verify")
    assert "FAILED at log index 0: checkpoint" in stderr and "does not match" in stderr


# --- the CLI: evidence, checkpoints on cadence; what entries may hold -------------------------


def test_evidence_export_and_offline_verify_through_the_cli(
    base_url: str, hub: Hub, partners: Partners, hub_cli: Cli, tmp_path: Path
) -> None:
    message_id = exchange_some(base_url, partners, 1)[0]
    bundle_path = tmp_path / "bundle.json"
    out = hub_cli.ok("evidence", "export", "--out", str(bundle_path), "--", message_id)
    assert f"wrote {bundle_path}" in out
    jwks_path = tmp_path / "hub-jwks.json"
    jwks_path.write_text(json.dumps(hub.trust.jwks()))
    verified = hub_cli.ok("evidence", "verify", "--hub-keys", str(jwks_path), str(bundle_path))
    assert f"ok: message {message_id} from audit.yanliang" in verified
    assert "acked by discipline.yanliang" in verified
    assert "pin it" in hub_cli.ok("evidence", "verify", str(bundle_path))

    bundle = json.loads(bundle_path.read_text())
    bundle["acks"][0]["recipient"] = "personnel.yanliang"
    bundle_path.write_text(json.dumps(bundle, ensure_ascii=False))
    assert "INVALID: acks[0]" in hub_cli.refused("evidence", "verify", str(bundle_path))
    missing = hub_cli.refused("evidence", "export", "--out", str(bundle_path), "--", "no-such")
    assert "no-such" in missing


def test_evidence_of_a_message_whose_key_was_altered_in_the_store_does_not_verify(
    base_url: str, hub: Hub, partners: Partners, hub_cli: Cli, tmp_path: Path
) -> None:
    # A small-order key put in by SQL: the export still answers (what is stored, as it is)
    # and the offline check refuses the bundle in one line, not a traceback.
    message_id = exchange_some(base_url, partners, 1)[0]
    with hub.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        kid = message.signer_kid
    store_small_order_key(hub, kid)
    bundle_path = tmp_path / "bundle.json"
    assert f"wrote {bundle_path}" in hub_cli.ok(
        "evidence", "export", "--out", str(bundle_path), "--", message_id
    )
    jwks_path = tmp_path / "hub-jwks.json"
    jwks_path.write_text(json.dumps(hub.trust.jwks()))
    refused = hub_cli.refused("evidence", "verify", "--hub-keys", str(jwks_path), str(bundle_path))
    assert refused.strip() == "INVALID: signature: key is a small-order or non-canonical point"


def test_the_worker_signs_a_checkpoint_when_one_is_due(hub: Hub, hub_cli: Cli) -> None:
    fill(hub, 3)
    assert "checkpoint tree_size 3" in hub_cli.ok("worker", "--once")
    assert hub_cli.ok("worker", "--once") == ""  # not due: nothing new, the log did not grow
    fill(hub, 2)
    assert hub_cli.ok("worker", "--once") == ""  # grown, but the newest is not 60 s old
    with hub.engine.begin() as connection:
        connection.execute(update(Checkpoint).values(issued_at=hub.now() - timedelta(seconds=61)))
    assert "checkpoint tree_size 5" in hub_cli.ok("worker", "--once")


def test_entries_hold_ids_and_digests_never_names_or_id_numbers(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    referral = examples.referral_example()
    partners["audit"].client(base_url).send(referral)
    with hub.sessions() as session:
        logged = b"\n".join(bytes(e) for e in session.scalars(select(LogEntry.entry)))
    payload = referral["payload"]
    persons = payload["involved_persons"]
    secrets = [referral["subject"], payload["audited_unit"]["name"], payload["source"]["scope"]]
    secrets += [p["name"] for p in persons] + [p["id_number"] for p in persons]
    for secret in secrets:
        assert secret.encode() not in logged, secret
    assert referral["id"].encode() in logged


def test_verify_names_the_first_message_of_a_key_altered_in_the_store_to_a_weak_one(
    busy_log: list[str], hub_cli: Cli, hub: Hub
) -> None:
    # A small-order key (no key the hub registers) put in by SQL: one line naming the first
    # message it signed, not a traceback.
    with hub.sessions() as session:
        first = session.get(Message, busy_log[0])
        assert first is not None
        kid = first.signer_kid
        index = min(session.scalars(select(Message.log_index).where(Message.signer_kid == kid)))
        message_id = session.scalar(select(Message.id).where(Message.log_index == index))
    store_small_order_key(hub, kid)
    refused = hub_cli.refused("log", "verify")
    assert refused.strip().splitlines() == [
        f"FAILED at log index {index}: message {message_id}: signature or receipt does not verify"
    ]
