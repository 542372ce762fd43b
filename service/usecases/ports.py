"""What the use cases need of the world, as Protocols, and the plain values that cross them.

Adapters in ``service.db`` implement these against the database; the unit tests implement
them with dicts. Nothing here knows of sessions, table rows or HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from service.domain.model import (
    ActiveDayRegistration,
    ActiveOverride,
    Election,
    Person,
    Precinct,
    Registration,
)
from service.domain.overrides import OverrideAction
from service.domain.precincts import PrecinctDirectory

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


NO_STANDING = Standing()


@dataclass(frozen=True)
class ReferenceData:
    import_id: int
    directory: PrecinctDirectory
    elections: dict[str, Election]


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
        """Mark ``override_id`` as the voter's one active override in the election."""

    def release(self, *, election_id: str, subject: str) -> None: ...


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


class ReferenceRepository(Protocol):
    def replace_precincts(self, precincts: Sequence[Published[Precinct]]) -> None: ...
    def upsert_elections(self, elections: Sequence[Published[Election]]) -> None: ...

    def record_import(
        self, *, kind: str, records: int, imported_at: dt.datetime, audit_seq: int
    ) -> None: ...


class UnitOfWork(Protocol):
    @property
    def overrides(self) -> OverrideRepository: ...
    @property
    def day_registrations(self) -> DayRegistrationRepository: ...
    @property
    def standing(self) -> StandingRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def audit(self) -> AuditTrail: ...
    @property
    def reference(self) -> ReferenceRepository: ...


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
