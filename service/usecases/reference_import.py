"""Loading precincts and elections into the service database (operator CLI).

A boundary set in which two precincts claim the same address is refused whole, listing
every conflict; an accepted import is audited like any decision, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from service.domain.model import Election, Precinct
from service.domain.precincts import BoundaryConflict, find_conflicts
from service.usecases.ports import Published, Storage, UnitOfWork

IMPORT_KIND = "reference.import"

V = TypeVar("V")


class BoundaryConflicts(ValueError):
    def __init__(self, conflicts: list[BoundaryConflict]) -> None:
        super().__init__(f"{len(conflicts)} boundary conflicts")
        self.conflicts = conflicts


class DuplicateIds(ValueError):
    def __init__(self, ids: list[str]) -> None:
        super().__init__("duplicate ids: " + ", ".join(ids[:20]))
        self.ids = ids


@dataclass(frozen=True)
class ReferenceFile(Generic[V]):
    """A published reference file, read whole: its records and the SHA-256 of its bytes."""

    records: Sequence[Published[V]]
    sha256: str


@dataclass(frozen=True)
class ImportResult:
    kind: str
    records: int
    sha256: str
    audit_seq: int


def _refuse_duplicates(ids: list[str]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise DuplicateIds(duplicates)


def import_precincts(
    storage: Storage, source: ReferenceFile[Precinct], *, actor: str, now: dt.datetime
) -> ImportResult:
    precincts = [record.value for record in source.records]
    _refuse_duplicates([p.id for p in precincts])
    conflicts = find_conflicts(precincts)
    if conflicts:
        raise BoundaryConflicts(conflicts)
    return _commit(
        storage,
        source,
        "precincts",
        lambda uow: uow.reference.replace_precincts(source.records),
        actor=actor,
        now=now,
    )


def import_elections(
    storage: Storage, source: ReferenceFile[Election], *, actor: str, now: dt.datetime
) -> ImportResult:
    _refuse_duplicates([record.value.id for record in source.records])
    return _commit(
        storage,
        source,
        "elections",
        lambda uow: uow.reference.upsert_elections(source.records),
        actor=actor,
        now=now,
    )


def _commit(
    storage: Storage,
    source: ReferenceFile[V],
    kind: str,
    store: Callable[[UnitOfWork], None],
    *,
    actor: str,
    now: dt.datetime,
) -> ImportResult:
    count = len(source.records)

    def write(uow: UnitOfWork) -> int:
        store(uow)
        receipt = uow.audit.append(
            kind=IMPORT_KIND,
            subject=None,
            payload={
                "reference": kind,
                "records": count,
                "file_sha256": source.sha256,
                "actor": {"sub": actor, "roles": ["operator"]},
            },
            recorded_at=now,
        )
        uow.reference.record_import(
            kind=kind, records=count, imported_at=now, audit_seq=receipt.seq
        )
        return receipt.seq

    # The operator CLI has no event loop: the import commits on the caller's thread.
    audit_seq = storage.transact_blocking(write)
    return ImportResult(kind=kind, records=count, sha256=source.sha256, audit_seq=audit_seq)
