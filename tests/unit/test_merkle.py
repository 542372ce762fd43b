"""service/audit/merkle.py against an independent reference, published vectors and forgeries.

The reference (tests/merkle_reference.py) is written from RFC 9162's recursive definitions
as straight recursion over the leaf list, with its own hashing; it shares nothing with the
service's iterative code but the RFC. Its verifiers undo the same recursions, so a proof the
service makes must (a) equal the reference's byte for byte, (b) verify with the reference and
(c) verify with the service's RFC §2.1.3.2 / §2.1.4.2 code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.audit.chain import GENESIS_HASH, canonical_body, entry_hash
from service.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemorySubtreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_index,
    node_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle_reference import (
    Reference,
    reference_root_from_path,
    reference_verifies_consistency,
)

VECTORS = Path(__file__).parent / "vectors" / "transparency_dev_merkle_probes.json"
MAX_SIZE = 1000
EXHAUSTIVE_SIZE = 64


# --- trees under test ------------------------------------------------------------------------


def entries_of(size: int, salt: bytes = b"") -> list[bytes]:
    """Distinct entries, so no proof can verify at another leaf by coincidence."""
    return [salt + f"entry {i}".encode() for i in range(size)]


@cache
def _big_tree() -> tuple[MemorySubtreeHashes, Reference]:
    """One tree of MAX_SIZE leaves: a smaller size is a prefix, its proofs read the same store."""
    entries = entries_of(MAX_SIZE)
    store = MemorySubtreeHashes(leaf_hash(entry) for entry in entries)
    return store, Reference(entries)


def _check_inclusion(store: MemorySubtreeHashes, ref: Reference, m: int, n: int) -> None:
    proof = inclusion_proof(store, index=m, tree_size=n)
    leaf = leaf_hash(ref.entries[m])
    root = ref.root(n)
    assert proof == ref.inclusion(m, n)
    assert reference_root_from_path(leaf, m, n, proof) == root
    assert verify_inclusion(leaf=leaf, index=m, tree_size=n, proof=proof, root=root)


def _check_consistency(store: MemorySubtreeHashes, ref: Reference, m: int, n: int) -> None:
    proof = consistency_proof(store, first=m, second=n)
    first_root, second_root = ref.root(m), ref.root(n)
    assert proof == ref.consistency(m, n)
    assert reference_verifies_consistency(m, n, proof, first_root, second_root)
    assert verify_consistency(
        first=m, second=n, first_root=first_root, second_root=second_root, proof=proof
    )


# --- roots -----------------------------------------------------------------------------------


def test_the_empty_tree_has_the_hash_of_the_empty_string_as_its_root() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert root_at(MemorySubtreeHashes(), 0) == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated_as_rfc_9162_says() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


def test_the_root_after_every_append_matches_the_reference_for_every_size_to_1000() -> None:
    store, ref = _big_tree()
    compact = CompactRange()
    for n, entry in enumerate(ref.entries, start=1):
        compact.append(leaf_hash(entry))
        assert compact.root() == ref.root(n), n
    assert store.root() == ref.root(MAX_SIZE)


def test_a_past_root_is_read_from_the_stored_subtrees_for_every_size_to_1000() -> None:
    store, ref = _big_tree()
    for n in range(MAX_SIZE + 1):
        assert root_at(store, n) == ref.root(n), n


def test_a_compact_range_rebuilt_from_stored_subtrees_carries_on_like_the_original() -> None:
    store, ref = _big_tree()
    for size in (0, 1, 2, 3, 7, 8, 500, 999):
        rebuilt = CompactRange.from_subtrees(store, size)
        assert rebuilt.size == size
        assert rebuilt.root() == ref.root(size)
        rebuilt.append(leaf_hash(ref.entries[size]))
        assert rebuilt.root() == ref.root(size + 1)


def test_each_append_reports_exactly_the_perfect_subtrees_it_completed() -> None:
    _, ref = _big_tree()
    compact = CompactRange()
    for i in range(64):
        completed = compact.append(leaf_hash(ref.entries[i]))
        # Leaf i completes one subtree per trailing one bit of i, plus the leaf itself.
        trailing_ones = len(bin(i)) - len(bin(i).rstrip("1")) if i else 0
        assert len(completed) == 1 + trailing_ones
        for level, index, digest in completed:
            start = index << level
            assert start + (1 << level) == i + 1
            assert digest == ref.mth(start, start + (1 << level))


def test_the_store_holds_two_hashes_per_leaf_less_the_bits_of_the_size() -> None:
    store, _ = _big_tree()
    assert store.stored() == 2 * MAX_SIZE - bin(MAX_SIZE).count("1")
    assert len(CompactRange.from_subtrees(store, MAX_SIZE).hashes) == bin(MAX_SIZE).count("1")


def test_a_leaf_hash_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"short")


def test_a_subtree_the_store_never_completed_is_a_lookup_error() -> None:
    store = MemorySubtreeHashes(leaf_hash(e) for e in entries_of(3))
    assert store.hash_of(1, 0) == node_hash(store.hash_of(0, 0), store.hash_of(0, 1))
    for level, index in ((1, 1), (2, 0), (0, 3), (-1, 0), (0, -1)):
        with pytest.raises(LookupError):
            store.hash_of(level, index)


# --- RFC 6962 / 9162 reference vectors --------------------------------------------------------

# From transparency-dev/merkle testonly/constants.go (LeafInputs, RootHashes), the RFC 6962
# test tree also used by certificate-transparency-go.
RFC6962_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
RFC6962_LEAVES.append("606162636465666768696a6b6c6d6e6f")
RFC6962_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_rfc_6962_test_tree_has_the_published_root_at_every_size() -> None:
    store = MemorySubtreeHashes()
    assert store.root().hex() == RFC6962_ROOTS[0]
    for n, entry in enumerate(RFC6962_LEAVES, start=1):
        store.append(leaf_hash(bytes.fromhex(entry)))
        assert store.root().hex() == RFC6962_ROOTS[n]
    for n in range(len(RFC6962_ROOTS)):
        assert root_at(store, n).hex() == RFC6962_ROOTS[n]


def _probes(kind: str) -> list[dict[str, Any]]:
    probes: list[dict[str, Any]] = json.loads(VECTORS.read_text("utf-8"))[kind]
    return probes


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize("probe", _probes("inclusion"), ids=lambda probe: probe["file"])
def test_transparency_dev_inclusion_probes_verify_exactly_when_they_should(
    probe: dict[str, Any],
) -> None:
    verified = verify_inclusion(
        leaf=_b64(probe["leafHash"]),
        index=probe["leafIdx"],
        tree_size=probe["treeSize"],
        proof=[_b64(p) for p in probe["proof"]],
        root=_b64(probe["root"]),
    )
    assert verified is not probe["wantErr"], probe["desc"]


@pytest.mark.parametrize("probe", _probes("consistency"), ids=lambda probe: probe["file"])
def test_transparency_dev_consistency_probes_verify_exactly_when_they_should(
    probe: dict[str, Any],
) -> None:
    verified = verify_consistency(
        first=probe["size1"],
        second=probe["size2"],
        first_root=_b64(probe["root1"]),
        second_root=_b64(probe["root2"]),
        proof=[_b64(p) for p in probe["proof"]],
    )
    assert verified is not probe["wantErr"], probe["desc"]


def test_the_happy_path_probes_are_the_proofs_the_service_makes_of_the_rfc_6962_tree() -> None:
    store = MemorySubtreeHashes(leaf_hash(bytes.fromhex(entry)) for entry in RFC6962_LEAVES)
    happy = 0
    for probe in _probes("inclusion"):
        if probe["desc"] == "happy path" and probe["treeSize"] <= len(RFC6962_LEAVES):
            proof = inclusion_proof(store, index=probe["leafIdx"], tree_size=probe["treeSize"])
            assert proof == [_b64(p) for p in probe["proof"]]
            happy += 1
    for probe in _probes("consistency"):
        if probe["desc"] == "happy path" and probe["size2"] <= len(RFC6962_LEAVES):
            proof = consistency_proof(store, first=probe["size1"], second=probe["size2"])
            assert proof == [_b64(p) for p in probe["proof"]]
            happy += 1
    assert happy >= 8


# --- proofs against the reference ------------------------------------------------------------


def test_every_inclusion_proof_up_to_64_leaves_matches_the_reference() -> None:
    store, ref = _big_tree()
    for n in range(1, EXHAUSTIVE_SIZE + 1):
        for m in range(n):
            _check_inclusion(store, ref, m, n)


def test_every_consistency_proof_up_to_64_leaves_matches_the_reference() -> None:
    store, ref = _big_tree()
    for n in range(1, EXHAUSTIVE_SIZE + 1):
        for m in range(1, n + 1):
            _check_consistency(store, ref, m, n)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, MAX_SIZE))
    return n, draw(st.integers(0, n - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(1, n)), n


@given(size_and_index())
@example((MAX_SIZE, MAX_SIZE - 1))
@example((MAX_SIZE, 0))
@example((513, 512))
def test_inclusion_proofs_up_to_1000_leaves_match_the_reference(case: tuple[int, int]) -> None:
    n, m = case
    store, ref = _big_tree()
    _check_inclusion(store, ref, m, n)


@given(two_sizes())
@example((1, MAX_SIZE))
@example((MAX_SIZE - 1, MAX_SIZE))
@example((512, 513))
@example((511, 1000))
def test_consistency_proofs_up_to_1000_leaves_match_the_reference(case: tuple[int, int]) -> None:
    m, n = case
    store, ref = _big_tree()
    _check_consistency(store, ref, m, n)


def test_a_proof_reads_only_a_logarithmic_number_of_stored_subtrees() -> None:
    class Counting:
        def __init__(self, inner: MemorySubtreeHashes) -> None:
            self.inner, self.reads = inner, 0

        def hash_of(self, level: int, index: int) -> bytes:
            self.reads += 1
            return self.inner.hash_of(level, index)

    store, _ = _big_tree()
    counting = Counting(store)
    for m in range(0, MAX_SIZE, 37):
        counting.reads = 0
        inclusion_proof(counting, index=m, tree_size=MAX_SIZE)
        assert counting.reads <= 2 * MAX_SIZE.bit_length()
        counting.reads = 0
        consistency_proof(counting, first=m + 1, second=MAX_SIZE)
        assert counting.reads <= 3 * MAX_SIZE.bit_length()


def test_proofs_for_sizes_outside_the_tree_are_refused() -> None:
    store = MemorySubtreeHashes(leaf_hash(e) for e in entries_of(4))
    for index, size in ((4, 4), (-1, 4), (0, 0)):
        with pytest.raises(ValueError):
            inclusion_proof(store, index=index, tree_size=size)
    for first, second in ((0, 4), (3, 2), (-1, 4)):
        with pytest.raises(ValueError):
            consistency_proof(store, first=first, second=second)
    with pytest.raises(LookupError):
        inclusion_proof(store, index=0, tree_size=5)


# --- forgeries -------------------------------------------------------------------------------


@given(size_and_index())
def test_an_inclusion_proof_does_not_verify_a_changed_leaf(case: tuple[int, int]) -> None:
    n, m = case
    store, ref = _big_tree()
    proof = inclusion_proof(store, index=m, tree_size=n)
    forged = leaf_hash(ref.entries[m] + b" (rewritten)")
    assert not verify_inclusion(leaf=forged, index=m, tree_size=n, proof=proof, root=ref.root(n))


@given(size_and_index(), st.integers(0, MAX_SIZE - 1))
def test_an_inclusion_proof_does_not_verify_at_another_index(
    case: tuple[int, int], other: int
) -> None:
    n, m = case
    store, ref = _big_tree()
    proof = inclusion_proof(store, index=m, tree_size=n)
    leaf = leaf_hash(ref.entries[m])
    for wrong in {other % n, m + 1, m - 1, m + n, -1} - {m}:
        assert not verify_inclusion(
            leaf=leaf, index=wrong, tree_size=n, proof=proof, root=ref.root(n)
        )


@given(size_and_index(), st.data())
def test_an_inclusion_proof_truncated_extended_or_altered_does_not_verify(
    case: tuple[int, int], data: st.DataObject
) -> None:
    n, m = case
    store, ref = _big_tree()
    proof = inclusion_proof(store, index=m, tree_size=n)
    leaf, root = leaf_hash(ref.entries[m]), ref.root(n)
    variants = [[*proof, root], [root, *proof], [*proof, proof[-1]] if proof else [leaf]]
    if proof:
        variants += [proof[:-1], proof[1:]]
        i = data.draw(st.integers(0, len(proof) - 1))
        flipped = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        variants.append([*proof[:i], flipped, *proof[i + 1 :]])
    for variant in variants:
        assert not verify_inclusion(leaf=leaf, index=m, tree_size=n, proof=variant, root=root)
    # A path alone does not fix the size (leaf 0 of 3 and of 4 have paths of one shape): the
    # root signed for that size does, so the same path does not prove the leaf in another tree.
    for size in {n - 1, n + 1} - {0, MAX_SIZE + 1}:
        other_root = ref.root(size)
        assert not verify_inclusion(
            leaf=leaf, index=m, tree_size=size, proof=proof, root=other_root
        )


@given(two_sizes(), st.data())
def test_a_consistency_proof_truncated_extended_or_altered_does_not_verify(
    case: tuple[int, int], data: st.DataObject
) -> None:
    m, n = case
    store, ref = _big_tree()
    proof = consistency_proof(store, first=m, second=n)
    first_root, second_root = ref.root(m), ref.root(n)
    variants = [[*proof, second_root], [first_root, *proof]]
    if proof:
        variants += [proof[:-1], proof[1:]]
        i = data.draw(st.integers(0, len(proof) - 1))
        flipped = proof[i][:-1] + bytes([proof[i][-1] ^ 0x80])
        variants.append([*proof[:i], flipped, *proof[i + 1 :]])
    for variant in variants:
        assert not verify_consistency(
            first=m, second=n, first_root=first_root, second_root=second_root, proof=variant
        )
    if m < n:
        assert not verify_consistency(
            first=n, second=m, first_root=second_root, second_root=first_root, proof=proof
        )


@given(two_sizes(), st.data())
def test_a_log_that_rewrote_an_old_entry_cannot_prove_itself_consistent(
    case: tuple[int, int], data: st.DataObject
) -> None:
    """A fork: the log signed ``first`` leaves, then rewrote leaf ``changed`` and grew on."""
    m, n = case
    changed = data.draw(st.integers(0, m - 1))
    honest_store, honest = _big_tree()
    forked_entries = list(honest.entries[:n])
    forked_entries[changed] = b"rewritten " + forked_entries[changed]
    forked = Reference(forked_entries)
    forked_store = MemorySubtreeHashes(leaf_hash(entry) for entry in forked_entries)
    signed_root = honest.root(m)
    assert forked.root(n) != honest.root(n)
    # Neither the fork's own proof nor the honest log's proof takes the signed head there.
    for proof in (
        consistency_proof(forked_store, first=m, second=n),
        consistency_proof(honest_store, first=m, second=n),
    ):
        assert not verify_consistency(
            first=m, second=n, first_root=signed_root, second_root=forked.root(n), proof=proof
        )
        assert not reference_verifies_consistency(m, n, proof, signed_root, forked.root(n))


# --- our log's leaves --------------------------------------------------------------------------


def test_a_receipt_names_the_leaf_at_seq_minus_one_whose_entry_is_the_canonical_body() -> None:
    recorded_at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    store = MemorySubtreeHashes()
    prev, entries = GENESIS_HASH, []
    for seq in range(1, 11):
        body = canonical_body(
            seq=seq, kind="eligibility.check", recorded_at=recorded_at, subject=None, payload={}
        )
        digest = entry_hash(prev, body)
        entries.append((seq, prev, digest, body))
        assert store.append(leaf_hash(body.encode("utf-8"))) == leaf_index(seq)
        prev = digest
    root = store.root()
    receipt_seq, receipt_hash = entries[6][0], entries[6][2]
    _, served_prev, _, served_body = entries[receipt_seq - 1]
    # What a verifier of the receipt checks: the chain vouches for the body, the tree holds it.
    assert entry_hash(served_prev, served_body) == receipt_hash
    assert json.loads(served_body)["seq"] == receipt_seq
    proof = inclusion_proof(store, index=leaf_index(receipt_seq), tree_size=store.size)
    leaf = leaf_hash(served_body.encode("utf-8"))
    assert verify_inclusion(leaf=leaf, index=receipt_seq - 1, tree_size=10, proof=proof, root=root)
    assert not verify_inclusion(leaf=leaf, index=receipt_seq, tree_size=10, proof=proof, root=root)


@pytest.mark.parametrize("seq", [0, -1, True, 1.0])
def test_only_a_positive_integer_seq_names_a_leaf(seq: Any) -> None:
    with pytest.raises(ValueError):
        leaf_index(seq)


def test_subtree_positions_name_the_leaves_they_cover() -> None:
    store, ref = _big_tree()
    assert store.hash_of(3, 2) == ref.mth(16, 24)
    assert store.hash_of(9, 0) == ref.mth(0, 512)
