"""``exchange log verify`` benchmark: entries/s with 1 and 2 jobs at each log size, next to
floors measured in the same run.

The store is filled directly, not through the API (the verifier's bench; the API's cost is
bench/ingest.py's): messages as the intake writes them — a partner's detached JWS over the
envelope's JCS bytes, the envelope sealed with the hub's ring, a hub-signed receipt — each with
its ``message:received`` and ``message:released`` entries made by the log appender, and a
checkpoint signed by the hub's notary each time the log crosses a thousand. Deliveries and
read models are left out: the verifier reads neither. Then the real command runs,
``exchange log verify --jobs J``, as an operator would, and its output is checked.

Floors, in one process: SHA-256 leaf hashing of the stored entry bytes (the least any verify
must do per entry), and the signature checks a message needs, per entry: its JWS and its
receipt, as the verifier makes them (a verification and, for the hub's own receipt, the
signature made again: ``SigningKey.checker``), and as two verifications (the floor before the
checker, one per entry on average). Usage (from the repo root):

    .venv/bin/python bench/verify.py --database postgresql --sizes 100000,1000000
    .venv/bin/python bench/verify.py --database sqlite --sizes 2000
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from exchange.store.models import Checkpoint, LogEntry, Message
from exchange.transparency.checkpoints import Notary, crossed
from exchange.transparency.log import LogAppender, format_time
from exchange.transparency.ranges import stored_tree
from exchange.transport.release import log_release
from exchange.trust.hub_keys import HubTrust
from keys import SigningKey, jws, static_resolver
from keys.protocol import MESSAGE_TYP, RECEIPT_TYP, LogAction
from schemas import canonical_bytes, examples

sys.path.insert(0, str(Path(__file__).parent))
from ingest import EXCHANGE, exchange, fresh_postgres  # type: ignore[import-not-found]

SENDER = "audit.bench"
RECIPIENTS = ["discipline.bench", "inspection.bench", "personnel.bench"]
CHUNK = 2000  # messages signed per task and written per transaction


class Store:
    """A hub home (``exchange init``) with one registered partner, on a fresh database."""

    def __init__(self, database: str, name: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="exchange-bench-verify-"))
        if database == "postgresql":
            self.url = fresh_postgres(name)
        else:
            self.url = f"sqlite:///{self.home / 'exchange.db'}"
        self.env = dict(os.environ, EXCHANGE_HOME=str(self.home), EXCHANGE_DATABASE_URL=self.url)
        exchange(self.env, "init")
        self.key = SigningKey.generate()
        public = self.home / f"{SENDER}.pub.pem"
        public.write_bytes(self.key.public_key.to_pem())
        exchange(self.env, "partners", "add", SENDER, "--name", SENDER, "--key", str(public))
        for recipient in RECIPIENTS:
            other = self.home / f"{recipient}.pub.pem"
            other.write_bytes(SigningKey.generate().public_key.to_pem())
            exchange(
                self.env, "partners", "add", recipient, "--name", recipient, "--key", str(other)
            )
        self.kid = _kid(self.url, SENDER)
        self.engine = create_engine(self.url)

    def size(self) -> int:
        """Entries in the log."""
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(LogEntry)).scalar_one())

    def remove(self) -> None:
        """Drop the home (the PostgreSQL database stays for a look, reset by the next run)."""
        self.engine.dispose()
        shutil.rmtree(self.home, ignore_errors=True)


def _kid(url: str, partner_id: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        kid = connection.execute(
            text("SELECT kid FROM partner_keys WHERE partner_id = :p"), {"p": partner_id}
        ).scalar_one()
    engine.dispose()
    return str(kid)


# --- filling --------------------------------------------------------------------------------

_SIGNER: dict[str, Any] = {}


def _start_signer(keys_dir: Path, partner_pem: bytes, kid: str) -> None:
    _SIGNER.update(trust=HubTrust.load(keys_dir), key=SigningKey.from_pem(partner_pem), kid=kid)


def _signed_messages(first_index: int, count: int, at: str) -> list[tuple[Any, ...]]:
    """``count`` messages whose received entries will be at ``first_index``, +2, +4 …: each
    its envelope's id, type, ledger item, JCS length, digest, seal, signature and receipt.
    """
    trust: HubTrust = _SIGNER["trust"]
    template = examples.rectification_example(sender=SENDER, recipients=RECIPIENTS)
    made = []
    for n in range(count):
        envelope = copy.deepcopy(template)
        envelope["id"] = examples.new_message_id()
        item = f"BENCH-ZG-{first_index + 2 * n:012d}"
        envelope["payload"]["ledger_item_id"] = envelope["subject"] = item
        canonical = canonical_bytes(envelope)
        digest = hashlib.sha256(canonical).hexdigest()
        signature = jws.sign_detached(
            canonical, _SIGNER["key"], kid=_SIGNER["kid"], typ=MESSAGE_TYP
        )
        receipt = trust.sign_compact(
            canonical_bytes(
                {
                    "id": envelope["id"],
                    "type": envelope["type"],
                    "from": SENDER,
                    "to": RECIPIENTS,
                    "envelope_sha256": digest,
                    "received_at": at,
                    "status": "released",
                    "log_index": first_index + 2 * n,
                }
            ),
            RECEIPT_TYP,
        )
        sealed = trust.sealing.seal(canonical, aad=envelope["id"].encode())
        made.append(
            (
                envelope["id"],
                envelope["type"],
                item,
                len(canonical),
                digest,
                sealed,
                signature,
                receipt,
                envelope["sent_at"],
                envelope["classification"],
                envelope["payload"]["status"],
            )
        )
    return made


def fill(store: Store, target: int, jobs: int) -> float:
    """Grow the log to at least ``target`` entries; seconds taken."""
    started = time.perf_counter()
    trust = HubTrust.load(store.home / "keys")
    notary = Notary(origin="bench", sign=trust.sign_compact)
    with store.engine.connect() as connection:
        size = store.size()
        tree = stored_tree(connection, size)
    now = datetime.now(UTC)
    at = format_time(now)
    messages = max(0, (target - size + 1) // 2)
    starts = range(0, messages, CHUNK)
    with ProcessPoolExecutor(
        max_workers=jobs,
        initializer=_start_signer,
        initargs=(store.home / "keys", store.key.to_pem(), store.kid),
    ) as pool:
        tasks = [
            pool.submit(_signed_messages, size + 2 * s, min(CHUNK, messages - s), at)
            for s in starts
        ]
        for task in tasks:
            tree = _write(store, tree, task.result(), notary, now)
    return time.perf_counter() - started


def _write(
    store: Store, tree: Any, made: Sequence[tuple[Any, ...]], notary: Notary, now: datetime
) -> Any:
    log = LogAppender(tree)
    rows, checkpoints = [], []
    for ident, type_, item, length, digest, sealed, signature, receipt, sent, level, status in made:
        before = log.tree.size
        index = log.append(
            at=now,
            actor=SENDER,
            action=LogAction.MESSAGE_RECEIVED,
            message_id=ident,
            type=type_,
            envelope_sha256=digest,
            kid=store.kid,
            ledger_item_id=item,
            to_state=status,
        )
        log_release(log, ident, type_, digest, actor="hub", now=now)
        rows.append(
            {
                "id": ident,
                "type": type_,
                "sender": SENDER,
                "subject": item,
                "in_reply_to": None,
                "classification": level,
                "sent_at": datetime.fromisoformat(sent),
                "received_at": now,
                "released_at": now,
                "envelope_sha256": digest,
                "sealed_envelope": sealed,
                "signature": signature,
                "signer_kid": store.kid,
                "status": "released",
                "required_approvals": 0,
                "receipt": receipt,
                "receipt_status": "released",
                "log_index": index,
                "size_bytes": length,
            }
        )
        if crossed(before, log.tree.size):
            checkpoints.append(notary.checkpoint(log.tree.size, log.tree.root(), now))
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            _copy(connection, "log_entries", log.rows)
            _copy(connection, "messages", rows)
        else:
            connection.execute(insert(LogEntry.__table__), log.rows)  # type: ignore[arg-type]
            connection.execute(insert(Message.__table__), rows)  # type: ignore[arg-type]
        if checkpoints:
            connection.execute(insert(Checkpoint.__table__), checkpoints)  # type: ignore[arg-type]
    return log.tree


def _copy(connection: Any, table: str, rows: Sequence[Any]) -> None:
    # COPY FROM STDIN: the fastest way into PostgreSQL, through psycopg's own adapters.
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy_:
        for row in rows:
            copy_.write_row([row[c] for c in columns])


# --- measuring ------------------------------------------------------------------------------


def verify(store: Store, jobs: int) -> tuple[float, str]:
    """Run ``exchange log verify --jobs J``; seconds and its ok line."""
    started = time.perf_counter()
    done = subprocess.run(
        [EXCHANGE, "log", "verify", "--jobs", str(jobs), "--progress-every", "30"],
        env=store.env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.startswith("ok: "):
        raise SystemExit(f"log verify failed: {done.stdout}{done.stderr}")
    return seconds, done.stdout.splitlines()[0]


def floors(store: Store, sample: int) -> tuple[float, float, float]:
    """Leaf hashes/s over stored entries, and the signature checks of stored messages as the
    verifier makes them and as two verifications, each per entry and in one process.
    """
    with store.engine.connect() as connection:
        entries = [
            bytes(e) for e in connection.execute(select(LogEntry.entry).limit(sample)).scalars()
        ]
        messages = connection.execute(
            select(Message.signature, Message.receipt, Message.sealed_envelope, Message.id).limit(
                max(1, sample // 20)
            )
        ).all()
    started = time.perf_counter()
    for entry in entries:
        hashlib.sha256(b"\x00" + entry).digest()
    hashing = len(entries) / (time.perf_counter() - started)
    trust = HubTrust.load(store.home / "keys")
    partner = static_resolver({store.kid: store.key.public_key})
    plain = [trust.sealing.open(m.sealed_envelope, aad=m.id.encode()) for m in messages]
    as_made = {k.kid: k.signing_key.checker() for k in trust.hub_keys}
    as_verified = {k.kid: k.signing_key.public_key for k in trust.hub_keys}
    rates = []
    for hub_keys in (as_made, as_verified):
        hub = static_resolver(hub_keys)
        started = time.perf_counter()
        for message, envelope in zip(messages, plain, strict=True):
            jws.verify_detached(message.signature, envelope, partner, typ=MESSAGE_TYP)
            jws.verify_compact(message.receipt, hub, typ=RECEIPT_TYP)
        # Two entries a message: entries/s the checks alone allow.
        rates.append(2 * len(messages) / (time.perf_counter() - started))
    return hashing, rates[0], rates[1]


def main(argv: Sequence[str] | None = None) -> None:
    """Fill to each size, measure each job count, print one table row each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--name", default="exchange_bench_verify", help="the PostgreSQL database")
    parser.add_argument("--sizes", default="100000,1000000", help="log sizes, comma-separated")
    parser.add_argument("--jobs", default="1,2", help="--jobs values to measure")
    parser.add_argument("--fill-jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    job_counts = [int(j) for j in args.jobs.split(",")]
    store = Store(args.database, args.name)
    print(f"log verify on {args.database}, {os.cpu_count()} CPUs; the store filled directly\n")
    print(
        "| entries | fill s | floor: leaf hashes/s | floor: entries/s of the signature checks "
        "| (as two verifications) | jobs | verify s | entries/s | ÷ hash floor "
        "| ÷ (signature floor × jobs) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        for target in sizes:
            filled = fill(store, target, args.fill_jobs)
            if args.database == "postgresql":
                with store.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            size = store.size()
            hashing, signing, verifying = floors(store, min(size, 200_000))
            for jobs in job_counts:
                seconds, line = verify(store, jobs)
                assert line.startswith(f"ok: {size} entries"), line
                rate = size / seconds
                print(
                    f"| {size:,} | {filled:.0f} | {hashing:,.0f} | {signing:,.0f} | "
                    f"{verifying:,.0f} | {jobs} | "
                    f"{seconds:.1f} | {rate:,.0f} | {rate / hashing:.3f} | "
                    f"{rate / (signing * jobs):.2f} |",
                    flush=True,
                )
                filled = 0.0
        print(f"\nlast verify: {line}")
    finally:
        store.remove()


if __name__ == "__main__":
    main()
