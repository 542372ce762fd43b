"""Loading precincts and elections into the service database (operator CLI).

A boundary set in which two precincts claim the same address is refused whole, listing
every conflict; an accepted import is audited like any decision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from service.audit.log import AuditLog
from service.datafiles import ElectionRecord, PrecinctRecord, iter_records
from service.db import repository
from service.db.engine import Database, write_session
from service.domain.precincts import BoundaryConflict, find_conflicts

IMPORT_KIND = "reference.import"


class BoundaryConflicts(ValueError):
    def __init__(self, conflicts: list[BoundaryConflict]) -> None:
        super().__init__(f"{len(conflicts)} boundary conflicts")
        self.conflicts = conflicts


class DuplicateIds(ValueError):
    def __init__(self, ids: list[str]) -> None:
        super().__init__("duplicate ids: " + ", ".join(ids[:20]))
        self.ids = ids


@dataclass(frozen=True)
class ImportResult:
    kind: str
    records: int
    sha256: str
    audit_seq: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_duplicates(ids: list[str]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise DuplicateIds(duplicates)


def import_precincts(
    database: Database, audit_log: AuditLog, path: Path, *, actor: str, now: dt.datetime
) -> ImportResult:
    records = [record for _, record in iter_records(path, PrecinctRecord)]
    _refuse_duplicates([r.id for r in records])
    conflicts = find_conflicts([r.to_domain() for r in records])
    if conflicts:
        raise BoundaryConflicts(conflicts)
    return _commit(
        database,
        audit_log,
        path,
        "precincts",
        len(records),
        lambda session: repository.replace_precincts(session, records),
        actor=actor,
        now=now,
    )


def import_elections(
    database: Database, audit_log: AuditLog, path: Path, *, actor: str, now: dt.datetime
) -> ImportResult:
    records = [record for _, record in iter_records(path, ElectionRecord)]
    _refuse_duplicates([r.id for r in records])
    return _commit(
        database,
        audit_log,
        path,
        "elections",
        len(records),
        lambda session: repository.upsert_elections(session, records),
        actor=actor,
        now=now,
    )


def _commit(
    database: Database,
    audit_log: AuditLog,
    path: Path,
    kind: str,
    count: int,
    store: Callable[[Session], None],
    *,
    actor: str,
    now: dt.datetime,
) -> ImportResult:
    sha256 = _sha256(path)
    with write_session(database) as session:
        store(session)
        receipt = audit_log.append(
            session,
            kind=IMPORT_KIND,
            subject=None,
            payload={
                "reference": kind,
                "records": count,
                "file_sha256": sha256,
                "actor": {"sub": actor, "roles": ["operator"]},
            },
            recorded_at=now,
        )
        repository.record_import(
            session, kind=kind, records=count, imported_at=now, audit_seq=receipt.seq
        )
    return ImportResult(kind=kind, records=count, sha256=sha256, audit_seq=receipt.seq)
