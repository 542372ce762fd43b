"""Service B: registering, on voting day, a citizen with no registration anywhere (SPEC §6).

Every answer, registration or refusal, is audited, and the first answer to an
Idempotency-Key is stored in the same transaction so that a retry replays it. One active
registration per voter and election is enforced by a UNIQUE column, not by a read followed
by a write: two concurrent requests for one voter cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlmodel import Session

from service.clock import Clock
from service.db import repository
from service.db.tables import DayRegistrationRow, IdempotencyRow
from service.domain.caller import Caller, Role
from service.domain.day_registration import (
    DayRegistrationRefusal,
    Refusal,
    precinct_refusal,
    voter_refusal,
)
from service.domain.model import Election, Precinct
from service.domain.window import lapse_instant
from service.errors import ErrorCode, NotFound, ServiceError
from service.reference import ReferenceCache
from service.usecases.context import actor_of, validated_iin
from service.usecases.eligibility import EligibilityService, decision_payload
from service.usecases.recording import IntegrityError, Receipt, Recorder

OPERATION = "day_registration.create"
KIND_REGISTERED = "day_registration.create"
KIND_REFUSED = "day_registration.refuse"
KIND_CANCELLED = "day_registration.cancel"


class IdempotencyConflict(ServiceError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT


class RegistrationNotActive(ServiceError):
    code = ErrorCode.REGISTRATION_NOT_ACTIVE


@dataclass(frozen=True)
class RegistrationView:
    id: str
    election_id: str
    precinct_id: str
    status: str
    registered_by: str
    registered_at: dt.datetime
    lapses_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    receipt: Receipt


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


@dataclass(frozen=True)
class Rendered:
    """An answer as sent, so that a retry with the same key gets it byte for byte."""

    status_code: int
    body: bytes
    media_type: str


Renderer = Callable[[Outcome], Rendered]


def registration_status(row: DayRegistrationRow, *, now: dt.datetime) -> str:
    if row.cancelled_at is not None:
        return "cancelled"
    if repository.as_utc(row.lapses_at) <= now:
        return "lapsed"
    return "active"


def _view(row: DayRegistrationRow, *, now: dt.datetime, receipt: Receipt) -> RegistrationView:
    return RegistrationView(
        id=row.id,
        election_id=row.election_id,
        precinct_id=row.precinct_id,
        status=registration_status(row, now=now),
        registered_by=row.registered_by,
        registered_at=repository.as_utc(row.registered_at),
        lapses_at=repository.as_utc(row.lapses_at),
        cancelled_at=repository.as_utc(row.cancelled_at) if row.cancelled_at else None,
        cancelled_by=row.cancelled_by,
        cancel_reason=row.cancel_reason,
        receipt=receipt,
    )


def request_digest(*, iin: str, election_id: str, precinct_id: str) -> str:
    canonical = orjson.dumps(
        {"iin": iin, "election_id": election_id, "precinct_id": precinct_id},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


class DayRegistrationService:
    def __init__(
        self,
        *,
        eligibility: EligibilityService,
        recorder: Recorder,
        reference: ReferenceCache,
        clock: Clock,
    ) -> None:
        self._eligibility = eligibility
        self._recorder = recorder
        self._reference = reference
        self._clock = clock

    async def register(
        self,
        *,
        raw_iin: str,
        election_id: str,
        precinct_id: str,
        idempotency_key: str,
        caller: Caller,
        request_id: str,
        render: Renderer,
    ) -> Rendered:
        iin = validated_iin(raw_iin)
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.get(precinct_id)
        if precinct is None:
            raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
        fingerprint = request_digest(iin=iin, election_id=election.id, precinct_id=precinct_id)
        replay = await self._recorder.read(
            lambda session: self._replay(session, caller, idempotency_key, fingerprint)
        )
        if replay is not None:
            return replay

        subject = self._recorder.subject_of(iin)
        context = {
            "election_id": election.id,
            "precinct_id": precinct_id,
            "actor": actor_of(caller),
            "request_id": request_id,
        }
        now = self._clock.now()
        refusal = precinct_refusal(election=election, precinct=precinct, now=now)
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

        def write(session: Session) -> Rendered:
            replayed = self._replay(session, caller, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed
            outcome = self._decide_and_store(
                session,
                refusal=refusal,
                subject=subject,
                election=election,
                precinct=precinct,
                caller=caller,
                context=context,
            )
            rendered = render(outcome)
            repository.remember_idempotent(
                session,
                IdempotencyRow(
                    caller=caller.subject,
                    operation=OPERATION,
                    key=idempotency_key,
                    request_sha256=fingerprint,
                    status_code=rendered.status_code,
                    response_body=rendered.body.decode(),
                    created_at=self._clock.now(),
                ),
            )
            return rendered

        try:
            return await self._recorder.transact(write)
        except IntegrityError:
            # Another request for this voter (or with this key) committed between our
            # check and our insert; run again so the loser is refused (or replayed)
            # properly, against the winner's committed rows.
            return await self._recorder.transact(write)

    def _replay(
        self, session: Session, caller: Caller, key: str, fingerprint: str
    ) -> Rendered | None:
        stored = repository.find_idempotent(
            session, caller=caller.subject, operation=OPERATION, key=key
        )
        if stored is None:
            return None
        if stored.request_sha256 != fingerprint:
            raise IdempotencyConflict
        return Rendered(
            stored.status_code, stored.response_body.encode(), _media_type(stored.status_code)
        )

    def _decide_and_store(
        self,
        session: Session,
        *,
        refusal: Refusal | None,
        subject: str,
        election: Election,
        precinct: Precinct,
        caller: Caller,
        context: dict[str, Any],
    ) -> Outcome:
        now = self._clock.now()
        existing = None
        if refusal is None:
            existing = repository.active_day_registration(
                session, election_id=election.id, subject=subject, now=now
            )
            if existing is not None:
                refusal = Refusal(
                    DayRegistrationRefusal.ALREADY_REGISTERED, precinct_id=existing.precinct_id
                )
        if refusal is not None:
            receipt = self._recorder.audit(
                session,
                kind=KIND_REFUSED,
                subject=subject,
                payload={
                    **context,
                    "refusal": refusal.code.value,
                    "reasons": [r.value for r in refusal.reasons],
                    "named_precinct_id": refusal.precinct_id,
                    "registration_id": existing.id if existing else None,
                },
                recorded_at=now,
            )
            return Refused(refusal, receipt, existing.id if existing else None)

        row = DayRegistrationRow(
            id=str(uuid.uuid4()),
            election_id=election.id,
            subject=subject,
            precinct_id=precinct.id,
            registered_by=caller.subject,
            registered_at=now,
            lapses_at=lapse_instant(election, precinct),
            active_key=repository.active_key(election.id, subject),
            audit_seq=0,
        )
        receipt = self._recorder.audit(
            session,
            kind=KIND_REGISTERED,
            subject=subject,
            payload={**context, "registration_id": row.id, "lapses_at": row.lapses_at.isoformat()},
            recorded_at=now,
        )
        row.audit_seq = receipt.seq
        repository.add_day_registration(session, row)
        return Registered(_view(row, now=now, receipt=receipt))

    async def get(self, registration_id: str, *, caller: Caller) -> RegistrationView:
        now = self._clock.now()

        def read(session: Session) -> RegistrationView:
            row = repository.get_day_registration(session, registration_id)
            # Service-centre staff see only what they registered; operators see all.
            visible = row is not None and (
                Role.OPERATOR in caller.roles or row.registered_by == caller.subject
            )
            if row is None or not visible:
                raise NotFound(ErrorCode.REGISTRATION_NOT_FOUND)
            return _view(row, now=now, receipt=self._recorder.receipt_of(session, row.audit_seq))

        return await self._recorder.read(read)

    async def cancel(
        self, registration_id: str, *, reason: str, caller: Caller, request_id: str
    ) -> RegistrationView:
        now = self._clock.now()

        def write(session: Session) -> RegistrationView:
            row = repository.get_day_registration(session, registration_id)
            if row is None:
                raise NotFound(ErrorCode.REGISTRATION_NOT_FOUND)
            status = registration_status(row, now=now)
            if status != "active":
                raise RegistrationNotActive(current_status=status)
            receipt = self._recorder.audit(
                session,
                kind=KIND_CANCELLED,
                subject=row.subject,
                payload={
                    "registration_id": row.id,
                    "election_id": row.election_id,
                    "precinct_id": row.precinct_id,
                    "reason": reason,
                    "actor": actor_of(caller),
                    "request_id": request_id,
                },
                recorded_at=now,
            )
            repository.cancel_day_registration(
                session, row, by=caller.subject, at=now, reason=reason
            )
            return _view(row, now=now, receipt=receipt)

        return await self._recorder.transact(write)


def _media_type(status_code: int) -> str:
    return "application/json" if status_code < 400 else "application/problem+json"
