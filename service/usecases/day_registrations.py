"""Service B: registering, on voting day, a citizen with no registration anywhere (SPEC §6).

Every outcome, registration or refusal, is audited, and the first answer to an
Idempotency-Key is stored in the same transaction so that a retry replays it. One active
registration per voter and election is enforced by the storage (a unique record), not by a
read followed by a write: two concurrent requests for one voter cannot both succeed.

Cancelling takes two operators: one asks, with a reason, and the registration stays active
(the voter cannot register again) until a different operator approves the request
(``service.usecases.undo``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from service.clock import Clock
from service.domain.caller import Caller, Role
from service.domain.day_registration import (
    DayRegistrationRefusal,
    Refusal,
    RegistrationStatus,
    precinct_refusal,
    voter_refusal,
)
from service.domain.model import Election, HolderKind, Precinct
from service.domain.undo import UndoStep
from service.domain.window import lapse_instant
from service.errors import ErrorCode, NotFound, ServiceError
from service.usecases.context import actor_of, holder_payload, record_lookup, validated_iin
from service.usecases.eligibility import (
    UNGUARDED,
    EligibilityService,
    LookupGuard,
    decision_payload,
)
from service.usecases.paging import Page, collect_page, key_of
from service.usecases.ports import (
    Answer,
    DayRegistrationQuery,
    DayRegistrationRecord,
    DuplicateRecord,
    IdempotencyRecord,
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
    undo_views,
)

OPERATION = "day_registration.create"
KIND_REGISTERED = "day_registration.create"
KIND_REFUSED = "day_registration.refuse"
KIND_CANCELLED = "day_registration.cancel"
KIND_CANCELLATION_REQUESTED = "day_registration.cancel.request"
KIND_CANCELLATION_REFUSED = "day_registration.cancel.refuse"
KIND_LOOKUP = "day_registration.lookup"


class IdempotencyConflict(ServiceError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT


class RegistrationNotActive(ServiceError):
    code = ErrorCode.REGISTRATION_NOT_ACTIVE


@dataclass(frozen=True)
class RegistrationView:
    id: str
    election_id: str
    precinct_id: str
    status: RegistrationStatus
    registered_by: str
    registered_at: dt.datetime
    lapses_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    receipt: Receipt
    cancellation_requests: tuple[UndoView, ...] = ()


@dataclass(frozen=True)
class Registered:
    registration: RegistrationView


@dataclass(frozen=True)
class Refused:
    refusal: Refusal
    receipt: Receipt
    registration_id: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


Outcome = Registered | Refused
# The caller's rendering of an outcome, which a retry with the same key gets back unchanged.
AnswerFor = Callable[[Outcome], Answer]


def registration_status(record: DayRegistrationRecord, *, now: dt.datetime) -> RegistrationStatus:
    if record.cancelled_at is not None:
        return RegistrationStatus.CANCELLED
    if record.lapses_at <= now:
        return RegistrationStatus.LAPSED
    return RegistrationStatus.ACTIVE


def _view(
    record: DayRegistrationRecord,
    *,
    now: dt.datetime,
    receipt: Receipt,
    requests: tuple[UndoView, ...] = (),
) -> RegistrationView:
    return RegistrationView(
        id=record.id,
        election_id=record.election_id,
        precinct_id=record.precinct_id,
        status=registration_status(record, now=now),
        registered_by=record.registered_by,
        registered_at=record.registered_at,
        lapses_at=record.lapses_at,
        cancelled_at=record.cancelled_at,
        cancelled_by=record.cancelled_by,
        cancel_reason=record.cancel_reason,
        receipt=receipt,
        cancellation_requests=requests,
    )


def _requests(uow: UnitOfWork, registration_id: str) -> tuple[UndoView, ...]:
    return undo_views(
        uow.undo_requests.of(
            target_kind=UndoTarget.DAY_REGISTRATION.value, target_id=registration_id
        )
    )


def _found(uow: UnitOfWork, registration_id: str) -> DayRegistrationRecord:
    record = uow.day_registrations.get(registration_id)
    if record is None:
        raise NotFound(ErrorCode.REGISTRATION_NOT_FOUND)
    return record


def _refuse_unless_active(record: DayRegistrationRecord, *, now: dt.datetime) -> None:
    status = registration_status(record, now=now)
    if status != "active":
        raise RegistrationNotActive(current_status=status)


def _payload(
    record: DayRegistrationRecord, caller: Caller, request_id: str, **extra: Any
) -> dict[str, Any]:
    return {
        "registration_id": record.id,
        "election_id": record.election_id,
        "precinct_id": record.precinct_id,
        "actor": actor_of(caller),
        "request_id": request_id,
        **extra,
    }


def request_digest(*, iin: str, election_id: str, precinct_id: str) -> str:
    canonical = orjson.dumps(
        {"iin": iin, "election_id": election_id, "precinct_id": precinct_id},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _cancel(uow: UnitOfWork, done: UndoContext[DayRegistrationRecord]) -> DayRegistrationRecord:
    return uow.day_registrations.cancel(
        done.record.id, by=done.caller.subject, at=done.at, reason=done.request.reason
    )


CANCELLATION: TwoOperatorUndo[DayRegistrationRecord, RegistrationView] = TwoOperatorUndo(
    target=UndoTarget.DAY_REGISTRATION,
    requested_kind=KIND_CANCELLATION_REQUESTED,
    refused_kind=KIND_CANCELLATION_REFUSED,
    approved_kind=KIND_CANCELLED,
    found=_found,
    refuse_unless_undoable=lambda _uow, record, _caller, now: _refuse_unless_active(
        record, now=now
    ),
    payload=lambda record, _step, caller, request_id, said: _payload(
        record, caller, request_id, **said
    ),
    undo=_cancel,
    view=lambda uow, record, receipt, now: _view(
        record, now=now, receipt=receipt, requests=_requests(uow, record.id)
    ),
)


class DayRegistrationService:
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

    async def register(
        self,
        *,
        raw_iin: str,
        election_id: str,
        precinct_id: str,
        idempotency_key: str,
        caller: Caller,
        request_id: str,
        answer_for: AnswerFor,
    ) -> Answer:
        """Register the voter or refuse, audited, and return the caller's answer to it.

        ``answer_for`` renders the outcome (the API makes its HTTP response of it); the
        answer is remembered under ``idempotency_key`` in the same transaction as the
        registration or refusal and its audit entry, so a retry after a crash finds both or
        neither, and a retry with the same key and request gets the first answer back. The
        same key with another request is ``IdempotencyConflict``.
        """
        iin = validated_iin(raw_iin)
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.get(precinct_id)
        if precinct is None:
            raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
        fingerprint = request_digest(iin=iin, election_id=election.id, precinct_id=precinct_id)
        replay = await self._storage.read(
            lambda uow: self._replay(uow, caller, idempotency_key, fingerprint)
        )
        if replay is not None:
            return replay

        subject = self._subject_of(iin)
        context = {
            "election_id": election.id,
            "precinct_id": precinct_id,
            "actor": actor_of(caller),
            "request_id": request_id,
            "reference": reference.versions.as_payload(),
        }
        now = self._clock.now()
        refusal = precinct_refusal(election=election, precinct=precinct, now=now)
        # Only about the voter: whether another way onto a list holds them is asked too.
        about_the_voter = refusal is None
        if refusal is None:
            assessment = await self._eligibility.assess(
                iin=iin,
                election=election,
                audit_kind=KIND_REFUSED,
                context=context,
                use_day_registration=False,
            )
            refusal = voter_refusal(
                assessment.decision, assessment.registrations, voting_day=election.voting_day
            )
            context["decision"] = decision_payload(assessment.decision)

        def write(uow: UnitOfWork) -> Answer:
            replayed = self._replay(uow, caller, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed
            in_force = uow.reference.versions().precincts
            if (
                in_force != reference.versions.precincts
                and uow.reference.precinct(precinct_id, version=in_force) is None
            ):
                # A boundary set without this precinct was added since this replica last
                # looked: never register anyone where the set in force has no precinct.
                raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
            outcome = self._decide_and_store(
                uow,
                refusal=refusal,
                about_the_voter=about_the_voter,
                subject=subject,
                election=election,
                precinct=precinct,
                caller=caller,
                context=context,
            )
            answer = answer_for(outcome)
            uow.idempotency.remember(
                IdempotencyRecord(
                    caller=caller.subject,
                    operation=OPERATION,
                    key=idempotency_key,
                    request_sha256=fingerprint,
                    answer=answer,
                    created_at=self._clock.now(),
                )
            )
            return answer

        try:
            return await self._storage.transact(write)
        except DuplicateRecord:
            # Another request for this voter (or with this key) committed between our
            # check and our insert; run again so the loser is refused (or replayed)
            # properly, against the winner's committed records.
            return await self._storage.transact(write)

    @staticmethod
    def _replay(uow: UnitOfWork, caller: Caller, key: str, fingerprint: str) -> Answer | None:
        stored = uow.idempotency.find(caller=caller.subject, operation=OPERATION, key=key)
        if stored is None:
            return None
        if stored.request_sha256 != fingerprint:
            raise IdempotencyConflict
        return stored.answer

    def _decide_and_store(
        self,
        uow: UnitOfWork,
        *,
        refusal: Refusal | None,
        about_the_voter: bool,
        subject: str,
        election: Election,
        precinct: Precinct,
        caller: Caller,
        context: dict[str, Any],
    ) -> Outcome:
        now = self._clock.now()
        existing = None
        if about_the_voter and (
            refusal is None or refusal.code is not DayRegistrationRefusal.NOT_ELIGIBLE
        ):
            # Another way onto a list (a list entry or an override) holds an eligible voter:
            # that is their list, whatever their addresses would say (SPEC §15).
            place = uow.list_places.holders(election_id=election.id, subjects=[subject], now=now)
            holder = place.get(subject)
            if holder is not None and holder.holder_kind is not HolderKind.DAY_REGISTRATION:
                refusal = Refusal(DayRegistrationRefusal.ALREADY_ON_LIST, holder=holder)
        if refusal is None:
            standing = uow.standing.of(election_id=election.id, subject=subject, now=now)
            existing = standing.day_registration
            if existing is not None:
                refusal = Refusal(
                    DayRegistrationRefusal.ALREADY_REGISTERED, precinct_id=existing.precinct_id
                )
        if refusal is not None:
            receipt = uow.audit.append(
                kind=KIND_REFUSED,
                subject=subject,
                payload={
                    **context,
                    "refusal": refusal.code.value,
                    "reasons": [r.value for r in refusal.reasons],
                    "named_precinct_id": refusal.precinct_id,
                    "registration_id": existing.id if existing else None,
                    **({"holder": holder_payload(refusal.holder)} if refusal.holder else {}),
                },
                recorded_at=now,
            )
            return Refused(refusal, receipt, existing.id if existing else None)

        registration_id = str(uuid.uuid4())
        lapses_at = lapse_instant(election, precinct)
        receipt = uow.audit.append(
            kind=KIND_REGISTERED,
            subject=subject,
            payload={
                **context,
                "registration_id": registration_id,
                "lapses_at": lapses_at.isoformat(),
            },
            recorded_at=now,
        )
        record = DayRegistrationRecord(
            id=registration_id,
            election_id=election.id,
            subject=subject,
            precinct_id=precinct.id,
            registered_by=caller.subject,
            registered_at=now,
            lapses_at=lapses_at,
            audit_seq=receipt.seq,
        )
        uow.day_registrations.add(record)
        return Registered(_view(record, now=now, receipt=receipt))

    async def precinct(self, precinct_id: str) -> Precinct | None:
        """A registration's precinct: as in force, or, if a later boundary set dropped it
        after the registration ended, as last published. None only for an unknown id."""
        in_force = (await self._reference.current()).directory.get(precinct_id)
        if in_force is not None:
            return in_force
        return await self._storage.read(lambda uow: uow.reference.precinct(precinct_id))

    async def get(self, registration_id: str, *, caller: Caller) -> RegistrationView:
        now = self._clock.now()

        def read(uow: UnitOfWork) -> RegistrationView:
            record = uow.day_registrations.get(registration_id)
            # Service-centre staff see only what they registered; operators see all.
            visible = record is not None and (
                Role.OPERATOR in caller.roles or record.registered_by == caller.subject
            )
            if record is None or not visible:
                raise NotFound(ErrorCode.REGISTRATION_NOT_FOUND)
            return _view(
                record,
                now=now,
                receipt=uow.audit.receipt_of(record.audit_seq),
                requests=_requests(uow, record.id),
            )

        return await self._storage.read(read)

    async def request_cancellation(
        self, registration_id: str, *, reason: str, caller: Caller, request_id: str
    ) -> RegistrationView:
        """Ask for an active registration to be cancelled; it stays active until a
        different operator approves the request (``decide_cancellation``)."""
        return await CANCELLATION.request(
            self._storage,
            registration_id,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
        )

    async def decide_cancellation(
        self,
        registration_id: str,
        step: UndoStep,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
        undo_request_id: str | None = None,
    ) -> RegistrationView:
        """Approve the open cancellation request (a different operator from its requester:
        the registration is then cancelled and the voter may register again) or refuse it
        (anyone, the requester withdrawing it included: the registration stays active)."""
        return await CANCELLATION.decide(
            self._storage,
            registration_id,
            step,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
            undo_request_id=undo_request_id,
        )

    async def page(
        self,
        query: DayRegistrationQuery,
        *,
        status: RegistrationStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[RegistrationView]:
        """One page of registrations in the order they were made, oldest first."""
        after = key_of(cursor)
        now = self._clock.now()
        return await self._storage.read(
            lambda uow: _collect(uow, query, status=status, limit=limit, after=after, now=now)
        )

    async def find(
        self,
        raw_iin: str,
        query: DayRegistrationQuery,
        *,
        status: RegistrationStatus | None,
        limit: int,
        cursor: str | None,
        caller: Caller,
        request_id: str,
    ) -> Page[RegistrationView]:
        """One voter's registrations, found through the pseudonym; the look-up is audited."""
        subject = self._subject_of(validated_iin(raw_iin))
        after = key_of(cursor)
        await self._lookups.admit(caller=caller, voter_subject=subject)
        now = self._clock.now()

        def read_and_record(uow: UnitOfWork) -> Page[RegistrationView]:
            found = _collect(
                uow,
                replace(query, subject=subject),
                status=status,
                limit=limit,
                after=after,
                now=now,
            )
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
    query: DayRegistrationQuery,
    *,
    status: RegistrationStatus | None,
    limit: int,
    after: PageKey | None,
    now: dt.datetime,
) -> Page[RegistrationView]:
    return collect_page(
        lambda start, n: uow.day_registrations.page(query, after=start, limit=n),
        position=lambda record: PageKey(record.registered_at, record.id),
        # Each registration as the single GET shows it, its cancellation requests included.
        view=lambda record: _view(
            record,
            now=now,
            receipt=uow.audit.receipt_of(record.audit_seq),
            requests=_requests(uow, record.id),
        ),
        keep=lambda view: status is None or view.status == status,
        limit=limit,
        after=after,
    )
