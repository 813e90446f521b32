"""The stored Merkle tree of the log (RFC 6962 §2.1): each entry row keeps its leaf hash and
the hashes of the perfect subtrees it completes, so the root of any size and every proof are
folds of O(log n) stored hashes, read in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select, text

from exchange.errors import BadRequest, ExchangeError
from exchange.store.models import LogEntry
from keys.merkle import (
    HASH_SIZE,
    CompactTree,
    consistency_path,
    fold_subtrees,
    inclusion_path,
    perfect_subtrees,
)

ENTRIES = cast(Table, LogEntry.__table__)
NEXT_INDEX = select(func.coalesce(func.max(ENTRIES.c.idx) + 1, 0).label("size"))
# The right edge of the tree: for each set bit k of the size n, the perfect subtree of 2^k
# leaves that ends at index ((n >> k) << k) - 1 (its hash is on that row, at level k).
EDGE = text(
    "WITH RECURSIVE head(n) AS (SELECT coalesce(max(idx) + 1, 0) FROM log_entries), "
    "levels(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM levels WHERE k < 62) "
    "SELECT levels.k, e.leaf_hash, e.nodes FROM head CROSS JOIN levels "
    "JOIN log_entries e ON e.idx = ((head.n >> levels.k) << levels.k) - 1 "
    "WHERE (head.n >> levels.k) & 1 = 1 ORDER BY levels.k DESC"
)


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


class LogCorrupt(ExchangeError):
    """The stored log does not hold what its structure requires (a gap, a missing hash)."""


class ProofOutOfRange(BadRequest):
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
