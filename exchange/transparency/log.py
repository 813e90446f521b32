"""The transparency log (PROTOCOL §6): dense JCS entries, stored interior hashes, checkpoints.

Each entry row keeps its leaf hash and the hashes of the perfect subtrees it completes, so
the root of any size and every proof are folds of O(log n) stored hashes, read in one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.orm import Session

from exchange.store.models import Checkpoint, LogEntry
from keys.merkle import (
    HASH_SIZE,
    CompactTree,
    consistency_path,
    fold_subtrees,
    inclusion_path,
    leaf_hash,
    perfect_subtrees,
)
from schemas import canonical_bytes

CHECKPOINT_TYP = "exchange-checkpoint+jws"
# PROTOCOL §6: a checkpoint at least every 1,000 entries (or 60 s: see ``checkpoint_due``).
CHECKPOINT_EVERY = 1000
CHECKPOINT_MAX_AGE_SECONDS = 60

ENTRIES = cast(Table, LogEntry.__table__)
CHECKPOINTS = cast(Table, Checkpoint.__table__)
NEXT_INDEX = select(func.coalesce(func.max(ENTRIES.c.idx) + 1, 0))
# The right edge of the tree: for each set bit k of the size n, the perfect subtree of 2^k
# leaves that ends at index ((n >> k) << k) - 1 (its hash is on that row, at level k).
EDGE = text(
    "WITH RECURSIVE head(n) AS (SELECT coalesce(max(idx) + 1, 0) FROM log_entries), "
    "levels(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM levels WHERE k < 62) "
    "SELECT levels.k, e.leaf_hash, e.nodes FROM head CROSS JOIN levels "
    "JOIN log_entries e ON e.idx = ((head.n >> levels.k) << levels.k) - 1 "
    "WHERE (head.n >> levels.k) & 1 = 1 ORDER BY levels.k DESC"
)
# Any constant: the key of the PostgreSQL advisory lock that serialises appends.
LOG_LOCK_KEY = 0x65786368  # "exch"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, the form every log entry and receipt uses."""
    return moment.isoformat().replace("+00:00", "Z")


def subtree_hash(level: int, leaf: bytes, nodes: bytes) -> bytes:
    """The hash of the perfect subtree of 2^level leaves ending at a row (level 0: the leaf)."""
    if level == 0:
        return leaf
    node = nodes[(level - 1) * HASH_SIZE : level * HASH_SIZE]
    if len(node) != HASH_SIZE:
        raise LogCorrupt(f"an entry lacks the interior hash of level {level}")
    return node


def edge_tree(size: int, rows: Iterable[Any]) -> CompactTree:
    """The compact tree of ``size`` leaves from the rows of ``EDGE`` (level, leaf, nodes)."""
    return CompactTree(size, [subtree_hash(level, leaf, nodes) for level, leaf, nodes in rows])


class LogCorrupt(Exception):
    """The stored log does not hold what its structure requires (a gap, a missing hash)."""


@dataclass(frozen=True)
class Notary:
    """Signs checkpoints with the hub's key: ``sign(payload, typ)`` returns a JWS compact."""

    origin: str
    sign: Callable[[bytes, str], str]

    def checkpoint(self, tree_size: int, root: bytes, now: datetime) -> dict[str, Any]:
        """A checkpoint row for this tree head, signed now."""
        payload = {
            "origin": self.origin,
            "tree_size": tree_size,
            "root_hash": root.hex(),
            "issued_at": format_time(now),
        }
        return {
            "tree_size": tree_size,
            "root_hash": root,
            "issued_at": now,
            "signed": self.sign(canonical_bytes(payload), CHECKPOINT_TYP),
        }


class LogAppender:
    """Collects the entries of one transaction, from the locked head on."""

    def __init__(self, tree: CompactTree, notary: Notary | None = None) -> None:
        self.tree = tree
        self.first_index = tree.size
        self.notary = notary
        self.rows: list[dict[str, Any]] = []

    @property
    def next_index(self) -> int:
        """The index the next entry gets."""
        return self.tree.size

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        message_id: str | None = None,
        **fields: Any,
    ) -> int:
        """Add one entry (ids and digests only, never payload text); return its index."""
        index = self.tree.size
        entry: dict[str, Any] = {
            "index": index,
            "at": format_time(at),
            "actor": actor,
            "action": action,
        }
        if message_id is not None:
            entry["message_id"] = message_id
        entry.update({k: v for k, v in fields.items() if v is not None})
        entry_bytes = canonical_bytes(entry)
        leaf = leaf_hash(entry_bytes)
        self.rows.append(
            {
                "idx": index,
                "at": at,
                "actor": actor,
                "action": action,
                "message_id": message_id,
                "entry": entry_bytes,
                "leaf_hash": leaf,
                "nodes": b"".join(self.tree.append(leaf)),
            }
        )
        return index

    def checkpoint_row(self, now: datetime) -> dict[str, Any] | None:
        """A signed checkpoint when this transaction crossed a multiple of 1,000 entries."""
        if self.notary is None or self.first_index // CHECKPOINT_EVERY == (
            self.tree.size // CHECKPOINT_EVERY
        ):
            return None
        return self.notary.checkpoint(self.tree.size, self.tree.root(), now)


def open_log(session: Session) -> LogAppender:
    """Take the log lock for the rest of the caller's transaction; return an appender.

    Every writer waits its turn, so indices are dense and assigned in commit order. On
    PostgreSQL the lock is a transaction-scoped advisory lock (a fair queue, unlike a hot
    row's ``FOR UPDATE``, whose waiters all wake at each commit); SQLite already serialises
    writers (BEGIN IMMEDIATE). Under the lock, the log's size is ``max(index) + 1``. The
    session's ``info["notary"]`` (set by the hub) signs the checkpoints that are due.
    Call ``close_log`` before the transaction commits.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY})
    size = connection.execute(NEXT_INDEX).scalar_one()
    tree = edge_tree(size, connection.execute(EDGE))
    return LogAppender(tree, session.info.get("notary"))


def close_log(session: Session, appender: LogAppender, now: datetime) -> None:
    """Write the collected entries, and a checkpoint if one is due."""
    if appender.rows:
        connection = session.connection()
        connection.execute(ENTRIES.insert(), appender.rows)
        appender.rows = []
        checkpoint = appender.checkpoint_row(now)
        if checkpoint is not None:
            connection.execute(CHECKPOINTS.insert(), [checkpoint])


def append_one(session: Session, **entry: Any) -> int:
    """Lock, append one entry: for the rare events outside the intake path."""
    appender = open_log(session)
    index = appender.append(**entry)
    close_log(session, appender, entry["at"])
    return index


class ProofOutOfRange(ValueError):
    """A proof or root asked for a size or index the log does not have."""


class StoredTree:
    """Reads the stored tree: size, entries, roots and proofs, each in O(log n) row reads."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def size(self) -> int:
        """Entries committed so far (indices are assigned in commit order: no holes below)."""
        return int(self.connection.execute(NEXT_INDEX).scalar_one())

    def entry(self, index: int) -> Any:
        """The row of entry ``index``, or None."""
        return self.connection.execute(
            select(ENTRIES.c.idx, ENTRIES.c.entry, ENTRIES.c.leaf_hash).where(
                ENTRIES.c.idx == index
            )
        ).first()

    def root(self, size: int) -> bytes:
        """The tree hash over entries ``0..size-1``."""
        self._check_size(size)
        if size == 0:
            return CompactTree().root()
        return self._fold([(0, size)])[0]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """The audit path of entry ``index`` in the tree of ``size`` entries."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofOutOfRange("index must be below tree_size")
        return self._fold(inclusion_path(index, size))

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of ``first`` entries is a prefix of ``second``."""
        self._check_size(second)
        if not 0 <= first <= second:
            raise ProofOutOfRange("need 0 <= first <= second")
        return self._fold(consistency_path(first, second))

    def _check_size(self, size: int) -> None:
        if size < 0 or size > self.size():
            raise ProofOutOfRange("tree_size is larger than the log")

    def _fold(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        # One query for every perfect subtree the ranges need, then a fold per range.
        parts = {r: perfect_subtrees(*r) for r in ranges}
        rows = {
            row.idx: row
            for row in self.connection.execute(
                select(ENTRIES.c.idx, ENTRIES.c.leaf_hash, ENTRIES.c.nodes).where(
                    ENTRIES.c.idx.in_({end - 1 for p in parts.values() for _, end in p})
                )
            )
        }
        folded = []
        for r in ranges:
            hashes = []
            for start, end in parts[r]:
                row = rows.get(end - 1)
                if row is None:
                    raise LogCorrupt(f"entry {end - 1} is missing")
                level = (end - start).bit_length() - 1
                hashes.append(subtree_hash(level, row.leaf_hash, row.nodes))
            folded.append(fold_subtrees(hashes))
        return folded


def latest_checkpoint(connection: Connection) -> Any:
    """The newest checkpoint row, or None."""
    return connection.execute(
        select(CHECKPOINTS).order_by(CHECKPOINTS.c.tree_size.desc()).limit(1)
    ).first()


def sign_checkpoint(session: Session, notary: Notary, now: datetime) -> Any:
    """Sign a checkpoint of the log as it is now, unless the newest already covers it."""
    appender = open_log(session)
    connection = session.connection()
    newest = latest_checkpoint(connection)
    if newest is not None and newest.tree_size == appender.tree.size:
        return newest
    row = notary.checkpoint(appender.tree.size, appender.tree.root(), now)
    connection.execute(CHECKPOINTS.insert(), [row])
    return latest_checkpoint(connection)


def checkpoint_due(connection: Connection, now: datetime) -> bool:
    """Whether the log has grown since the newest checkpoint and that one is 60 s old."""
    newest = latest_checkpoint(connection)
    size = StoredTree(connection).size()
    if newest is None:
        return size > 0
    age = (now - newest.issued_at).total_seconds()
    return bool(size > newest.tree_size and age >= CHECKPOINT_MAX_AGE_SECONDS)
