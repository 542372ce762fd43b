"""Verification entry points for ``voterctl audit verify``: the database or an export file.

Both stream the entries through ``verify_chain``. The export is read twice: first for its
checkpoints (which come after the entries in the file), then for the entries, so memory stays
flat however long the log.

The Merkle tree is checked on the same walk: every body is hashed into a compact range (O(log n)
memory), and once the chain verifies, each checkpoint's tlog-checkpoint note must be signed by
the trusted key for the log's origin and name the root of the entries up to its size. In the
database every stored subtree is compared with the one the entries give (a query per few
thousand entries; the lowest levels are not stored, see ``tree.py``), the stored tree must give
the signed roots, and it must prove each signed checkpoint consistent with the one before
(RFC 9162 consistency proofs).
Checkpoints signed before the tree existed carry no note and are checked by the chain alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from service.audit.chain import ChainEntry, Checkpoint, Problem, VerifyReport, verify_chain
from service.audit.export import ExportFormatError, read_export
from service.audit.log import AuditReader
from service.audit.merkle import CompactRange, Subtree, leaf_hash, verify_consistency
from service.audit.note import DEFAULT_ORIGIN, NoteRejected, VerifierKey, open_checkpoint
from service.audit.signing import CheckpointVerifier
from service.audit.tree import is_stored
from service.db.engine import Database, read_session


def _malformed(reason: str) -> VerifyReport:
    return VerifyReport(
        ok=False,
        entries_checked=0,
        checkpoints_checked=0,
        first_bad_seq=None,
        problem=Problem.MALFORMED,
        detail=reason,
    )


TREE_BATCH = 4096  # entries whose stored subtrees are compared in one query


class _TreeTap:
    """Hashes every entry the chain walk reads into a compact range; keeps the roots at the
    sizes asked for and, given a stored tree, compares every subtree the entries complete
    with the stored one, a batch at a time."""

    def __init__(self, sizes: Iterable[int], stored: _StoredTree | None) -> None:
        self.range = CompactRange()
        self.roots: dict[int, bytes] = {}
        self.first_bad: Subtree | None = None
        self._sizes = set(sizes)
        self._stored = stored
        self._pending: list[Subtree] = []

    def tap(self, entries: Iterable[ChainEntry]) -> Iterator[ChainEntry]:
        for entry in entries:
            completed = self.range.append(leaf_hash(entry.body.encode("utf-8")))
            if self._stored is not None and self.first_bad is None:
                self._pending += [subtree for subtree in completed if is_stored(subtree)]
                if len(self._pending) >= 2 * TREE_BATCH:
                    self._compare()
            if self.range.size in self._sizes:
                self.roots[self.range.size] = self.range.root()
            yield entry
        if self._stored is not None and self.first_bad is None:
            self._compare()

    def _compare(self) -> None:
        assert self._stored is not None
        self.first_bad = self._stored.first_difference(self._pending)
        self._pending = []


class _StoredTree:
    """The database's tree, read in the verification's snapshot."""

    def __init__(self, reader: AuditReader, session: Session) -> None:
        self._reader = reader
        self._session = session

    def first_difference(self, subtrees: Sequence[Subtree]) -> Subtree | None:
        """The first of ``subtrees`` (recomputed from the entries) stored otherwise or not at
        all; one query per batch, a node range per level."""
        spans: dict[int, tuple[int, int]] = {}
        for level, node, _ in subtrees:
            low, high = spans.get(level, (node, node))
            spans[level] = (min(low, node), max(high, node))
        stored = self._reader.stored_subtrees(
            self._session, [(level, low, high) for level, (low, high) in spans.items()]
        )
        for subtree in subtrees:
            level, node, digest = subtree
            if stored.get((level, node)) != digest:
                return subtree
        return None

    def root(self, size: int) -> bytes | None:
        try:
            return self._reader.tree_root(self._session, size)
        except LookupError:
            return None

    def consistent(self, first: int, second: int, first_root: bytes, second_root: bytes) -> bool:
        try:
            proof = self._reader.consistency(self._session, first=first, second=second)
        except LookupError:
            return False
        return verify_consistency(
            first=first, second=second, first_root=first_root, second_root=second_root, proof=proof
        )


def _check_tree(
    report: VerifyReport,
    checkpoints: Sequence[Checkpoint],
    tap: _TreeTap,
    vkey: VerifierKey,
    stored: _StoredTree | None,
) -> VerifyReport:
    def failed(size: int, problem: Problem, detail: str) -> VerifyReport:
        return replace(report, ok=False, first_bad_seq=size, problem=problem, detail=detail)

    if tap.first_bad is not None:
        level, node, _ = tap.first_bad
        first, last = node << level, ((node + 1) << level) - 1
        return failed(
            first + 1,
            Problem.TREE_MISMATCH,
            f"seq {first + 1}: the stored tree's subtree over seqs {first + 1}-{last + 1} "
            "is not the hash of those entries",
        )
    previous: tuple[int, bytes] | None = None
    for checkpoint in sorted(checkpoints, key=lambda c: c.size):
        if checkpoint.note is None:
            continue
        size = checkpoint.size
        try:
            head, _ = open_checkpoint(checkpoint.note, origin=vkey.name, log_key=vkey)
        except (NoteRejected, ValueError) as exc:
            return failed(size, Problem.BAD_SIGNATURE, f"checkpoint at size {size}: note: {exc}")
        if head.size != size:
            return failed(
                size,
                Problem.CHECKPOINT_MISMATCH,
                f"checkpoint at size {size}: its note is signed for size {head.size}",
            )
        if head.root_hash != tap.roots.get(size):
            return failed(
                size,
                Problem.TREE_MISMATCH,
                f"checkpoint at size {size}: the signed root is not the root of the entries",
            )
        if checkpoint.root_hash is not None and checkpoint.root_hash != head.root_hash.hex():
            return failed(
                size,
                Problem.TREE_MISMATCH,
                f"checkpoint at size {size}: root_hash differs from the signed note's root",
            )
        if stored is not None:
            if stored.root(size) != head.root_hash:
                return failed(
                    size,
                    Problem.TREE_MISMATCH,
                    f"checkpoint at size {size}: the stored tree's root differs from the signed",
                )
            if previous is not None and not stored.consistent(
                previous[0], size, previous[1], head.root_hash
            ):
                return failed(
                    size,
                    Problem.INCONSISTENT,
                    f"checkpoint at size {size}: the stored tree does not prove it consistent "
                    f"with the checkpoint at size {previous[0]}",
                )
        previous = (size, head.root_hash)
    size = tap.range.size
    if stored is not None and size > 0 and stored.root(size) != tap.range.root():
        return failed(
            size,
            Problem.TREE_MISMATCH,
            f"the stored tree's root at the head (size {size}) is not the root of the entries",
        )
    return report


def _verify(
    entries: Iterable[ChainEntry],
    checkpoints: Sequence[Checkpoint],
    verifier: CheckpointVerifier,
    origin: str,
    stored: _StoredTree | None,
) -> VerifyReport:
    tap = _TreeTap((c.size for c in checkpoints), stored)
    report = verify_chain(tap.tap(entries), checkpoints, verify_signature=verifier.verify)
    if not report.ok:
        return report
    vkey = VerifierKey.of(origin, verifier.public_key)
    return _check_tree(report, checkpoints, tap, vkey, stored)


def verify_database(
    database: Database, *, verifier: CheckpointVerifier, origin: str = DEFAULT_ORIGIN
) -> VerifyReport:
    """Re-walk the stored chain and tree against the stored checkpoints, in one snapshot."""
    reader = AuditReader()
    with read_session(database) as session:
        try:
            checkpoints = reader.checkpoints(session)
        except ValueError as exc:
            # A tampered column (e.g. an unreadable timestamp) must yield a report, not a crash.
            return _malformed(f"audit_checkpoints cannot be read: {type(exc).__name__}")
        return _verify(
            reader.iter_entries(session),
            checkpoints,
            verifier,
            origin,
            _StoredTree(reader, session),
        )


def _export_entries(path: Path) -> Iterator[ChainEntry]:
    for item in read_export(path):
        if isinstance(item, ChainEntry):
            yield item


def verify_export(
    path: Path, *, verifier: CheckpointVerifier, origin: str = DEFAULT_ORIGIN
) -> VerifyReport:
    """Verify an export file against the observer's trusted key, ignoring the file's own key."""
    try:
        checkpoints = [item for item in read_export(path) if isinstance(item, Checkpoint)]
        # The second pass re-reads the file; a file changed in between is malformed too.
        return _verify(_export_entries(path), checkpoints, verifier, origin, None)
    except ExportFormatError as exc:
        return _malformed(str(exc))
    except UnicodeDecodeError:
        return _malformed("the export is not UTF-8")
