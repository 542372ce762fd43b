"""A witness's decision before cosigning (service.audit.witness): an extension is cosigned, a
fork or a step back is refused and reported with both heads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.audit.merkle import MemorySubtreeHashes, consistency_proof, leaf_hash, root_at
from service.audit.note import Checkpoint
from service.audit.witness import (
    ConsistencyNeed,
    ForkDetected,
    RollbackDetected,
    Verdict,
    decide,
    needs_proof,
)

ORIGIN = "voters.example/audit/v1"


def _tree(leaves: list[bytes]) -> MemorySubtreeHashes:
    return MemorySubtreeHashes(leaf_hash(leaf) for leaf in leaves)


def _head(tree: MemorySubtreeHashes, size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, root_at(tree, size))


def _log(n: int, tag: bytes = b"entry") -> list[bytes]:
    return [tag + b"-" + str(i).encode() for i in range(n)]


@given(st.integers(1, 80), st.integers(0, 80))
def test_a_checkpoint_that_extends_the_last_one_cosigned_is_cosigned(first: int, more: int) -> None:
    tree = _tree(_log(first + more))
    last, shown = _head(tree, first), _head(tree, first + more)
    need = needs_proof(last, shown)
    proof = (
        consistency_proof(tree, first=need.first, second=need.second) if need is not None else []
    )

    verdict = decide(last, shown, proof)

    assert verdict is (Verdict.COSIGN if more else Verdict.ALREADY)
    assert need == (ConsistencyNeed(first, first + more) if more else None)


def test_the_first_checkpoint_a_witness_sees_is_cosigned_without_a_proof() -> None:
    shown = _head(_tree(_log(5)), 5)

    assert needs_proof(None, shown) is None
    assert decide(None, shown) is Verdict.COSIGN


@given(st.integers(1, 60), st.integers(0, 59), st.integers(0, 20))
def test_a_history_rewritten_anywhere_is_a_fork(size: int, changed: int, more: int) -> None:
    changed %= size
    honest = _log(size + more)
    forked = list(honest)
    forked[changed] = b"rewritten"
    last = _head(_tree(honest), size)
    other = _tree(forked)
    shown = _head(other, size + more)
    proof = consistency_proof(other, first=size, second=size + more) if more else []

    with pytest.raises(ForkDetected) as refused:
        decide(last, shown, proof)

    assert (refused.value.last, refused.value.shown) == (last, shown)


def test_a_smaller_log_than_the_one_cosigned_is_a_rollback_and_reported() -> None:
    tree = _tree(_log(10))
    last, shown = _head(tree, 10), _head(tree, 6)

    with pytest.raises(RollbackDetected) as refused:
        decide(last, shown)

    report = refused.value.report(last_note="NOTE-10\n", shown_note="NOTE-6\n")
    assert report.startswith(f"ROLLBACK of log {ORIGIN}\n")
    assert "NOTE-10" in report
    assert "NOTE-6" in report


def test_a_consistency_proof_for_other_sizes_does_not_pass() -> None:
    tree = _tree(_log(20))
    last, shown = _head(tree, 7), _head(tree, 20)
    wrong = consistency_proof(tree, first=8, second=20)

    with pytest.raises(ForkDetected):
        decide(last, shown, wrong)


def test_a_checkpoint_of_another_log_is_not_judged() -> None:
    tree = _tree(_log(3))
    other = Checkpoint("another.example/log", 3, root_at(tree, 3))

    with pytest.raises(ValueError, match=r"another\.example/log"):
        decide(_head(tree, 2), other)
