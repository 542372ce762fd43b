"""Dict-backed fakes of the use cases' ports: what the database does, without one.

A unit of work runs on a copy of the store that replaces it only when the work returns, so a
failed unit leaves nothing behind, as a rolled-back transaction would.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from service.domain.model import (
    ActiveDayRegistration,
    ActiveListEntry,
    ActiveOverride,
    Election,
    HolderKind,
    ListPlace,
    OverrideKind,
    Person,
    Precinct,
    Registration,
)
from service.domain.overrides import OverrideStatus, kazakhstan_date, override_status
from service.domain.precincts import PrecinctDirectory
from service.domain.reference_versions import LiveRecord, LiveRecordKind
from service.domain.undo import UndoStatus
from service.errors import UpstreamUnavailable
from service.usecases.ports import (
    AbsenteeCertificateRecord,
    AccountHoldRecord,
    DayRegistrationQuery,
    DayRegistrationRecord,
    DecisionJob,
    DuplicateRecord,
    IdempotencyRecord,
    ListEntryQuery,
    ListEntryRecord,
    OverrideActionRecord,
    OverrideQuery,
    OverrideRecord,
    PageKey,
    Published,
    Receipt,
    Recorded,
    ReferenceData,
    ReferenceVersions,
    Standing,
    UndoRequestRecord,
    UnitOfWork,
)

T = TypeVar("T")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    kind: str
    subject: str | None
    payload: Mapping[str, Any]


@dataclass
class Store:
    entries: list[AuditEntry] = field(default_factory=list)
    overrides: dict[str, OverrideRecord] = field(default_factory=dict)
    override_actions: list[OverrideActionRecord] = field(default_factory=list)
    # The places of list_places that active overrides hold: (election, voter) -> override.
    active_overrides: dict[tuple[str, str], str] = field(default_factory=dict)
    # Day registrations that lapsed and whose places a later record freed.
    freed_registrations: set[str] = field(default_factory=set)
    day_registrations: dict[str, DayRegistrationRecord] = field(default_factory=dict)
    list_entries: dict[str, ListEntryRecord] = field(default_factory=dict)
    absentee_certificates: dict[str, AbsenteeCertificateRecord] = field(default_factory=dict)
    absentee_serials: dict[str, int] = field(default_factory=dict)
    undo_requests: dict[str, UndoRequestRecord] = field(default_factory=dict)
    account_holds: dict[str, AccountHoldRecord] = field(default_factory=dict)
    # Runs when a unit of work next decides an undo request, against the committed store: a
    # concurrent decision that commits first, so the database finds the request closed.
    before_next_decision: Callable[[], None] | None = None
    idempotency: dict[tuple[str, str, str], IdempotencyRecord] = field(default_factory=dict)
    decisions: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Reference versions, by kind ("precincts", "elections"): version number -> the set.
    precinct_sets: dict[int, list[Published[Precinct]]] = field(default_factory=dict)
    election_sets: dict[int, list[Published[Election]]] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [entry.kind for entry in self.entries]


def _entry_hash(seq: int) -> str:
    return hashlib.sha256(str(seq).encode()).hexdigest()


def _append(store: Store, *, kind: str, subject: str | None, payload: Mapping[str, Any]) -> Receipt:
    seq = len(store.entries) + 1
    store.entries.append(AuditEntry(seq, kind, subject, dict(payload)))
    return Receipt(seq, _entry_hash(seq))


def standing_in(store: Store, *, election_id: str, subject: str, now: dt.datetime) -> Standing:
    override = None
    override_id = store.active_overrides.get((election_id, subject))
    if override_id is not None:
        record = store.overrides[override_id]
        steps = {a.action for a in store.override_actions if a.override_id == override_id}
        status = override_status(steps, expires_on=record.expires_on, today=kazakhstan_date(now))
        if status is OverrideStatus.ACTIVE:
            override = ActiveOverride(record.id, OverrideKind(record.kind), record.precinct_id)
    day = next(
        (
            ActiveDayRegistration(r.id, r.precinct_id)
            for r in store.day_registrations.values()
            if r.election_id == election_id
            and r.subject == subject
            and r.cancelled_at is None
            and r.lapses_at > now
        ),
        None,
    )

    def used_at(entry_id: str) -> str | None:
        certificate = store.absentee_certificates.get(entry_id)
        return certificate.used_at_precinct_id if certificate else None

    entry = next(
        (
            ActiveListEntry(e.id, e.kind, e.precinct_id, used_at(e.id))
            for e in store.list_entries.values()
            if e.election_id == election_id and e.subject == subject and e.cancelled_at is None
        ),
        None,
    )
    return Standing(override=override, day_registration=day, list_entry=entry)


def places_in(store: Store, election_id: str) -> dict[str, ListPlace]:
    """The database's list_places, derived: the day registrations not cancelled (nor
    freed after they lapsed), the list entries not cancelled and the overrides' places."""
    places = {
        r.subject: ListPlace(HolderKind.DAY_REGISTRATION, r.id)
        for r in store.day_registrations.values()
        if r.election_id == election_id
        and r.cancelled_at is None
        and r.id not in store.freed_registrations
    }
    for (place_election, subject), override_id in store.active_overrides.items():
        if place_election == election_id:
            places[subject] = ListPlace(HolderKind.OVERRIDE, override_id)
    for e in store.list_entries.values():
        if e.election_id == election_id and e.cancelled_at is None:
            places[e.subject] = ListPlace(HolderKind.LIST_ENTRY, e.id)
    return places


def _equal(value: object, wanted: object | None) -> bool:
    return wanted is None or value == wanted


def _between(at: dt.datetime, after: dt.datetime | None, before: dt.datetime | None) -> bool:
    return (after is None or at > after) and (before is None or at < before)


R = TypeVar("R")


def _keyset(
    records: list[R],
    position: Callable[[R], tuple[dt.datetime, str]],
    *,
    after: PageKey | None,
    limit: int,
) -> list[R]:
    ordered = sorted(records, key=position)
    if after is not None:
        ordered = [r for r in ordered if position(r) > (after.at, after.id)]
    return ordered[:limit]


class FakeOverrides:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, override: OverrideRecord) -> None:
        self._store.overrides[override.id] = override

    def get(self, override_id: str) -> OverrideRecord | None:
        return self._store.overrides.get(override_id)

    def actions(self, override_id: str) -> list[OverrideActionRecord]:
        return [a for a in self._store.override_actions if a.override_id == override_id]

    def add_action(self, action: OverrideActionRecord) -> None:
        if any(
            a.override_id == action.override_id and a.action is action.action
            for a in self._store.override_actions
        ):
            raise DuplicateRecord
        self._store.override_actions.append(action)

    def page(
        self, query: OverrideQuery, *, after: PageKey | None, limit: int
    ) -> list[OverrideRecord]:
        q = query
        matching = [
            o
            for o in self._store.overrides.values()
            if _equal(o.subject, q.subject)
            and _equal(o.election_id, q.election_id)
            and _equal(o.kind, q.kind)
            and _equal(o.precinct_id, q.precinct_id)
            and _between(o.created_at, q.created_after, q.created_before)
        ]
        return _keyset(matching, lambda o: (o.created_at, o.id), after=after, limit=limit)

    def hold(self, *, election_id: str, subject: str, override_id: str) -> None:
        if subject in places_in(self._store, election_id):
            raise DuplicateRecord
        self._store.active_overrides[(election_id, subject)] = override_id

    def release(self, *, election_id: str, subject: str, override_id: str) -> None:
        if self._store.active_overrides.get((election_id, subject)) == override_id:
            del self._store.active_overrides[(election_id, subject)]


class FakeDayRegistrations:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, registration: DayRegistrationRecord) -> None:
        if registration.subject in places_in(self._store, registration.election_id):
            raise DuplicateRecord
        self._store.day_registrations[registration.id] = registration

    def get(self, registration_id: str) -> DayRegistrationRecord | None:
        return self._store.day_registrations.get(registration_id)

    def page(
        self, query: DayRegistrationQuery, *, after: PageKey | None, limit: int
    ) -> list[DayRegistrationRecord]:
        q = query
        matching = [
            r
            for r in self._store.day_registrations.values()
            if _equal(r.subject, q.subject)
            and _equal(r.election_id, q.election_id)
            and _equal(r.precinct_id, q.precinct_id)
            and _between(r.registered_at, q.registered_after, q.registered_before)
        ]
        return _keyset(matching, lambda r: (r.registered_at, r.id), after=after, limit=limit)

    def cancel(
        self, registration_id: str, *, by: str, at: dt.datetime, reason: str
    ) -> DayRegistrationRecord:
        cancelled = replace(
            self._store.day_registrations[registration_id],
            cancelled_at=at,
            cancelled_by=by,
            cancel_reason=reason,
        )
        self._store.day_registrations[registration_id] = cancelled
        return cancelled


class FakeListEntries:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, entry: ListEntryRecord) -> None:
        if entry.subject in places_in(self._store, entry.election_id):
            raise DuplicateRecord
        self._store.list_entries[entry.id] = entry

    def get(self, entry_id: str) -> ListEntryRecord | None:
        return self._store.list_entries.get(entry_id)

    def cancel(
        self, entry_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> ListEntryRecord:
        cancelled = replace(
            self._store.list_entries[entry_id],
            cancelled_at=at,
            cancelled_by=by,
            cancel_reason=reason,
            cancel_audit_seq=audit_seq,
        )
        self._store.list_entries[entry_id] = cancelled
        return cancelled

    def page(
        self, query: ListEntryQuery, *, after: PageKey | None, limit: int
    ) -> list[ListEntryRecord]:
        q = query
        matching = [
            e
            for e in self._store.list_entries.values()
            if _equal(e.subject, q.subject)
            and _equal(e.election_id, q.election_id)
            and _equal(e.kind, q.kind)
            and _equal(e.precinct_id, q.precinct_id)
            and _between(e.created_at, q.created_after, q.created_before)
        ]
        return _keyset(matching, lambda e: (e.created_at, e.id), after=after, limit=limit)


class FakeAbsenteeCertificates:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, certificate: AbsenteeCertificateRecord) -> None:
        taken = self._store.absentee_certificates.values()
        if any(
            c.election_id == certificate.election_id
            and (c.subject == certificate.subject or c.serial == certificate.serial)
            for c in taken
        ):
            raise DuplicateRecord
        self._store.absentee_certificates[certificate.entry_id] = certificate

    def get(self, entry_id: str) -> AbsenteeCertificateRecord | None:
        return self._store.absentee_certificates.get(entry_id)

    def of_voter(self, *, election_id: str, subject: str) -> AbsenteeCertificateRecord | None:
        return next(
            (
                c
                for c in self._store.absentee_certificates.values()
                if c.election_id == election_id and c.subject == subject
            ),
            None,
        )

    def next_serial(self, election_id: str) -> int:
        serials = self._store.absentee_serials
        serials[election_id] = serials.get(election_id, 0) + 1
        return serials[election_id]

    def use(
        self, entry_id: str, *, precinct_id: str, at: dt.datetime, by: str, audit_seq: int
    ) -> AbsenteeCertificateRecord:
        certificate = self._store.absentee_certificates[entry_id]
        if certificate.used_at_precinct_id is not None:
            raise DuplicateRecord
        used = replace(
            certificate,
            used_at_precinct_id=precinct_id,
            used_at=at,
            used_by=by,
            use_audit_seq=audit_seq,
        )
        self._store.absentee_certificates[entry_id] = used
        return used


class FakeListPlaces:
    def __init__(self, store: Store) -> None:
        self._store = store

    def holders(
        self, *, election_id: str, subjects: Sequence[str], now: dt.datetime
    ) -> dict[str, ListPlace]:
        places = places_in(self._store, election_id)
        found = {s: places[s] for s in subjects if s in places}
        for subject, place in list(found.items()):
            standing = standing_in(self._store, election_id=election_id, subject=subject, now=now)
            in_force = {
                r.id
                for r in (standing.override, standing.day_registration, standing.list_entry)
                if r
            }
            if place.holder_id not in in_force:  # lapsed: freed for the record to come
                del found[subject]
                self._store.active_overrides.pop((election_id, subject), None)
                self._store.freed_registrations.add(place.holder_id)
        return found


class FakeUndoRequests:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, request: UndoRequestRecord) -> None:
        if request.status is UndoStatus.PENDING and self._open(
            request.target_kind, request.target_id
        ):
            raise DuplicateRecord
        self._store.undo_requests[request.id] = request

    def of(self, *, target_kind: str, target_id: str) -> list[UndoRequestRecord]:
        return [
            r
            for r in self._store.undo_requests.values()
            if (r.target_kind, r.target_id) == (target_kind, target_id)
        ]

    def decide(
        self,
        request_id: str,
        *,
        status: UndoStatus,
        by: str,
        at: dt.datetime,
        reason: str | None,
        audit_seq: int,
    ) -> UndoRequestRecord:
        if self._store.before_next_decision is not None:
            self._store.before_next_decision()
            raise DuplicateRecord
        request = self._store.undo_requests[request_id]
        if request.status is not UndoStatus.PENDING:
            raise DuplicateRecord
        decided = replace(
            request,
            status=status,
            decided_by=by,
            decided_at=at,
            decision_reason=reason,
            decision_audit_seq=audit_seq,
        )
        self._store.undo_requests[request_id] = decided
        return decided

    def _open(self, target_kind: str, target_id: str) -> bool:
        return any(
            r.status is UndoStatus.PENDING
            for r in self.of(target_kind=target_kind, target_id=target_id)
        )


class FakeAccountHolds:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, hold: AccountHoldRecord) -> None:
        if hold.is_active and any(
            h.is_active and h.account == hold.account for h in self._store.account_holds.values()
        ):
            raise DuplicateRecord
        self._store.account_holds[hold.id] = hold

    def get(self, hold_id: str) -> AccountHoldRecord | None:
        return self._store.account_holds.get(hold_id)

    def active(self) -> list[AccountHoldRecord]:
        holds = [h for h in self._store.account_holds.values() if h.is_active]
        return sorted(holds, key=lambda h: (h.placed_at, h.id))

    def lift(
        self, hold_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> AccountHoldRecord:
        hold = self._store.account_holds[hold_id]
        if not hold.is_active:
            raise DuplicateRecord
        lifted = replace(
            hold, lifted_by=by, lifted_at=at, lift_reason=reason, lift_audit_seq=audit_seq
        )
        self._store.account_holds[hold_id] = lifted
        return lifted


class FakeStanding:
    def __init__(self, store: Store) -> None:
        self._store = store

    def of(self, *, election_id: str, subject: str, now: dt.datetime) -> Standing:
        return standing_in(self._store, election_id=election_id, subject=subject, now=now)


class FakeIdempotency:
    def __init__(self, store: Store) -> None:
        self._store = store

    def find(self, *, caller: str, operation: str, key: str) -> IdempotencyRecord | None:
        return self._store.idempotency.get((caller, operation, key))

    def remember(self, record: IdempotencyRecord) -> None:
        key = (record.caller, record.operation, record.key)
        if key in self._store.idempotency:
            raise DuplicateRecord
        self._store.idempotency[key] = record


class FakeAuditTrail:
    def __init__(self, store: Store) -> None:
        self._store = store

    def append(
        self,
        *,
        kind: str,
        subject: str | None,
        payload: Mapping[str, Any],
        recorded_at: dt.datetime,
    ) -> Receipt:
        return _append(self._store, kind=kind, subject=subject, payload=payload)

    def receipt_of(self, seq: int) -> Receipt:
        return Receipt(seq, _entry_hash(seq))


class FakeReferenceTables:
    def __init__(self, store: Store) -> None:
        self._store = store

    def versions(self) -> ReferenceVersions:
        return ReferenceVersions(
            precincts=max(self._store.precinct_sets, default=0),
            elections=max(self._store.election_sets, default=0),
        )

    def precincts(self, version: int) -> list[Precinct]:
        return [p.value for p in self._store.precinct_sets.get(version, [])]

    def precinct(self, precinct_id: str, *, version: int | None = None) -> Precinct | None:
        versions = [version] if version is not None else sorted(self._store.precinct_sets)[::-1]
        for v in versions:
            for p in self._store.precinct_sets.get(v, []):
                if p.value.id == precinct_id:
                    return p.value
        return None

    def elections(self, version: int) -> list[Election]:
        return [e.value for e in self._store.election_sets.get(version, [])]

    def live_records(self, *, now: dt.datetime) -> list[LiveRecord]:
        store = self._store
        records = [
            LiveRecord(LiveRecordKind.DAY_REGISTRATION, r.id, r.election_id, r.precinct_id)
            for r in store.day_registrations.values()
            if r.cancelled_at is None and r.lapses_at > now
        ]
        today = kazakhstan_date(now)
        for override_id, record in store.overrides.items():
            steps = {a.action for a in store.override_actions if a.override_id == override_id}
            status = override_status(steps, expires_on=record.expires_on, today=today)
            if status in (OverrideStatus.PENDING, OverrideStatus.ACTIVE):
                records.append(
                    LiveRecord(
                        LiveRecordKind.OVERRIDE, override_id, record.election_id, record.precinct_id
                    )
                )
        return records

    def add_precincts(self, version: int, precincts: Sequence[Published[Precinct]]) -> None:
        if version in self._store.precinct_sets:
            raise DuplicateRecord
        self._store.precinct_sets[version] = list(precincts)

    def add_elections(self, version: int, elections: Sequence[Published[Election]]) -> None:
        if version in self._store.election_sets:
            raise DuplicateRecord
        self._store.election_sets[version] = list(elections)

    def record_import(
        self,
        *,
        kind: str,
        version: int,
        records: int,
        sha256: str,
        actor: str,
        imported_at: dt.datetime,
        audit_seq: int,
    ) -> None:
        pass


class FakeUnitOfWork:
    def __init__(self, store: Store) -> None:
        self.overrides = FakeOverrides(store)
        self.day_registrations = FakeDayRegistrations(store)
        self.list_entries = FakeListEntries(store)
        self.list_places = FakeListPlaces(store)
        self.absentee_certificates = FakeAbsenteeCertificates(store)
        self.undo_requests = FakeUndoRequests(store)
        self.account_holds = FakeAccountHolds(store)
        self.standing = FakeStanding(store)
        self.idempotency = FakeIdempotency(store)
        self.audit = FakeAuditTrail(store)
        self.reference = FakeReferenceTables(store)


class FakeStorage:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.commits = 0
        # Runs inside the next unit of work, before its own work: a concurrent request's.
        self.before_next_unit: Callable[[UnitOfWork], None] | None = None

    def transact_blocking(self, work: Callable[[UnitOfWork], T]) -> T:
        if self.before_next_unit is not None:
            interloper, self.before_next_unit = self.before_next_unit, None
            self.transact_blocking(interloper)
        working = copy.deepcopy(self.store)
        result = work(FakeUnitOfWork(working))
        self.store.__dict__.update(working.__dict__)
        self.commits += 1
        return result

    async def transact(self, work: Callable[[UnitOfWork], T]) -> T:
        return self.transact_blocking(work)

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        return work(FakeUnitOfWork(copy.deepcopy(self.store)))


class FakeDecisionLog:
    """The group commit's contract: the decision taken from the standing as stored, then
    committed with its audit entry."""

    def __init__(self, store: Store, *, now: dt.datetime) -> None:
        self._store = store
        self._now = now

    async def decide_and_record(self, job: DecisionJob[T]) -> Recorded[T]:
        standing = (
            standing_in(
                self._store, election_id=job.election_id, subject=job.subject, now=self._now
            )
            if job.needs_standing
            else Standing()
        )
        decided = job.decide(standing, self._now)
        receipt = _append(self._store, kind=job.kind, subject=job.subject, payload=decided.payload)
        self._store.decisions[job.decision_id] = (decided.outcome, receipt.seq)
        return Recorded(decided.result, self._now, receipt)


class FakeReference:
    def __init__(self, *, precincts: Sequence[Precinct], elections: Sequence[Election]) -> None:
        self._data = ReferenceData(
            import_id=1,
            directory=PrecinctDirectory(list(precincts)),
            elections={e.id: e for e in elections},
        )

    async def current(self) -> ReferenceData:
        return self._data


class Registry:
    def __init__(self, *persons: Person, fault: str | None = None) -> None:
        self._persons = {p.iin: p for p in persons}
        self._fault = fault

    async def lookup(self, iin: str) -> Person | None:
        if self._fault is not None:
            raise UpstreamUnavailable(upstream="registry", failure=self._fault)
        return self._persons.get(iin)


class Addresses:
    def __init__(self, *registrations: Registration) -> None:
        self._registrations = registrations

    async def registrations(self, iin: str) -> tuple[Registration, ...]:
        return tuple(r for r in self._registrations if r.iin == iin)


def pseudonym(iin: str) -> str:
    return "v1:" + hashlib.sha256(iin.encode()).hexdigest()
