"""The hash chain: canonical entry bodies, entry hashes, checkpoints and their verification.

Pure Python (stdlib only) so that an observer can re-run verification without the service.

Each entry's hash covers the previous entry's hash and the entry's canonical JSON body, so
editing, removing or moving any entry breaks every later link. A rewrite of the whole tail with
fresh hashes is still internally consistent; that is what signed checkpoints (size, head hash)
are for. Entries after the newest checkpoint are only as trustworthy as the database holding
them, which is why the service signs at least every N entries or T seconds.

Verification streams: it holds one entry, its predecessor and the (few) checkpoints, so it runs
over twelve million entries in constant memory.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

HASH_HEX_LENGTH = 64
GENESIS_HASH = "0" * HASH_HEX_LENGTH
CHECKPOINT_FORMAT = "voter-audit-checkpoint/1"


class Problem(StrEnum):
    """What verification found, named at the first bad seq."""

    MODIFIED = "modified"  # an entry's body or hashes do not match its entry_hash
    DELETED = "deleted"  # a seq is missing from the middle of the chain
    INSERTED = "inserted"  # an entry that the chain does not vouch for was added
    REORDERED = "reordered"  # an intact entry sits at a position that is not its own
    BROKEN_LINK = "broken_link"  # an entry does not point at its predecessor's hash
    TRUNCATED = "truncated"  # a valid checkpoint covers more entries than exist
    BAD_SIGNATURE = "bad_signature"  # a checkpoint's signature does not verify
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain's head differs from a signed head
    TREE_MISMATCH = "tree_mismatch"  # a signed or stored Merkle root differs from the entries'
    INCONSISTENT = "inconsistent"  # the stored tree cannot prove one checkpoint extends another
    MALFORMED = "malformed"  # the input could not be read as entries and checkpoints


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    prev_hash: str
    entry_hash: str
    body: str


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: bytes
    # The RFC 9162 root at ``size`` (hex) and the signed tlog-checkpoint note of it; None on
    # checkpoints signed before the log kept a Merkle tree.
    root_hash: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    """What verification found. ``covered`` is how many entries (seqs 1..covered) the newest
    verified checkpoint vouches for; the rest of an intact chain is signed by no one."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_bad_seq: int | None
    problem: Problem | None
    detail: str
    covered: int = 0

    @property
    def uncovered(self) -> int:
        """Entries checked that no signed checkpoint covers (the chain's unsigned tail)."""
        return self.entries_checked - self.covered

    @property
    def uncovered_seqs(self) -> tuple[int, int] | None:
        """The first and last seq of the unsigned tail, None when every entry is covered."""
        if self.uncovered <= 0:
            return None
        return self.covered + 1, self.entries_checked


def format_instant(instant: datetime) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``: one spelling per instant, so hashes agree."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_body(
    *,
    seq: int,
    kind: str,
    recorded_at: datetime,
    subject: str | None,
    payload: Mapping[str, Any],
) -> str:
    return _canonical_json(
        {
            "seq": seq,
            "kind": kind,
            "recorded_at": format_instant(recorded_at),
            "subject": subject,
            "payload": dict(payload),
        }
    )


def entry_hash(prev_hash: str, body: str) -> str:
    """Hex SHA-256 over the previous hash's 32 raw bytes followed by the UTF-8 body."""
    prev = bytes.fromhex(prev_hash)
    if len(prev) * 2 != HASH_HEX_LENGTH:
        raise ValueError("prev_hash must be 64 hex characters")
    return hashlib.sha256(prev + body.encode("utf-8")).hexdigest()


def checkpoint_message(size: int, head_hash: str, signed_at: datetime, key_id: str) -> bytes:
    """The bytes a checkpoint signature covers; the format tag keeps them from meaning else."""
    return _canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "size": size,
            "head_hash": head_hash,
            "signed_at": format_instant(signed_at),
            "key_id": key_id,
        }
    ).encode("utf-8")


SignatureCheck = Callable[[bytes, bytes], bool]


@dataclass(frozen=True)
class _Finding:
    seq: int
    problem: Problem
    detail: str


def _claimed_seq(body: str) -> int | None:
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        return None
    if not isinstance(parsed, dict):
        return None
    seq = parsed.get("seq")
    # bool is an int subclass; a body saying "seq": true was not written by us.
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _entry_finding(entry: ChainEntry, prev: ChainEntry | None) -> _Finding | None:
    """Judge one entry that sits at its expected position, given the entry before it."""
    seq = entry.seq
    claimed = _claimed_seq(entry.body)
    if claimed is None:
        return _Finding(seq, Problem.MODIFIED, f"seq {seq}: body is not a readable entry")
    try:
        computed = entry_hash(entry.prev_hash, entry.body)
    except (ValueError, TypeError):  # rows edited by hand may hold anything
        return _Finding(seq, Problem.MODIFIED, f"seq {seq}: prev_hash or body cannot be hashed")
    if computed != entry.entry_hash:
        moved = f" (its body claims seq {claimed})" if claimed != seq else ""
        return _Finding(seq, Problem.MODIFIED, f"seq {seq}: body does not match entry_hash{moved}")
    expected_prev = prev.entry_hash if prev is not None else GENESIS_HASH
    if prev is not None and entry.prev_hash != expected_prev and entry.prev_hash == prev.prev_hash:
        # Two consecutive entries hang off the same parent: the earlier one was slipped in
        # and the genuine entry pushed one seq down.
        return _Finding(
            prev.seq,
            Problem.INSERTED,
            f"seq {prev.seq}: not vouched for by the chain; seq {seq} links past it",
        )
    if claimed != seq:
        return _Finding(seq, Problem.REORDERED, f"seq {seq}: holds the entry written as {claimed}")
    if entry.prev_hash != expected_prev:
        before = f"seq {prev.seq}" if prev is not None else "the genesis hash"
        return _Finding(
            seq,
            Problem.BROKEN_LINK,
            f"seq {seq}: prev_hash does not match {before} (one of the two was rewritten)",
        )
    return None


def _seq_appears(entries: Iterator[ChainEntry], seq: int) -> bool:
    return any(entry.seq == seq for entry in entries)


def _checkpoint_finding(
    checkpoint: Checkpoint, chain_hash: str, verify_signature: SignatureCheck
) -> _Finding | None:
    size = checkpoint.size
    if not _signature_holds(checkpoint, verify_signature):
        return _Finding(size, Problem.BAD_SIGNATURE, f"checkpoint at size {size}: bad signature")
    if size < 0 or checkpoint.head_hash != chain_hash:
        return _Finding(
            size,
            Problem.CHECKPOINT_MISMATCH,
            f"checkpoint at size {size}: the chain's hash there differs from the signed head",
        )
    return None


def _signature_holds(checkpoint: Checkpoint, verify_signature: SignatureCheck) -> bool:
    try:
        message = checkpoint_message(
            checkpoint.size, checkpoint.head_hash, checkpoint.signed_at, checkpoint.key_id
        )
    except ValueError:
        return False
    return verify_signature(message, checkpoint.signature)


def verify_chain(
    entries: Iterable[ChainEntry],
    checkpoints: Sequence[Checkpoint],
    *,
    verify_signature: SignatureCheck,
) -> VerifyReport:
    """Walk the chain in the order given and report the first bad seq, if any.

    ``entries`` is consumed once, in order; pass a generator for large logs. A checkpoint at
    size N is judged against the chain's hash after entry N. A mismatch is reported at N: the
    tampering lies somewhere after the previous good checkpoint, and the chain alone cannot
    say where.
    """
    pending = deque(sorted(checkpoints, key=lambda checkpoint: checkpoint.size))
    stream = iter(entries)
    prev: ChainEntry | None = None
    checked = 0
    checkpoints_ok = 0
    covered = 0

    def failed(finding: _Finding, *, entries_checked: int) -> VerifyReport:
        return VerifyReport(
            ok=False,
            entries_checked=entries_checked,
            checkpoints_checked=checkpoints_ok,
            first_bad_seq=finding.seq,
            problem=finding.problem,
            detail=finding.detail,
            covered=min(covered, entries_checked),
        )

    def settle_checkpoints_up_to(size: int, chain_hash: str) -> _Finding | None:
        nonlocal checkpoints_ok, covered
        while pending and pending[0].size <= size:
            checkpoint = pending.popleft()
            finding = _checkpoint_finding(checkpoint, chain_hash, verify_signature)
            if finding is not None:
                return finding
            checkpoints_ok += 1
            covered = max(covered, checkpoint.size)
        return None

    for entry in stream:
        expected = checked + 1
        finding: _Finding | None
        if entry.seq > expected:
            problem = Problem.REORDERED if _seq_appears(stream, expected) else Problem.DELETED
            finding = _Finding(
                expected, problem, f"seq {expected}: expected here, found {entry.seq}"
            )
        elif entry.seq < expected:
            finding = _Finding(entry.seq, Problem.INSERTED, f"seq {entry.seq}: appears twice")
        else:
            finding = _entry_finding(entry, prev)
        # Checkpoints at the previous size are judged only now, so that an entry found to be
        # an insertion is reported as such rather than as the checkpoint it also upsets.
        if finding is not None and finding.seq < expected:
            return failed(finding, entries_checked=finding.seq - 1)
        head = prev.entry_hash if prev is not None else GENESIS_HASH
        checkpoint_finding = settle_checkpoints_up_to(checked, head)
        if checkpoint_finding is not None:
            return failed(checkpoint_finding, entries_checked=checked)
        if finding is not None:
            return failed(finding, entries_checked=checked)
        prev = entry
        checked += 1

    head = prev.entry_hash if prev is not None else GENESIS_HASH
    checkpoint_finding = settle_checkpoints_up_to(checked, head)
    if checkpoint_finding is not None:
        return failed(checkpoint_finding, entries_checked=checked)
    if pending:
        # Only a genuine checkpoint proves that entries are missing; a forged one proves forgery.
        genuine = [c.size for c in pending if _signature_holds(c, verify_signature)]
        if genuine:
            missing = checked + 1
            finding = _Finding(
                missing,
                Problem.TRUNCATED,
                f"seq {missing}: a signed checkpoint covers {max(genuine)} entries, "
                f"the chain has {checked}",
            )
            return failed(finding, entries_checked=checked)
        size = pending[0].size
        forged = _Finding(size, Problem.BAD_SIGNATURE, f"checkpoint at size {size}: bad signature")
        return failed(forged, entries_checked=checked)

    return VerifyReport(
        ok=True,
        entries_checked=checked,
        checkpoints_checked=checkpoints_ok,
        first_bad_seq=None,
        problem=None,
        detail=(
            f"{checked} entries intact; {covered} covered by a signed checkpoint, "
            f"{checked - covered} after the newest checkpoint"
        ),
        covered=covered,
    )
