"""Merkle tree hashing and proofs of RFC 6962 §2.1 / RFC 9162 §2.1, as pure functions."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from keys.errors import ProofInvalid

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """Hash a log entry as a leaf: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash over leaf hashes; the empty tree hashes to SHA-256("")."""
    _check_hashes(leaves)
    if not leaves:
        return EMPTY_ROOT
    return _subtree_hash(leaves, 0, len(leaves))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path of leaf index in the tree over leaf_hashes (RFC 9162 §2.1.3.1)."""
    _check_hashes(leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise ValueError("index outside the tree")
    return [_subtree_hash(leaf_hashes, a, b) for a, b in inclusion_path(index, len(leaf_hashes))]


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """Return the proof that the tree of size first is a prefix of size second (§2.1.4.1)."""
    _check_hashes(leaf_hashes)
    if not 0 <= first <= second <= len(leaf_hashes):
        raise ValueError("need 0 <= first <= second <= number of leaves")
    return [_subtree_hash(leaf_hashes, a, b) for a, b in consistency_path(first, second)]


def inclusion_path(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[start, end)`` whose tree hashes make the audit path, leaf first."""
    if not 0 <= index < tree_size:
        raise ValueError("index outside the tree")
    path: list[tuple[int, int]] = []
    start, end = 0, tree_size
    # Walk down from the root; each step records the sibling subtree.
    while end - start > 1:
        split = start + _largest_power_of_two_below(end - start)
        if index < split:
            path.append((split, end))
            end = split
        else:
            path.append((start, split))
            start = split
    path.reverse()
    return path


def consistency_path(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose tree hashes make the consistency proof from first to second."""
    if not 0 <= first <= second:
        raise ValueError("need 0 <= first <= second")
    if first in (0, second):
        return []
    return _subproof_path(first, 0, second, True)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into the aligned perfect subtrees whose hashes fold into its tree
    hash, left to right (for the ranges proofs use, whose start is aligned to their split).
    """
    if not 0 <= start < end:
        raise ValueError("need 0 <= start < end")
    parts: list[tuple[int, int]] = []
    while start < end:
        size = _largest_power_of_two_below(end - start + 1)
        while start % size:
            size >>= 1
        parts.append((start, start + size))
        start += size
    return parts


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """The tree hash of a range from its perfect subtrees' hashes, left to right (§2.1.1:
    each split puts the largest power of two on the left).
    """
    if not hashes:
        raise ValueError("no subtrees")
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


class CompactTree:
    """The right edge of a growing tree: one hash per perfect subtree of its size's binary form.

    Appending a leaf returns the perfect subtrees it completes (sizes 2, 4, 8, …), so that a
    store can keep every interior node and answer any root or proof in O(log n) reads.
    """

    def __init__(self, size: int = 0, subtrees: Sequence[bytes] = ()) -> None:
        if size < 0 or len(subtrees) != size.bit_count():
            raise ValueError("a tree of this size has one subtree per set bit of its size")
        _check_hashes(subtrees)
        self.size = size
        self._subtrees = list(subtrees)

    @staticmethod
    def edge(size: int) -> list[tuple[int, int]]:
        """The perfect subtrees ``[start, end)`` of a tree of ``size`` leaves, left to right."""
        return perfect_subtrees(0, size) if size else []

    def append(self, leaf: bytes) -> list[bytes]:
        """Add a leaf hash; return the hashes of the perfect subtrees it completes, smallest
        first (size 2 first).
        """
        _check_hashes([leaf])
        completed: list[bytes] = []
        node, index = leaf, self.size
        while index & 1:
            node = node_hash(self._subtrees.pop(), node)
            completed.append(node)
            index >>= 1
        self._subtrees.append(node)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """The tree hash of the leaves so far."""
        return fold_subtrees(self._subtrees) if self._subtrees else EMPTY_ROOT


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Return if proof shows leaf_hash at index in the tree with this root; else raise."""
    _check_proof_hashes([leaf_hash, root, *proof])
    if not 0 <= index < tree_size:
        raise ProofInvalid("index outside the tree")
    # RFC 9162 §2.1.3.2.
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofInvalid("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("inclusion proof too short")
    if not hmac.compare_digest(r, root):
        raise ProofInvalid("inclusion proof does not lead to the root")


def verify_consistency(  # noqa: C901 (RFC 9162 §2.1.4.2, step for step)
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Return if proof shows the tree of size first is a prefix of size second; else raise."""
    _check_proof_hashes([first_root, second_root, *proof])
    if not 0 <= first <= second:
        raise ProofInvalid("need 0 <= first <= second")
    if first == second:
        if proof or not hmac.compare_digest(first_root, second_root):
            raise ProofInvalid("equal sizes need equal roots and an empty proof")
        return
    if first == 0:
        # Every tree extends the empty one; RFC 9162 defines no proof for it.
        if proof or not hmac.compare_digest(first_root, EMPTY_ROOT):
            raise ProofInvalid("the empty tree needs the empty root and an empty proof")
        return
    # RFC 9162 §2.1.4.2.
    if not proof:
        raise ProofInvalid("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofInvalid("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("consistency proof too short")
    if not (hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)):
        raise ProofInvalid("consistency proof does not lead to the roots")


def _largest_power_of_two_below(n: int) -> int:
    # The k of RFC 9162 §2.1.1: the largest power of two strictly smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_hash(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    split = start + _largest_power_of_two_below(end - start)
    return node_hash(_subtree_hash(leaves, start, split), _subtree_hash(leaves, split, end))


def _subproof_path(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    # SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1, as ranges.
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof_path(m, start, start + k, complete), (start + k, end)]
    return [*_subproof_path(m - k, start + k, end, False), (start, start + k)]


def _check_hashes(hashes: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError("every leaf hash must be 32 bytes")


def _check_proof_hashes(hashes: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofInvalid("every hash must be 32 bytes")
