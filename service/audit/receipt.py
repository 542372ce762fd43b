"""Checking one decision's receipt offline: a signed checkpoint note and an inclusion proof.

Needs no database and no trust in the server: only the log's verifier key (``voterctl audit
vkey``), the receipt ``{seq, entry_hash}`` the decision's response carried, a checkpoint note
and the inclusion proof served by ``GET /v1/audit/proofs/inclusion`` at the checkpoint's size.
Every step is O(log n) or less:

1. the note is signed by the key, for the log whose name the key bears, and covers ``seq``;
2. the proof's entry is the receipt's: SHA-256(prev_hash || body) as ``chain.py`` computes it
   equals the receipt's ``entry_hash``, and the body claims the receipt's ``seq``;
3. the leaf hash of the body, at index ``seq - 1``, with the audit path, gives the note's root.

``ReceiptRejected`` names the first step that failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.audit.chain import entry_hash
from service.audit.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from service.audit.note import Checkpoint, NoteRejected, VerifierKey, open_checkpoint


class ReceiptRejected(ValueError):
    """The receipt does not check out; the message says which step failed."""


@dataclass(frozen=True)
class ReceiptClaim:
    seq: int
    entry_hash: str


@dataclass(frozen=True)
class ServedProof:
    """The fields of an inclusion proof answer that the check reads."""

    seq: int
    tree_size: int
    prev_hash: str
    body: str
    audit_path: tuple[bytes, ...]


def _integer(record: Mapping[str, Any], name: str, what: str) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ReceiptRejected(f"{what}: {name} is not a positive integer")
    return value


def _text(record: Mapping[str, Any], name: str, what: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        raise ReceiptRejected(f"{what}: {name} is missing")
    return value


def _json_object(text: str, what: str) -> Mapping[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        raise ReceiptRejected(f"{what}: not JSON") from None
    if not isinstance(parsed, dict):
        raise ReceiptRejected(f"{what}: not a JSON object")
    return parsed


def parse_receipt(text: str) -> ReceiptClaim:
    """``{"seq": .., "entry_hash": ..}``, or a decision's whole response holding ``audit``."""
    record = _json_object(text, "receipt")
    audit = record.get("audit")
    if isinstance(audit, dict):
        record = audit
    return ReceiptClaim(
        seq=_integer(record, "seq", "receipt"),
        entry_hash=_text(record, "entry_hash", "receipt").lower(),
    )


def parse_checkpoint_note(text: str) -> str:
    """The note itself, or the ``note`` of ``GET /v1/audit/checkpoint``'s answer."""
    if text.lstrip().startswith("{"):
        note = _json_object(text, "checkpoint").get("note")
        if not isinstance(note, str):
            raise ReceiptRejected("checkpoint: the answer holds no signed note")
        return note
    return text


def parse_proof(text: str) -> ServedProof:
    """``GET /v1/audit/proofs/inclusion``'s answer."""
    record = _json_object(text, "proof")
    path = record.get("audit_path")
    if not isinstance(path, list):
        raise ReceiptRejected("proof: audit_path is not a list")
    nodes: list[bytes] = []
    for node in path:
        try:
            raw = bytes.fromhex(node) if isinstance(node, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != HASH_SIZE:
            raise ReceiptRejected("proof: an audit_path node is not a 32-byte hex hash")
        nodes.append(raw)
    return ServedProof(
        seq=_integer(record, "seq", "proof"),
        tree_size=_integer(record, "tree_size", "proof"),
        prev_hash=_text(record, "prev_hash", "proof"),
        body=_text(record, "body", "proof"),
        audit_path=tuple(nodes),
    )


def open_log_checkpoint(note: str, vkey: VerifierKey) -> Checkpoint:
    """The checkpoint of a note signed by ``vkey`` for the log named as the key is."""
    try:
        checkpoint, _ = open_checkpoint(note, origin=vkey.name, log_key=vkey)
    except NoteRejected as exc:
        raise ReceiptRejected(f"checkpoint: {exc}") from None
    except ValueError as exc:  # MalformedNote
        raise ReceiptRejected(f"checkpoint: malformed note: {exc}") from None
    return checkpoint


def _claimed_seq(body: str) -> object:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("seq") if isinstance(parsed, dict) else None


def verify_receipt(
    receipt: ReceiptClaim, *, note: str, vkey: VerifierKey, proof: ServedProof
) -> str:
    """Check the receipt against the note and the proof; the one-line statement of what was
    verified, or ReceiptRejected naming what failed."""
    checkpoint = open_log_checkpoint(note, vkey)
    if receipt.seq > checkpoint.size:
        raise ReceiptRejected(
            f"checkpoint: it covers {checkpoint.size} entries, not seq {receipt.seq}; "
            "fetch a newer checkpoint"
        )
    if proof.seq != receipt.seq or proof.tree_size != checkpoint.size:
        raise ReceiptRejected(
            f"proof: it is for seq {proof.seq} in a tree of {proof.tree_size}, "
            f"not seq {receipt.seq} in the checkpoint's {checkpoint.size}"
        )
    try:
        recomputed = entry_hash(proof.prev_hash, proof.body)
    except ValueError:
        raise ReceiptRejected("entry_hash: the proof's prev_hash is not a hex hash") from None
    if recomputed != receipt.entry_hash:
        raise ReceiptRejected(
            "entry_hash: SHA-256(prev_hash || body) of the served entry is not the receipt's "
            "(the entry was rewritten, or the receipt is not this log's)"
        )
    if _claimed_seq(proof.body) != receipt.seq:
        raise ReceiptRejected(f"body: the entry does not claim seq {receipt.seq}")
    if not verify_inclusion(
        leaf=leaf_hash(proof.body.encode("utf-8")),
        index=receipt.seq - 1,
        tree_size=checkpoint.size,
        proof=proof.audit_path,
        root=checkpoint.root_hash,
    ):
        raise ReceiptRejected(
            f"inclusion: the audit path does not lead from the entry to the root the log "
            f"signed at size {checkpoint.size} (a rewritten or forked log)"
        )
    return (
        f"verified: seq {receipt.seq} (entry_hash {receipt.entry_hash[:16]}...) is in "
        f"{checkpoint.origin} at tree size {checkpoint.size}, signed by {vkey.name}+"
        f"{vkey.key_id:08x}"
    )
