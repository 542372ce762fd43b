"""Verification entry points for ``voterctl audit verify``: the database or an export file.

Both stream the entries through ``verify_chain``. The export is read twice: first for its
checkpoints (which come after the entries in the file), then for the entries, so memory stays
flat however long the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from service.audit.chain import ChainEntry, Checkpoint, Problem, VerifyReport, verify_chain
from service.audit.export import ExportFormatError, read_export
from service.audit.log import AuditReader
from service.audit.signing import CheckpointVerifier
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


def verify_database(database: Database, *, verifier: CheckpointVerifier) -> VerifyReport:
    """Re-walk the stored chain against the stored checkpoints, in one read snapshot."""
    reader = AuditReader()
    with read_session(database) as session:
        try:
            checkpoints = reader.checkpoints(session)
        except ValueError as exc:
            # A tampered column (e.g. an unreadable timestamp) must yield a report, not a crash.
            return _malformed(f"audit_checkpoints cannot be read: {type(exc).__name__}")
        return verify_chain(
            reader.iter_entries(session), checkpoints, verify_signature=verifier.verify
        )


def _export_entries(path: Path) -> Iterator[ChainEntry]:
    for item in read_export(path):
        if isinstance(item, ChainEntry):
            yield item


def verify_export(path: Path, *, verifier: CheckpointVerifier) -> VerifyReport:
    """Verify an export file against the observer's trusted key, ignoring the file's own key."""
    try:
        checkpoints = [item for item in read_export(path) if isinstance(item, Checkpoint)]
        # The second pass re-reads the file; a file changed in between is malformed too.
        return verify_chain(_export_entries(path), checkpoints, verify_signature=verifier.verify)
    except ExportFormatError as exc:
        return _malformed(str(exc))
    except UnicodeDecodeError:
        return _malformed("the export is not UTF-8")
