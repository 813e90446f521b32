"""One job of the parallel ``log verify``: the checks of ``checks`` over one index range.

A range starts from the tree its first entry extends, rebuilt from the hashes stored on the
rows before it (RFC 6962 §2.1: one perfect subtree per set bit of its start). Those rows belong
to earlier ranges, which check them; so when every range before this one passes, this one
started from the true tree, and its first failure is the one a single pass would report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from exchange.store.db import make_engine
from exchange.transparency.checks import (
    IntegrityFailure,
    Logged,
    MessageKeys,
    check_checkpoint,
    check_clear_columns,
    check_entry,
    check_message,
    received_by,
)
from exchange.transparency.stream import CHUNK, entry_rows, messages_named
from exchange.transparency.tree import ENTRIES, LogCorrupt, subtree_hash
from exchange.trust.hub_keys import HubTrust
from keys.merkle import CompactTree


@dataclass(frozen=True)
class CheckpointClaim:
    """A checkpoint row as the jobs get it (a plain, picklable copy)."""

    tree_size: int
    root_hash: bytes
    signed: str


@dataclass(frozen=True)
class RangeJob:
    """Entries ``start..end-1`` of a log of ``size``; the checkpoints of sizes in
    ``start+1..end``; ``since``, the size of the checkpoint before them.
    """

    start: int
    end: int
    size: int
    since: int
    checkpoints: tuple[CheckpointClaim, ...]


@dataclass(frozen=True)
class RangeResult:
    """A range's first entry or checkpoint failure; its first message failure; the messages
    found at the index of a received entry that names them, and those of them that passed;
    the newest checkpoint that passed (0: none) and the root at its end.
    """

    entry_failure: IntegrityFailure | None
    message_failure: IntegrityFailure | None
    matched: int
    messages: int
    verified_checkpoint: int
    root: bytes


@contextmanager
def snapshot(database_url: str) -> Iterator[Connection]:
    """A read-only connection in one transaction (one snapshot: REPEATABLE READ on
    PostgreSQL, a deferred read transaction in WAL on SQLite).
    """
    engine = make_engine(database_url, readonly=True)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection
    finally:
        engine.dispose()


def stored_tree(connection: Connection, size: int) -> CompactTree:
    """The compact tree of the first ``size`` entries from their stored hashes (unchecked:
    what the rows say); ``LogCorrupt`` when a row it needs is missing or short.
    """
    parts = CompactTree.edge(size)
    ends = [end - 1 for _, end in parts]
    rows = {
        row.idx: row
        for row in connection.execute(
            select(ENTRIES.c.idx, ENTRIES.c.leaf_hash, ENTRIES.c.nodes).where(
                ENTRIES.c.idx.in_(ends)
            )
        )
    }
    hashes = []
    for start, end in parts:
        row = rows.get(end - 1)
        if row is None:
            raise LogCorrupt(f"entry {end - 1} is missing")
        level = (end - start).bit_length() - 1
        hashes.append(bytes(subtree_hash(level, bytes(row.leaf_hash), bytes(row.nodes))))
    try:
        return CompactTree(size, hashes)
    except ValueError:
        raise LogCorrupt("a stored hash is not 32 bytes") from None


def verify_range(
    job: RangeJob, database_url: str, trust: HubTrust, progress: Callable[[int], None]
) -> RangeResult:
    """Run every check of one range in its own snapshot; ``progress(n)`` after each chunk."""
    with snapshot(database_url) as connection:
        keys = MessageKeys.load(connection, trust)
        try:
            tree = stored_tree(connection, job.start)
        except LogCorrupt as corrupt:
            # Only reported when no earlier range fails, and an earlier range holds that row.
            failure = IntegrityFailure(job.start, f"cannot start here: {corrupt}")
            return RangeResult(failure, None, 0, 0, 0, b"")
        return _RangeCheck(job, tree, keys).run(connection, progress)


class _RangeCheck:
    """The state of one range's pass: the tree, the checkpoints due, the received entries
    whose messages are still to check.
    """

    def __init__(self, job: RangeJob, tree: CompactTree, keys: MessageKeys) -> None:
        self.job, self.tree, self.keys = job, tree, keys
        self.dues = iter(job.checkpoints)
        self.due = next(self.dues, None)
        self.since = job.since
        self.verified = 0
        self.received: list[tuple[str, Logged]] = []
        self.matched = 0
        self.messages = 0
        self.message_failure: IntegrityFailure | None = None

    def run(self, connection: Connection, progress: Callable[[int], None]) -> RangeResult:
        job = self.job
        done = 0
        try:
            for index, entry_bytes, stored_leaf, stored_nodes, *clear in entry_rows(
                connection, job.start, job.end
            ):
                entry = check_entry(self.tree, index, entry_bytes, stored_leaf, stored_nodes)
                check_clear_columns(index, entry, *clear)
                self._checkpoints_due()
                if (named := received_by(entry)) is not None:
                    self.received.append(named)
                done += 1
                if done == CHUNK:
                    self._check_messages(connection)
                    progress(done)
                    done = 0
            if self.tree.size < job.end:
                raise IntegrityFailure(self.tree.size, _missing(connection, self.tree.size))
        except IntegrityFailure as failure:
            return RangeResult(failure, None, 0, 0, self.verified, b"")
        self._check_messages(connection)
        progress(done)
        return RangeResult(
            None,
            self.message_failure,
            self.matched,
            self.messages,
            self.verified,
            self.tree.root(),
        )

    def _checkpoints_due(self) -> None:
        while self.due is not None and self.due.tree_size == self.tree.size:
            check_checkpoint(self.due, self.tree.root(), self.keys.hub, self.since)
            self.since = self.verified = self.tree.size
            self.due = next(self.dues, None)

    def _check_messages(self, connection: Connection) -> None:
        # Each message at the index of a received entry that names it, in index order; a
        # message at any other index, and one named again later, are found across ranges
        # (parallel.py), as is a message no received entry names.
        received, self.received = self.received, []
        found = messages_named(connection, [message_id for message_id, _ in received])
        for message_id, logged in received:
            message = found.get(message_id)
            if message is None or message.log_index != logged[0]:
                continue
            self.matched += 1
            if self.message_failure is not None:
                continue
            try:
                check_message(message, logged, self.job.size, self.keys)
            except IntegrityFailure as failure:
                self.message_failure = failure
            else:
                self.messages += 1


def _missing(connection: Connection, index: int) -> str:
    following = connection.execute(
        select(func.min(ENTRIES.c.idx)).where(ENTRIES.c.idx >= index)
    ).scalar()
    return f"entry missing (the next stored index is {following})"
