"""service/audit/receipt.py: a receipt checks out against a signed note and an inclusion proof
exactly when the entry, its position and the tree are the log's."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.audit.chain import GENESIS_HASH, canonical_body, entry_hash
from service.audit.merkle import MemorySubtreeHashes, inclusion_proof, leaf_hash
from service.audit.note import Checkpoint, NoteSigner, sign_checkpoint
from service.audit.receipt import (
    ReceiptClaim,
    ReceiptRejected,
    ServedProof,
    parse_checkpoint_note,
    parse_proof,
    parse_receipt,
    verify_receipt,
)
from service.audit.signing import CheckpointSigner, generate_signing_key

ORIGIN = "voters.example/test"
SIGNER = NoteSigner(ORIGIN, CheckpointSigner(generate_signing_key()).private_key)
AT = datetime(2027, 3, 1, tzinfo=UTC)
SIZE = 40


@cache
def log() -> tuple[list[tuple[str, str, str]], MemorySubtreeHashes]:
    """(prev_hash, entry_hash, body) of seqs 1..SIZE, and their tree."""
    chain = []
    previous = GENESIS_HASH
    for seq in range(1, SIZE + 1):
        body = canonical_body(seq=seq, kind="t", recorded_at=AT, subject=None, payload={"n": seq})
        digest = entry_hash(previous, body)
        chain.append((previous, digest, body))
        previous = digest
    return chain, MemorySubtreeHashes(leaf_hash(body.encode()) for _, _, body in chain)


def case(seq: int, size: int) -> tuple[ReceiptClaim, str, ServedProof]:
    chain, tree = log()
    prev_hash, digest, body = chain[seq - 1]
    hashes = tuple(inclusion_proof(tree, index=seq - 1, tree_size=size))
    sub = MemorySubtreeHashes(leaf_hash(b.encode()) for _, _, b in chain[:size])
    note = sign_checkpoint(Checkpoint(ORIGIN, size, sub.root()), SIGNER)
    return (
        ReceiptClaim(seq, digest),
        note,
        ServedProof(seq=seq, tree_size=size, prev_hash=prev_hash, body=body, audit_path=hashes),
    )


@st.composite
def seq_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, SIZE))
    return draw(st.integers(1, size)), size


@given(seq_and_size())
def test_every_receipt_of_the_log_verifies_at_every_size_that_covers_it(
    position: tuple[int, int],
) -> None:
    receipt, note, proof = case(*position)
    statement = verify_receipt(receipt, note=note, vkey=SIGNER.verifier_key, proof=proof)
    assert statement.startswith(f"verified: seq {position[0]} ")


@given(seq_and_size(), st.integers(0, 2**16))
def test_a_changed_body_prev_hash_or_path_is_refused(position: tuple[int, int], at: int) -> None:
    receipt, note, proof = case(*position)
    body = proof.body.replace(f'"n":{position[0]}', f'"n":{position[0] + 1}')
    tampered = [replace(proof, body=body), replace(proof, prev_hash="f" * 64)]
    if proof.audit_path:
        path = list(proof.audit_path)
        i = at % len(path)
        path[i] = bytes(b ^ 1 for b in path[i])
        tampered.append(replace(proof, audit_path=tuple(path)))
        tampered.append(replace(proof, audit_path=proof.audit_path[:-1]))
    for bad in tampered:
        with pytest.raises(ReceiptRejected):
            verify_receipt(receipt, note=note, vkey=SIGNER.verifier_key, proof=bad)


def test_a_proof_of_another_entry_at_its_own_position_does_not_pass_for_the_receipt() -> None:
    receipt, note, _ = case(5, 20)
    _, _, other = case(6, 20)
    with pytest.raises(ReceiptRejected, match="proof: it is for seq 6"):
        verify_receipt(receipt, note=note, vkey=SIGNER.verifier_key, proof=other)
    # Relabelled as seq 5, its body still claims 6 and its hash is not the receipt's.
    with pytest.raises(ReceiptRejected, match="entry_hash"):
        verify_receipt(receipt, note=note, vkey=SIGNER.verifier_key, proof=replace(other, seq=5))


def test_a_checkpoint_that_does_not_cover_the_seq_asks_for_a_newer_one() -> None:
    receipt, _, proof = case(30, 30)
    _, note, _ = case(10, 20)
    with pytest.raises(ReceiptRejected, match="covers 20 entries, not seq 30"):
        verify_receipt(receipt, note=note, vkey=SIGNER.verifier_key, proof=proof)


def test_a_note_by_another_key_under_the_same_name_is_refused() -> None:
    receipt, _, proof = case(3, 8)
    other = NoteSigner(ORIGIN, CheckpointSigner(generate_signing_key()).private_key)
    _, tree = log()
    root = MemorySubtreeHashes(leaf_hash(b.encode()) for _, _, b in log()[0][:8]).root()
    forged = sign_checkpoint(Checkpoint(ORIGIN, 8, root), other)
    assert tree.size == SIZE
    with pytest.raises(ReceiptRejected, match="checkpoint: no signature by a known key"):
        verify_receipt(receipt, note=forged, vkey=SIGNER.verifier_key, proof=proof)


def test_inputs_are_read_from_the_services_own_answers() -> None:
    receipt, note, proof = case(2, 4)
    decision = json.dumps(
        {"outcome": "eligible", "audit": {"seq": 2, "entry_hash": receipt.entry_hash}}
    )
    assert parse_receipt(decision) == receipt
    assert parse_checkpoint_note(json.dumps({"size": 4, "note": note})) == note
    assert parse_checkpoint_note(note) == note
    served = {
        "seq": 2,
        "leaf_index": 1,
        "tree_size": 4,
        "entry_hash": receipt.entry_hash,
        "prev_hash": proof.prev_hash,
        "body": proof.body,
        "audit_path": [node.hex() for node in proof.audit_path],
        "checkpoint": note,
    }
    assert parse_proof(json.dumps(served)) == proof


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"seq": 0, "entry_hash": "ab"}', '{"seq": true, "entry_hash": "ab"}', '{"seq": 1}'],
)
def test_a_receipt_that_is_not_one_is_refused_by_name(text: str) -> None:
    with pytest.raises(ReceiptRejected, match=r"^receipt: "):
        parse_receipt(text)


@pytest.mark.parametrize("node", ["zz" * 32, "ab" * 31, 7])
def test_a_proof_with_a_node_that_is_not_a_hash_is_refused(node: object) -> None:
    text = json.dumps(
        {"seq": 1, "tree_size": 2, "prev_hash": "0" * 64, "body": "{}", "audit_path": [node]}
    )
    with pytest.raises(ReceiptRejected, match=r"^proof: an audit_path node"):
        parse_proof(text)
