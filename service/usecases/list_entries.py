"""The ways onto a list of SPEC §15 that are records of their own: presence lists of
special precincts (way 2) here; absentee certificates (way 4) are entries too
(``service.usecases.absentee``), cancelled by the same two-operator flow.

An operator imports the people present at a hospital, detention centre, ship, pasture or
military unit on voting day, as the head of the institution listed them, until 18:00 on E-1
in the precinct's zone. Each listed voter becomes an entry with its own audit entry, named
by the pseudonym only; each position of the import gets an answer, the entry or the
refusal, so nothing is silently dropped. The voter's one place on a list is taken in the same
transaction (``list_places``): a voter another way already holds is refused
``ALREADY_ON_LIST`` naming the holder.

Cancelling takes two operators, as for day registrations and overrides
(``service.usecases.undo``): one asks with a reason, a different one approves.

Operators list entries of every kind page by page, and find one voter's by IIN through the
pseudonym, the look-up audited, as they do day registrations and overrides.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.clock import Clock
from service.domain.caller import Caller
from service.domain.model import (
    HolderKind,
    ListEntryKind,
    ListEntryStatus,
    ListPlace,
    PrecinctKind,
)
from service.domain.undo import UndoStep
from service.domain.window import presence_window
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from service.usecases.context import actor_of, holder_payload, record_lookup, validated_iin
from service.usecases.eligibility import UNGUARDED, EligibilityService, LookupGuard
from service.usecases.paging import Page, collect_page, key_of
from service.usecases.ports import (
    ListEntryQuery,
    ListEntryRecord,
    PageKey,
    Pseudonymise,
    Receipt,
    ReferenceSource,
    Storage,
    UnitOfWork,
)
from service.usecases.undo import (
    TwoOperatorUndo,
    UndoContext,
    UndoTarget,
    UndoView,
    once_more_if_overtaken,
    undo_views,
)

KIND_ADDED = "list_entry.add"
KIND_REFUSED = "list_entry.refuse"
KIND_CANCELLED = "list_entry.cancel"
KIND_CANCELLATION_REQUESTED = "list_entry.cancel.request"
KIND_CANCELLATION_REFUSED = "list_entry.cancel.refuse"
KIND_LOOKUP = "list_entry.lookup"

ACTIVE, CANCELLED, USED = ListEntryStatus.ACTIVE.value, ListEntryStatus.CANCELLED.value, "used"


class ListEntryNotActive(ServiceError):
    code = ErrorCode.LIST_ENTRY_NOT_ACTIVE


@dataclass(frozen=True)
class ListEntryView:
    id: str
    election_id: str
    kind: ListEntryKind
    precinct_id: str
    document_ref: str
    status: str
    created_by: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    receipt: Receipt
    cancellation_requests: tuple[UndoView, ...] = ()


@dataclass(frozen=True)
class PositionAnswer:
    """The answer for one position of an import (its index, never the IIN): the entry made,
    or the refusal's code, with the holder for ``ALREADY_ON_LIST``."""

    index: int
    entry_id: str | None = None
    code: ErrorCode | None = None
    holder: ListPlace | None = None
    receipt: Receipt | None = None


@dataclass(frozen=True)
class PresenceImport:
    import_id: str
    election_id: str
    precinct_id: str
    answers: tuple[PositionAnswer, ...]

    @property
    def refused(self) -> int:
        return sum(1 for a in self.answers if a.entry_id is None)


def entry_view(
    record: ListEntryRecord, *, receipt: Receipt, requests: tuple[UndoView, ...] = ()
) -> ListEntryView:
    return ListEntryView(
        id=record.id,
        election_id=record.election_id,
        kind=record.kind,
        precinct_id=record.precinct_id,
        document_ref=record.document_ref,
        status=ACTIVE if record.cancelled_at is None else CANCELLED,
        created_by=record.created_by,
        created_at=record.created_at,
        cancelled_at=record.cancelled_at,
        cancelled_by=record.cancelled_by,
        cancel_reason=record.cancel_reason,
        receipt=receipt,
        cancellation_requests=requests,
    )


def _requests(uow: UnitOfWork, entry_id: str) -> tuple[UndoView, ...]:
    return undo_views(
        uow.undo_requests.of(target_kind=UndoTarget.LIST_ENTRY.value, target_id=entry_id)
    )


def found_entry(uow: UnitOfWork, entry_id: str) -> ListEntryRecord:
    record = uow.list_entries.get(entry_id)
    if record is None:
        raise NotFound(ErrorCode.LIST_ENTRY_NOT_FOUND)
    return record


def _refuse_unless_active(record: ListEntryRecord) -> None:
    if record.cancelled_at is not None:
        raise ListEntryNotActive(current_status=CANCELLED)


class EntryRefused(ServiceError):
    """A way onto a list refused once the voter was looked up: audited (``audit``), and
    ``code`` says why, the extensions what the caller may be told."""


@dataclass(frozen=True)
class AuditedRefusal:
    """A refusal whose audit entry commits with the unit of work; raised after it."""

    code: ErrorCode
    receipt: Receipt
    extensions: dict[str, Any]

    def error(self) -> EntryRefused:
        audit = {"seq": self.receipt.seq, "entry_hash": self.receipt.entry_hash}
        return EntryRefused(self.code, audit=audit, **self.extensions)


def audit_refusal(
    uow: UnitOfWork,
    *,
    kind: str,
    subject: str,
    context: dict[str, Any],
    code: ErrorCode,
    extensions: dict[str, Any],
    now: dt.datetime,
) -> AuditedRefusal:
    receipt = uow.audit.append(
        kind=kind,
        subject=subject,
        payload={**context, "refusal": code.value, **extensions},
        recorded_at=now,
    )
    return AuditedRefusal(code, receipt, extensions)


class CertificateUsed(ServiceError):
    code = ErrorCode.ABSENTEE_CERTIFICATE_USED


def refuse_unless_cancellable(uow: UnitOfWork, record: ListEntryRecord) -> None:
    """An entry may be cancelled while active; an absentee certificate only until it is
    used (the voter is then on the list of the precinct where they presented it)."""
    _refuse_unless_active(record)
    if record.kind is ListEntryKind.ABSENTEE_CERTIFICATE:
        certificate = uow.absentee_certificates.get(record.id)
        if certificate is not None and certificate.used_at_precinct_id is not None:
            raise CertificateUsed(current_status=USED)


def _payload(
    record: ListEntryRecord, caller: Caller, request_id: str, **extra: Any
) -> dict[str, Any]:
    return {
        "entry_id": record.id,
        "entry_kind": record.kind.value,
        "election_id": record.election_id,
        "precinct_id": record.precinct_id,
        "actor": actor_of(caller),
        "request_id": request_id,
        **extra,
    }


def cancel_entry(uow: UnitOfWork, done: UndoContext[ListEntryRecord]) -> ListEntryRecord:
    return uow.list_entries.cancel(
        done.record.id,
        by=done.caller.subject,
        at=done.at,
        reason=done.request.reason,
        audit_seq=done.receipt.seq,
    )


CANCELLATION: TwoOperatorUndo[ListEntryRecord, ListEntryView] = TwoOperatorUndo(
    target=UndoTarget.LIST_ENTRY,
    requested_kind=KIND_CANCELLATION_REQUESTED,
    refused_kind=KIND_CANCELLATION_REFUSED,
    approved_kind=KIND_CANCELLED,
    found=found_entry,
    refuse_unless_undoable=lambda uow, record, _caller, _now: refuse_unless_cancellable(
        uow, record
    ),
    payload=lambda record, _step, caller, request_id, said: _payload(
        record, caller, request_id, **said
    ),
    undo=cancel_entry,
    view=lambda uow, record, receipt, _now: entry_view(
        record, receipt=receipt, requests=_requests(uow, record.id)
    ),
)


class ListEntryService:
    def __init__(
        self,
        *,
        eligibility: EligibilityService,
        storage: Storage,
        reference: ReferenceSource,
        pseudonymise: Pseudonymise,
        clock: Clock,
        lookups: LookupGuard = UNGUARDED,
    ) -> None:
        self._eligibility = eligibility
        self._storage = storage
        self._reference = reference
        self._subject_of = pseudonymise
        self._clock = clock
        self._lookups = lookups

    async def import_presence_list(
        self,
        *,
        election_id: str,
        precinct_id: str,
        raw_iins: Sequence[str],
        document_ref: str,
        caller: Caller,
        request_id: str,
    ) -> PresenceImport:
        """Put each listed voter on the special precinct's list, or say why not.

        The precinct must exist, be special, and be one where the election is held; the
        import must come inside the presence window (SPEC §15). Those refuse the whole
        import; after that, each position is answered on its own.
        """
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.get(precinct_id)
        if precinct is None:
            raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
        if precinct.kind is not PrecinctKind.SPECIAL:
            raise InvalidInput(ErrorCode.PRECINCT_NOT_SPECIAL)
        if not election.holds(precinct):
            raise InvalidInput(ErrorCode.PRECINCT_OUTSIDE_TERRITORY)
        window = presence_window(election, precinct)
        if not window.contains(self._clock.now()):
            raise ServiceError(
                ErrorCode.PRESENCE_LISTS_CLOSED,
                opens_at=window.opens_at.isoformat(),
                closes_at=window.closes_at.isoformat(),
            )
        # Each position: the pseudonym of a valid IIN, or the code it was refused with.
        subjects: list[str | ErrorCode] = []
        for raw in raw_iins:
            try:
                subjects.append(self._subject_of(validated_iin(raw)))
            except ServiceError as exc:
                subjects.append(exc.code)
        import_id = str(uuid.uuid4())
        context = {
            "import_id": import_id,
            "election_id": election.id,
            "precinct_id": precinct.id,
            "document_ref": document_ref,
            "actor": actor_of(caller),
            "request_id": request_id,
            "reference": reference.versions.as_payload(),
        }

        def write(uow: UnitOfWork) -> PresenceImport:
            now = self._clock.now()
            answers: list[PositionAnswer] = []
            listed = [s for s in subjects if not isinstance(s, ErrorCode)]
            # Read once; a voter named twice is held by the first position's entry.
            places = uow.list_places.holders(election_id=election.id, subjects=listed, now=now)
            for index, subject in enumerate(subjects):
                if isinstance(subject, ErrorCode):
                    answers.append(PositionAnswer(index, code=subject))
                    continue
                holder = places.get(subject)
                if holder is not None:
                    receipt = uow.audit.append(
                        kind=KIND_REFUSED,
                        subject=subject,
                        payload={
                            **context,
                            "index": index,
                            "entry_kind": ListEntryKind.SPECIAL_PRESENCE.value,
                            "refusal": ErrorCode.ALREADY_ON_LIST.value,
                            "holder": holder_payload(holder),
                        },
                        recorded_at=now,
                    )
                    answers.append(
                        PositionAnswer(
                            index, code=ErrorCode.ALREADY_ON_LIST, holder=holder, receipt=receipt
                        )
                    )
                    continue
                entry_id = str(uuid.uuid4())
                receipt = uow.audit.append(
                    kind=KIND_ADDED,
                    subject=subject,
                    payload={
                        **context,
                        "index": index,
                        "entry_id": entry_id,
                        "entry_kind": ListEntryKind.SPECIAL_PRESENCE.value,
                    },
                    recorded_at=now,
                )
                uow.list_entries.add(
                    ListEntryRecord(
                        id=entry_id,
                        election_id=election.id,
                        subject=subject,
                        kind=ListEntryKind.SPECIAL_PRESENCE,
                        precinct_id=precinct.id,
                        document_ref=document_ref,
                        created_by=caller.subject,
                        created_at=now,
                        audit_seq=receipt.seq,
                    )
                )
                places[subject] = ListPlace(HolderKind.LIST_ENTRY, entry_id)
                answers.append(PositionAnswer(index, entry_id=entry_id, receipt=receipt))
            return PresenceImport(import_id, election.id, precinct.id, tuple(answers))

        # A concurrent way onto a list for one of these voters committed between our look
        # and our insert: run again, so that voter is refused against the winner's record.
        return await once_more_if_overtaken(lambda: self._storage.transact(write))

    async def get(self, entry_id: str) -> ListEntryView:
        def read(uow: UnitOfWork) -> ListEntryView:
            record = found_entry(uow, entry_id)
            return entry_view(
                record,
                receipt=uow.audit.receipt_of(record.audit_seq),
                requests=_requests(uow, record.id),
            )

        return await self._storage.read(read)

    async def request_cancellation(
        self, entry_id: str, *, reason: str, caller: Caller, request_id: str
    ) -> ListEntryView:
        """Ask for an active entry to be cancelled; it stays active (the voter stays on the
        special precinct's list) until a different operator approves the request."""
        return await CANCELLATION.request(
            self._storage,
            entry_id,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
        )

    async def decide_cancellation(
        self,
        entry_id: str,
        step: UndoStep,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
        undo_request_id: str | None = None,
    ) -> ListEntryView:
        """Approve the open request (a different operator from its requester: the entry is
        cancelled and the voter's place freed) or refuse it (the entry stays active)."""
        return await CANCELLATION.decide(
            self._storage,
            entry_id,
            step,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
            undo_request_id=undo_request_id,
        )

    async def page(
        self,
        query: ListEntryQuery,
        *,
        status: ListEntryStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[ListEntryView]:
        """One page of entries of every kind in the order they were made, oldest first."""
        after = key_of(cursor)
        return await self._storage.read(
            lambda uow: _collect(uow, query, status=status, limit=limit, after=after)
        )

    async def find(
        self,
        raw_iin: str,
        query: ListEntryQuery,
        *,
        status: ListEntryStatus | None,
        limit: int,
        cursor: str | None,
        caller: Caller,
        request_id: str,
    ) -> Page[ListEntryView]:
        """One voter's entries, found through the pseudonym; the look-up is audited."""
        subject = self._subject_of(validated_iin(raw_iin))
        after = key_of(cursor)
        await self._lookups.admit(caller=caller, voter_subject=subject)
        now = self._clock.now()

        def read_and_record(uow: UnitOfWork) -> Page[ListEntryView]:
            voter = replace(query, subject=subject)
            found = _collect(uow, voter, status=status, limit=limit, after=after)
            record_lookup(
                uow,
                kind=KIND_LOOKUP,
                subject=subject,
                found=[(v.id, v.election_id) for v in found.items],
                caller=caller,
                request_id=request_id,
                now=now,
            )
            return found

        return await self._storage.transact(read_and_record)


def _collect(
    uow: UnitOfWork,
    query: ListEntryQuery,
    *,
    status: ListEntryStatus | None,
    limit: int,
    after: PageKey | None,
) -> Page[ListEntryView]:
    # Each entry as the single GET shows it, its cancellation requests included.
    return collect_page(
        lambda start, n: uow.list_entries.page(query, after=start, limit=n),
        position=lambda record: PageKey(record.created_at, record.id),
        view=lambda record: entry_view(
            record,
            receipt=uow.audit.receipt_of(record.audit_seq),
            requests=_requests(uow, record.id),
        ),
        keep=lambda view: status is None or view.status == status,
        limit=limit,
        after=after,
    )
