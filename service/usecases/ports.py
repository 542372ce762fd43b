"""What the use cases need of the world, as Protocols, and the plain values that cross them.

Adapters in ``service.db`` implement these against the database; the unit tests implement
them with dicts. Nothing here knows of sessions, table rows or HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from service.domain.access_log import TrailEntry
from service.domain.model import (
    ActiveDayRegistration,
    ActiveListEntry,
    ActiveOverride,
    Election,
    ListEntryKind,
    ListPlace,
    Person,
    Precinct,
    Registration,
)
from service.domain.overrides import OverrideAction
from service.domain.precincts import PrecinctDirectory
from service.domain.reference_versions import LiveRecord
from service.domain.statistics import DecisionKey, EntryKey
from service.domain.undo import UndoStatus

T = TypeVar("T")
V = TypeVar("V")

# ``v1:`` + HMAC of a normalised IIN: the only name for a voter that is ever stored.
Pseudonymise = Callable[[str], str]


class DuplicateRecord(Exception):
    """A write collided with a record that must be unique: a concurrent request won."""


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """Where a decision sits in the audit chain: given to the caller as proof."""

    seq: int
    entry_hash: str


@dataclass(frozen=True)
class Standing:
    """The operators' and service centres' records about a voter that come before addresses."""

    override: ActiveOverride | None = None
    day_registration: ActiveDayRegistration | None = None
    list_entry: ActiveListEntry | None = None


NO_STANDING = Standing()


@dataclass(frozen=True)
class ReferenceVersions:
    """The versions in force of each reference set (SPEC §16); 0 before the first import."""

    precincts: int = 0
    elections: int = 0

    def as_payload(self) -> dict[str, int]:
        return {"precincts": self.precincts, "elections": self.elections}


@dataclass(frozen=True)
class ReferenceData:
    import_id: int
    directory: PrecinctDirectory
    elections: dict[str, Election]
    versions: ReferenceVersions = ReferenceVersions()


@dataclass(frozen=True)
class Published(Generic[V]):
    """A reference record as imported: its value, and its published JSON kept verbatim."""

    value: V
    source: str


@dataclass(frozen=True)
class OverrideRecord:
    id: str
    election_id: str
    subject: str
    kind: str
    precinct_id: str | None
    reason_code: str
    reason_text: str
    document_ref: str
    expires_on: dt.date
    created_by: str
    created_at: dt.datetime
    audit_seq: int


@dataclass(frozen=True)
class OverrideActionRecord:
    override_id: str
    action: OverrideAction
    actor: str
    at: dt.datetime
    reason: str | None
    audit_seq: int


@dataclass(frozen=True)
class DayRegistrationRecord:
    id: str
    election_id: str
    subject: str
    precinct_id: str
    registered_by: str
    registered_at: dt.datetime
    lapses_at: dt.datetime
    audit_seq: int
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None


@dataclass(frozen=True)
class ListEntryRecord:
    """A way onto a list of SPEC §15 (a presence list entry, so far): made, then maybe
    cancelled, never edited. ``subject`` is the voter's pseudonym."""

    id: str
    election_id: str
    subject: str
    kind: ListEntryKind
    precinct_id: str
    document_ref: str
    created_by: str
    created_at: dt.datetime
    audit_seq: int
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    cancel_audit_seq: int | None = None


@dataclass(frozen=True)
class AbsenteeCertificateRecord:
    """An absentee certificate (SPEC §15 way 4): the list entry ``entry_id`` (its issuing
    precinct, voter, document, cancellation) and what is the certificate's own: the serial,
    unique in the election, and its one use, once recorded. One per voter and election,
    cancelled or not."""

    entry_id: str
    election_id: str
    subject: str
    serial: int
    used_at_precinct_id: str | None = None
    used_at: dt.datetime | None = None
    used_by: str | None = None
    use_audit_seq: int | None = None


@dataclass(frozen=True)
class UndoRequestRecord:
    """An operator's request to revoke an override or cancel a day registration, and the
    second operator's decision on it once taken."""

    id: str
    target_kind: str
    target_id: str
    requested_by: str
    requested_at: dt.datetime
    reason: str
    audit_seq: int
    status: UndoStatus = UndoStatus.PENDING
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_reason: str | None = None
    decision_audit_seq: int | None = None


@dataclass(frozen=True)
class AccountHoldRecord:
    """An account refused voter look-ups after looking up too many voters (SPEC §12), and,
    once an operator has lifted it, who did, when and why."""

    id: str
    account: str
    role: str
    placed_at: dt.datetime
    distinct_voters: int
    threshold: int
    audit_seq: int
    lifted_by: str | None = None
    lifted_at: dt.datetime | None = None
    lift_reason: str | None = None
    lift_audit_seq: int | None = None

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


@dataclass(frozen=True)
class PageKey:
    """Where a listing stands: records come ordered by (instant, id), a page starts after this."""

    at: dt.datetime
    id: str


@dataclass(frozen=True)
class OverrideQuery:
    """Which overrides a listing asks for; the derived status is filtered by the use case."""

    subject: str | None = None
    election_id: str | None = None
    kind: str | None = None
    precinct_id: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


@dataclass(frozen=True)
class DayRegistrationQuery:
    subject: str | None = None
    election_id: str | None = None
    precinct_id: str | None = None
    registered_after: dt.datetime | None = None
    registered_before: dt.datetime | None = None


@dataclass(frozen=True)
class ListEntryQuery:
    """Which list entries a listing asks for; the status is filtered by the use case."""

    subject: str | None = None
    election_id: str | None = None
    kind: ListEntryKind | None = None
    precinct_id: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


@dataclass(frozen=True)
class Answer:
    """An outcome as the caller rendered it, opaque here: kept and replayed byte for byte."""

    status: int
    body: bytes


@dataclass(frozen=True)
class IdempotencyRecord:
    caller: str
    operation: str
    key: str
    request_sha256: str
    answer: Answer
    created_at: dt.datetime


# --- the unit of work --------------------------------------------------------------------


class OverrideRepository(Protocol):
    def add(self, override: OverrideRecord) -> None: ...
    def get(self, override_id: str) -> OverrideRecord | None: ...
    def actions(self, override_id: str) -> list[OverrideActionRecord]: ...
    def add_action(self, action: OverrideActionRecord) -> None: ...

    def page(
        self, query: OverrideQuery, *, after: PageKey | None, limit: int
    ) -> list[OverrideRecord]:
        """Up to ``limit`` matching overrides after ``after``, by (created_at, id)."""

    def hold(self, *, election_id: str, subject: str, override_id: str) -> None:
        """Give the voter's one place on a list of the election to ``override_id``; raises
        ``DuplicateRecord`` if a record holds it (ask ``ListPlaceRepository.holders``
        first, which frees a lapsed holder's place)."""

    def release(self, *, election_id: str, subject: str, override_id: str) -> None:
        """Free the place ``override_id`` holds (it is revoked)."""


class DayRegistrationRepository(Protocol):
    def add(self, registration: DayRegistrationRecord) -> None:
        """Raises ``DuplicateRecord`` (at latest on commit) if the voter already holds one."""

    def get(self, registration_id: str) -> DayRegistrationRecord | None: ...

    def page(
        self, query: DayRegistrationQuery, *, after: PageKey | None, limit: int
    ) -> list[DayRegistrationRecord]:
        """Up to ``limit`` matching registrations after ``after``, by (registered_at, id)."""

    def cancel(
        self, registration_id: str, *, by: str, at: dt.datetime, reason: str
    ) -> DayRegistrationRecord: ...


class ListEntryRepository(Protocol):
    def add(self, entry: ListEntryRecord) -> None:
        """Records the entry and takes the voter's place on a list of the election in one
        step; ``DuplicateRecord`` (at latest on commit) if something else holds it."""

    def get(self, entry_id: str) -> ListEntryRecord | None: ...

    def cancel(
        self, entry_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> ListEntryRecord:
        """Cancel the active entry and free the voter's place."""

    def page(
        self, query: ListEntryQuery, *, after: PageKey | None, limit: int
    ) -> list[ListEntryRecord]:
        """Up to ``limit`` matching entries after ``after``, by (created_at, id)."""


class AbsenteeCertificateRepository(Protocol):
    def add(self, certificate: AbsenteeCertificateRecord) -> None:
        """Records a certificate (its list entry is added first); ``DuplicateRecord`` (at
        latest on commit) if the voter already has one in the election, or the serial is
        taken."""

    def get(self, entry_id: str) -> AbsenteeCertificateRecord | None: ...

    def of_voter(self, *, election_id: str, subject: str) -> AbsenteeCertificateRecord | None:
        """The voter's certificate in the election, cancelled or not."""

    def next_serial(self, election_id: str) -> int:
        """Take the election's next serial (1 for the first); concurrent takers wait for
        this transaction, so none gets the same number, and a rollback gives it back."""

    def use(
        self, entry_id: str, *, precinct_id: str, at: dt.datetime, by: str, audit_seq: int
    ) -> AbsenteeCertificateRecord:
        """Record the one use; ``DuplicateRecord`` (at latest on commit) if it was used."""


class ListPlaceRepository(Protocol):
    def holders(
        self, *, election_id: str, subjects: Sequence[str], now: dt.datetime
    ) -> dict[str, ListPlace]:
        """Who holds the places of those of ``subjects`` that are on a list, by subject.

        A place held by a record no longer in force at ``now`` (a day registration that has
        lapsed, an override that has expired) is freed in this transaction and not named:
        the record about to be made may take it."""


class UndoRequestRepository(Protocol):
    def add(self, request: UndoRequestRecord) -> None:
        """Raises ``DuplicateRecord`` (at latest on commit) if the target already has one open."""

    def of(self, *, target_kind: str, target_id: str) -> list[UndoRequestRecord]:
        """The target's requests, oldest first."""

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
        """Close the open request ``request_id``; ``DuplicateRecord`` if it is no longer open
        (a concurrent decision won)."""


class AccountHoldRepository(Protocol):
    def add(self, hold: AccountHoldRecord) -> None:
        """Raises ``DuplicateRecord`` (at latest on commit) if the account is already held."""

    def get(self, hold_id: str) -> AccountHoldRecord | None: ...

    def active(self) -> list[AccountHoldRecord]:
        """The holds in force, oldest first."""

    def lift(
        self, hold_id: str, *, by: str, at: dt.datetime, reason: str, audit_seq: int
    ) -> AccountHoldRecord:
        """Lift the active hold ``hold_id``; ``DuplicateRecord`` if it is no longer active
        (a concurrent lift won)."""


class StandingRepository(Protocol):
    def of(self, *, election_id: str, subject: str, now: dt.datetime) -> Standing: ...


class IdempotencyRepository(Protocol):
    def find(self, *, caller: str, operation: str, key: str) -> IdempotencyRecord | None: ...
    def remember(self, record: IdempotencyRecord) -> None: ...


class AuditTrail(Protocol):
    def append(
        self,
        *,
        kind: str,
        subject: str | None,
        payload: Mapping[str, Any],
        recorded_at: dt.datetime,
    ) -> Receipt:
        """Chain an entry in this unit of work; it commits, or not, with everything else."""

    def receipt_of(self, seq: int) -> Receipt: ...

    def about(self, subject: str, *, before_seq: int | None, limit: int) -> list[TrailEntry]:
        """The entries filed under ``subject`` (a pseudonym), newest first, at most
        ``limit``, only those with seq below ``before_seq`` when given."""

    def after(self, seq: int, *, limit: int) -> list[TrailEntry]:
        """At most ``limit`` entries with seq above ``seq``, in seq order."""


class StatisticsRepository(Protocol):
    """The public aggregates' counts (SPEC §17): a cache of the audit log, folded in order."""

    def lock_position(self) -> int:
        """The seq folded up to, locked against other folders until this unit ends."""

    def position(self) -> tuple[int, dt.datetime | None]: ...
    def add(self, counts: Mapping[DecisionKey, int], *, folded_seq: int, at: dt.datetime) -> None:
        """Add ``counts`` and move the position to ``folded_seq`` (under the lock)."""

    def decisions(self, election_id: str) -> list[tuple[DecisionKey, int]]: ...
    def entries_in_force(self, election_id: str, *, now: dt.datetime) -> list[tuple[EntryKey, int]]:
        """List entries in force by precinct and kind, day registrations included."""


class ReferenceRepository(Protocol):
    """The versioned reference sets (SPEC §16): read the ones in force, add a new version."""

    def versions(self) -> ReferenceVersions: ...
    def precincts(self, version: int) -> list[Precinct]: ...
    def precinct(self, precinct_id: str, *, version: int | None = None) -> Precinct | None:
        """The precinct as published in ``version``; with None, in the newest version that
        has it (a record made under an older boundary set still names its precinct)."""

    def elections(self, version: int) -> list[Election]: ...

    def live_records(self, *, now: dt.datetime) -> list[LiveRecord]:
        """Pending and active overrides and day registrations in force, in this transaction."""

    def add_precincts(self, version: int, precincts: Sequence[Published[Precinct]]) -> None: ...
    def add_elections(self, version: int, elections: Sequence[Published[Election]]) -> None: ...

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
        """A second import of the same version in a racing transaction is DuplicateRecord."""


class UnitOfWork(Protocol):
    @property
    def overrides(self) -> OverrideRepository: ...
    @property
    def day_registrations(self) -> DayRegistrationRepository: ...
    @property
    def list_entries(self) -> ListEntryRepository: ...
    @property
    def list_places(self) -> ListPlaceRepository: ...
    @property
    def absentee_certificates(self) -> AbsenteeCertificateRepository: ...
    @property
    def undo_requests(self) -> UndoRequestRepository: ...
    @property
    def account_holds(self) -> AccountHoldRepository: ...
    @property
    def standing(self) -> StandingRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def audit(self) -> AuditTrail: ...
    @property
    def reference(self) -> ReferenceRepository: ...
    @property
    def statistics(self) -> StatisticsRepository: ...


class Storage(Protocol):
    """Units of work, each one transaction: committed whole or not at all.

    ``work`` runs on a worker thread and must not await. A database fault is
    ``StorageUnavailable`` (nothing was acknowledged); a uniqueness collision is
    ``DuplicateRecord``; anything ``work`` raises rolls the transaction back and propagates.
    """

    async def transact(self, work: Callable[[UnitOfWork], T]) -> T: ...
    async def read(self, work: Callable[[UnitOfWork], T]) -> T: ...

    def transact_blocking(self, work: Callable[[UnitOfWork], T]) -> T:
        """``transact`` on the caller's thread, for commands without an event loop."""


class ReferenceSource(Protocol):
    async def current(self) -> ReferenceData: ...


# --- the upstreams ---------------------------------------------------------------------------


class PersonSource(Protocol):
    """The population registry: the person an IIN names, or None if it names nobody.

    An awaitable rather than a coroutine method, so a source may hand back a lookup already
    under way (a future) and the check needs no task to run two at once.
    """

    def lookup(self, iin: str) -> Awaitable[Person | None]: ...


class RegistrationSource(Protocol):
    """The address service: every registration of an IIN, possibly none."""

    def registrations(self, iin: str) -> Awaitable[tuple[Registration, ...]]: ...


# --- decisions (the group commit) ----------------------------------------------------------


@dataclass(frozen=True)
class Decided(Generic[T]):
    """What a job decided: its outcome, the audit payload (no personal data), its result."""

    outcome: str
    payload: Mapping[str, Any]
    result: T


@dataclass(frozen=True)
class DecisionJob(Generic[T]):
    """One decision to take and record. ``decide`` is pure: standing and instant in, result out."""

    kind: str
    subject: str
    election_id: str
    decision_id: str
    decide: Callable[[Standing, dt.datetime], Decided[T]]
    needs_standing: bool = True


@dataclass(frozen=True)
class Recorded(Generic[T]):
    result: T
    decided_at: dt.datetime
    receipt: Receipt


class DecisionLog(Protocol):
    async def decide_and_record(self, job: DecisionJob[T]) -> Recorded[T]:
        """Take ``job``'s decision from the voter's standing as stored at that instant, and
        commit it with its audit entry; returns once committed (``StorageUnavailable`` if not)."""


def already_decided(
    *,
    kind: str,
    subject: str,
    election_id: str,
    decision_id: str,
    outcome: str,
    payload: Mapping[str, Any],
) -> DecisionJob[None]:
    """A job for a decision taken beforehand (an ``undetermined`` one, say): no standing read."""

    def taken(_standing: Standing, _now: dt.datetime) -> Decided[None]:
        return Decided(outcome=outcome, payload=payload, result=None)

    return DecisionJob(
        kind=kind,
        subject=subject,
        election_id=election_id,
        decision_id=decision_id,
        decide=taken,
        needs_standing=False,
    )
