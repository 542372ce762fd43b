"""Adding a version of the precincts or the elections (operator CLI; SPEC §16).

A version is the whole published set; the one in force is never edited. A set is refused
whole, naming every reason, if it is empty, names one id twice, claims one address for two
precincts, or takes away a precinct or an election that a live record (a pending or active
override, a day registration in force) still points to. A dry run computes the same plan
(the changes and the blockers) and writes nothing. An accepted version is audited like any
decision, in the same transaction as its rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from service.domain.model import Election, Precinct
from service.domain.precincts import BoundaryConflict, find_conflicts
from service.domain.reference_versions import (
    Blocker,
    ElectionChanges,
    PrecinctChanges,
    election_blockers,
    election_changes,
    precinct_blockers,
    precinct_changes,
)
from service.usecases.ports import DuplicateRecord, Published, Storage, UnitOfWork

IMPORT_KIND = "reference.import"

V = TypeVar("V")


class ImportRefused(ValueError):
    """A reference set the service will not take; ``str`` says why in one line."""


class EmptySet(ImportRefused):
    def __init__(self, kind: str) -> None:
        super().__init__(f"the file holds no {kind}: a version may not be empty")


class BoundaryConflicts(ImportRefused):
    def __init__(self, conflicts: list[BoundaryConflict]) -> None:
        super().__init__(f"{len(conflicts)} boundary conflicts")
        self.conflicts = conflicts


class DuplicateIds(ImportRefused):
    def __init__(self, ids: list[str]) -> None:
        super().__init__("duplicate ids: " + ", ".join(ids[:20]))
        self.ids = ids


class LiveRecordsBlock(ImportRefused):
    """The new set would strand records in force; ``plan`` holds them and the changes."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__(f"{len(plan.blockers)} live records point to what it takes away")
        self.plan = plan


class ConcurrentImport(ImportRefused):
    def __init__(self, kind: str) -> None:
        super().__init__(f"another import of {kind} committed first; run this one again")


@dataclass(frozen=True)
class ReferenceFile(Generic[V]):
    """A published reference file, read whole: its records and the SHA-256 of its bytes."""

    records: Sequence[Published[V]]
    sha256: str


@dataclass(frozen=True)
class ImportPlan:
    """What a set would change against the version in force, and what blocks it."""

    kind: str
    current_version: int
    version: int
    records: int
    sha256: str
    changes: PrecinctChanges | ElectionChanges
    blockers: tuple[Blocker, ...]

    def changes_payload(self) -> dict[str, Any]:
        """Counts of the changes, for the audit entry (ids of precincts are public data)."""
        fields = vars(self.changes)
        return {name: (len(v) if isinstance(v, tuple) else v) for name, v in fields.items()}


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    audit_seq: int | None  # None for a dry run

    @property
    def kind(self) -> str:
        return self.plan.kind

    @property
    def records(self) -> int:
        return self.plan.records

    @property
    def version(self) -> int:
        return self.plan.version

    @property
    def sha256(self) -> str:
        return self.plan.sha256


def _refuse_duplicates(ids: list[str]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise DuplicateIds(duplicates)


def import_precincts(
    storage: Storage,
    source: ReferenceFile[Precinct],
    *,
    actor: str,
    now: dt.datetime,
    dry_run: bool = False,
) -> ImportResult:
    precincts = [record.value for record in source.records]
    if not precincts:
        raise EmptySet("precincts")
    _refuse_duplicates([p.id for p in precincts])
    conflicts = find_conflicts(precincts)
    if conflicts:
        raise BoundaryConflicts(conflicts)

    def plan(uow: UnitOfWork) -> ImportPlan:
        current = uow.reference.versions().precincts
        return ImportPlan(
            kind="precincts",
            current_version=current,
            version=current + 1,
            records=len(precincts),
            sha256=source.sha256,
            changes=precinct_changes(uow.reference.precincts(current), precincts),
            blockers=tuple(precinct_blockers(precincts, uow.reference.live_records(now=now))),
        )

    return _commit(
        storage,
        "precincts",
        plan,
        lambda uow, version: uow.reference.add_precincts(version, source.records),
        actor=actor,
        now=now,
        dry_run=dry_run,
    )


def import_elections(
    storage: Storage,
    source: ReferenceFile[Election],
    *,
    actor: str,
    now: dt.datetime,
    dry_run: bool = False,
) -> ImportResult:
    elections = [record.value for record in source.records]
    if not elections:
        raise EmptySet("elections")
    _refuse_duplicates([e.id for e in elections])

    def plan(uow: UnitOfWork) -> ImportPlan:
        current = uow.reference.versions().elections
        return ImportPlan(
            kind="elections",
            current_version=current,
            version=current + 1,
            records=len(elections),
            sha256=source.sha256,
            changes=election_changes(uow.reference.elections(current), elections),
            blockers=tuple(election_blockers(elections, uow.reference.live_records(now=now))),
        )

    return _commit(
        storage,
        "elections",
        plan,
        lambda uow, version: uow.reference.add_elections(version, source.records),
        actor=actor,
        now=now,
        dry_run=dry_run,
    )


def _commit(
    storage: Storage,
    kind: str,
    make_plan: Callable[[UnitOfWork], ImportPlan],
    store: Callable[[UnitOfWork, int], None],
    *,
    actor: str,
    now: dt.datetime,
    dry_run: bool,
) -> ImportResult:
    def write(uow: UnitOfWork) -> ImportResult:
        # The blockers are found in the transaction that adds the version, so a record made
        # after a dry run is still seen.
        plan = make_plan(uow)
        if plan.blockers:
            raise LiveRecordsBlock(plan)
        if dry_run:
            return ImportResult(plan, audit_seq=None)
        store(uow, plan.version)
        receipt = uow.audit.append(
            kind=IMPORT_KIND,
            subject=None,
            payload={
                "reference": plan.kind,
                "version": plan.version,
                "replaces": plan.current_version,
                "records": plan.records,
                "file_sha256": plan.sha256,
                "changes": plan.changes_payload(),
                "actor": {"sub": actor, "roles": ["operator"]},
            },
            recorded_at=now,
        )
        uow.reference.record_import(
            kind=plan.kind,
            version=plan.version,
            records=plan.records,
            sha256=plan.sha256,
            actor=actor,
            imported_at=now,
            audit_seq=receipt.seq,
        )
        return ImportResult(plan, audit_seq=receipt.seq)

    # The operator CLI has no event loop: the import commits on the caller's thread. A dry
    # run writes nothing, so its transaction commits nothing.
    try:
        return storage.transact_blocking(write)
    except DuplicateRecord:
        raise ConcurrentImport(kind) from None
