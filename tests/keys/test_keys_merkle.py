"""Merkle hashing and proofs: the Certificate Transparency reference tree and properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import (
    CompactTree,
    ProofInvalid,
    consistency_path,
    consistency_proof,
    fold_subtrees,
    inclusion_path,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The 8-leaf reference tree, its roots and proofs come from the Certificate Transparency
# reference test data (certificate-transparency merkle tree tests, as carried by
# google/trillian merkle/testonly and transparency-dev/merkle testonly/constants.go).
# Leaf indices here are 0-based; those sources number some leaves from 1.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H = {
    "6e34": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f08": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca85": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37e": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "fac5": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "0ebc": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
}
INCLUSION = [  # (index, tree size, proof)
    (0, 1, []),
    (0, 8, ["96a2", "5f08", "6b47"]),
    (5, 8, ["bc1a", "ca85", "d37e"]),
    (2, 3, ["fac5"]),
    (1, 5, ["6e34", "5f08", "bc1a"]),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (1, 8, ["96a2", "5f08", "6b47"]),
    (6, 8, ["0ebc", "ca85", "d37e"]),
    (2, 5, ["5f08", "bc1a"]),
]
HASHES = [leaf_hash(entry) for entry in LEAVES]


def hexes(names: list[str]) -> list[bytes]:
    return [bytes.fromhex(H[name]) for name in names]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_hash_domains() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"") == bytes.fromhex(ROOTS[0])
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


def test_empty_tree_root() -> None:
    assert root_hash([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    assert root_hash(HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    assert inclusion_proof(HASHES[:size], index) == hexes(proof)
    verify_inclusion(HASHES[index], index, size, hexes(proof), bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_reference_consistency_proofs(first: int, second: int, proof: list[str]) -> None:
    assert consistency_proof(HASHES, first, second) == hexes(proof)
    verify_consistency(
        first,
        second,
        bytes.fromhex(ROOTS[first - 1]),
        bytes.fromhex(ROOTS[second - 1]),
        hexes(proof),
    )


def test_reference_proofs_refused_with_wrong_inputs() -> None:
    proof = hexes(["bc1a", "ca85", "d37e"])
    root = bytes.fromhex(ROOTS[7])
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[4], 5, 8, proof, root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[5], 4, 8, proof, root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[5], 5, 7, proof, bytes.fromhex(ROOTS[6]))
    with pytest.raises(ProofInvalid):
        verify_consistency(6, 8, bytes.fromhex(ROOTS[4]), root, hexes(["0ebc", "ca85", "d37e"]))


def test_edge_cases_of_consistency() -> None:
    root = root_hash(HASHES)
    empty = root_hash([])
    verify_consistency(8, 8, root, root, [])
    verify_consistency(0, 8, empty, root, [])
    verify_consistency(0, 0, empty, empty, [])
    assert consistency_proof(HASHES, 0, 8) == []
    with pytest.raises(ProofInvalid):
        verify_consistency(8, 8, root, bytes.fromhex(ROOTS[6]), [])
    with pytest.raises(ProofInvalid):
        verify_consistency(8, 8, root, root, [root])
    with pytest.raises(ProofInvalid):
        verify_consistency(0, 8, root, root, [])
    with pytest.raises(ProofInvalid):
        verify_consistency(3, 2, root, root, [root])
    with pytest.raises(ProofInvalid):
        verify_consistency(2, 5, bytes.fromhex(ROOTS[1]), bytes.fromhex(ROOTS[4]), [])


def test_edge_cases_of_inclusion() -> None:
    root = root_hash(HASHES)
    for index, size in ((8, 8), (-1, 8), (0, 0)):
        with pytest.raises(ProofInvalid):
            verify_inclusion(HASHES[0], index, size, [], root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[0], 0, 8, hexes(["96a2", "5f08"]), root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[0], 0, 8, [*hexes(["96a2", "5f08", "6b47"]), root], root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[0], 0, 8, [b"short"], root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(HASHES[0][:31], 0, 1, [], root)


def test_generators_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(HASHES, 8)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)
    with pytest.raises(ValueError):
        consistency_proof(HASHES, 5, 4)
    with pytest.raises(ValueError):
        consistency_proof(HASHES, 1, 9)
    with pytest.raises(ValueError):
        root_hash([b"x"])


# --- properties ------------------------------------------------------------------------------

# Distinct entries: with duplicate leaves a proof may legitimately fit two positions.
trees = st.integers(1, 70).flatmap(
    lambda n: st.binary(max_size=8).map(
        lambda salt: [leaf_hash(salt + i.to_bytes(2, "big")) for i in range(n)]
    )
)


@given(trees, st.data())
def test_every_inclusion_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    tree = leaves[:size]
    verify_inclusion(tree[index], index, size, inclusion_proof(tree, index), root_hash(tree))


@given(trees, st.data())
def test_every_consistency_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    second = data.draw(st.integers(0, len(leaves)))
    first = data.draw(st.integers(0, second))
    proof = consistency_proof(leaves, first, second)
    verify_consistency(first, second, root_hash(leaves[:first]), root_hash(leaves[:second]), proof)


@given(trees, st.data())
def test_changed_inclusion_inputs_refused(leaves: list[bytes], data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    tree = leaves[:size]
    proof = inclusion_proof(tree, index)
    root = root_hash(tree)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof]
        bad[which] = flip(bad[which], data.draw(st.integers(0, 255)))
        with pytest.raises(ProofInvalid):
            verify_inclusion(tree[index], index, size, bad, root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(
            tree[index], index, size, proof, flip(root, data.draw(st.integers(0, 255)))
        )
    with pytest.raises(ProofInvalid):
        verify_inclusion(flip(tree[index], 0), index, size, proof, root)
    other_index = data.draw(st.integers(-1, size).filter(lambda i: i != index))
    with pytest.raises(ProofInvalid):
        verify_inclusion(tree[index], other_index, size, proof, root)
    # A changed size is checked against that size's honest root, as a signed checkpoint pairs
    # them: RFC 9162 §2.1.3.2 alone does not bind the size (index 0 has the same path length
    # in trees of 3 and 4 leaves).
    other_size = data.draw(st.integers(0, len(leaves)).filter(lambda s: s != size))
    with pytest.raises(ProofInvalid):
        verify_inclusion(tree[index], index, other_size, proof, root_hash(leaves[:other_size]))


@given(trees.filter(lambda leaves: len(leaves) > 1), st.data())
def test_changed_consistency_inputs_refused(leaves: list[bytes], data: st.DataObject) -> None:
    second = data.draw(st.integers(2, len(leaves)))
    first = data.draw(st.integers(1, second - 1))
    proof = consistency_proof(leaves, first, second)
    first_root, second_root = root_hash(leaves[:first]), root_hash(leaves[:second])
    which = data.draw(st.integers(0, len(proof) - 1))
    bad = [*proof]
    bad[which] = flip(bad[which], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofInvalid):
        verify_consistency(first, second, first_root, second_root, bad)
    with pytest.raises(ProofInvalid):
        verify_consistency(first, second, flip(first_root, 7), second_root, proof)
    with pytest.raises(ProofInvalid):
        verify_consistency(first, second, first_root, flip(second_root, 200), proof)
    other_first = data.draw(st.integers(0, second).filter(lambda f: f != first))
    with pytest.raises(ProofInvalid):
        verify_consistency(other_first, second, root_hash(leaves[:other_first]), second_root, proof)
    other_second = data.draw(st.integers(first, len(leaves)).filter(lambda s: s != second))
    with pytest.raises(ProofInvalid):
        verify_consistency(first, other_second, first_root, root_hash(leaves[:other_second]), proof)


# --- the store's view: a compact tree that keeps every interior node -------------------------


@given(trees)
def test_compact_tree_grows_the_reference_tree(leaves: list[bytes]) -> None:
    tree = CompactTree()
    nodes: dict[tuple[int, int], bytes] = {}
    for index, leaf in enumerate(leaves):
        completed = tree.append(leaf)
        # Each completed node is the perfect subtree of size 2, 4, … ending at this leaf.
        for level, node in enumerate(completed, start=1):
            start = index + 1 - (1 << level)
            assert node == root_hash(leaves[start : index + 1])
            nodes[(start, index + 1)] = node
        assert len(completed) == ((index + 1) & -(index + 1)).bit_length() - 1
        assert tree.size == index + 1
        assert tree.root() == root_hash(leaves[: index + 1])
    # Restarting from the stored edge gives the same tree.
    edge = [leaves[a] if b - a == 1 else nodes[(a, b)] for a, b in CompactTree.edge(len(leaves))]
    resumed = CompactTree(len(leaves), edge)
    assert resumed.root() == tree.root()
    extra = leaf_hash(b"one more")
    assert resumed.append(extra) == tree.append(extra)
    assert resumed.root() == tree.root()


@given(trees, st.data())
def test_proof_paths_fold_from_perfect_subtrees(leaves: list[bytes], data: st.DataObject) -> None:
    """Every proof element is a fold of stored perfect subtrees: O(log n) of them in all."""
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(0, size))

    def folded(start: int, end: int) -> bytes:
        parts = perfect_subtrees(start, end)
        for a, b in parts:
            assert a % (b - a) == 0 and (b - a) & (b - a - 1) == 0  # aligned, power of two
        return fold_subtrees([root_hash(leaves[a:b]) for a, b in parts])

    inclusion = inclusion_path(index, size)
    assert [folded(a, b) for a, b in inclusion] == inclusion_proof(leaves, index)
    consistency = consistency_path(first, size)
    assert [folded(a, b) for a, b in consistency] == consistency_proof(leaves, first, size)
    reads = sum(len(perfect_subtrees(a, b)) for a, b in inclusion + consistency)
    assert reads <= 4 * max(size, 2).bit_length()


def test_compact_tree_refuses_a_wrong_edge() -> None:
    with pytest.raises(ValueError):
        CompactTree(3, [leaf_hash(b"a")])
    with pytest.raises(ValueError):
        CompactTree(1, [b"short"])
    with pytest.raises(ValueError):
        perfect_subtrees(4, 4)
    with pytest.raises(ValueError):
        fold_subtrees([])
