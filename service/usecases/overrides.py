"""Manual overrides with maker-checker (SPEC §7).

An override is created ``pending`` by one operator and becomes ``active`` only when a
different operator approves it. Revoking it takes two people too: one operator asks, with a
reason, and the override stays active until a different operator approves the request
(``service.usecases.undo``). Nothing is edited in place: creation, approval, refusal, each
revocation request and its decision are rows of their own and audit entries of their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

from service.clock import Clock
from service.domain.caller import Caller
from service.domain.model import HolderKind, OverrideKind
from service.domain.overrides import (
    OverrideAction,
    OverrideReason,
    OverrideStatus,
    default_expiry,
    kazakhstan_date,
    override_status,
    refusal_of,
)
from service.domain.undo import UndoStep
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from service.usecases.context import actor_of, holder_payload, record_lookup, validated_iin
from service.usecases.eligibility import (
    UNGUARDED,
    LookupGuard,
    ensure_held_at,
    ensure_voted_by_citizens,
)
from service.usecases.paging import Page, collect_page, key_of
from service.usecases.ports import (
    OverrideActionRecord,
    OverrideQuery,
    OverrideRecord,
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

KIND_CREATED = "override.create"
KIND_LOOKUP = "override.lookup"
KIND_BY_ACTION = {
    OverrideAction.APPROVE: "override.approve",
    OverrideAction.REFUSE: "override.refuse",
    OverrideAction.REVOKE: "override.revoke",
}
KIND_REVOCATION_REQUESTED = "override.revoke.request"
KIND_REVOCATION_REFUSED = "override.revoke.refuse"


class OverrideRefused(ServiceError):
    """A maker-checker or state rule refused the step; ``code`` says which."""

    code = ErrorCode.OVERRIDE_NOT_PENDING


class OverrideConflict(ServiceError):
    code = ErrorCode.OVERRIDE_CONFLICT


@dataclass(frozen=True)
class ActionView:
    action: str
    by: str
    at: dt.datetime
    reason: str | None


@dataclass(frozen=True)
class OverrideView:
    id: str
    election_id: str
    subject: str
    kind: str
    precinct_id: str | None
    reason_code: str
    reason_text: str
    document_ref: str
    expires_on: dt.date
    status: OverrideStatus
    created_by: str
    created_at: dt.datetime
    actions: tuple[ActionView, ...]
    revocation_requests: tuple[UndoView, ...] = ()
    receipt: Receipt | None = None


@dataclass(frozen=True)
class NewOverride:
    raw_iin: str
    election_id: str
    kind: OverrideKind
    precinct_id: str | None
    reason_code: OverrideReason
    reason_text: str
    document_ref: str
    expires_on: dt.date | None


def _view(
    uow: UnitOfWork, row: OverrideRecord, *, now: dt.datetime, receipt: Receipt | None = None
) -> OverrideView:
    actions = uow.overrides.actions(row.id)
    status = override_status(
        {a.action for a in actions}, expires_on=row.expires_on, today=kazakhstan_date(now)
    )
    return OverrideView(
        id=row.id,
        election_id=row.election_id,
        subject=row.subject,
        kind=row.kind,
        precinct_id=row.precinct_id,
        reason_code=row.reason_code,
        reason_text=row.reason_text,
        document_ref=row.document_ref,
        expires_on=row.expires_on,
        status=status,
        created_by=row.created_by,
        created_at=row.created_at,
        actions=tuple(ActionView(a.action.value, a.actor, a.at, a.reason) for a in actions),
        revocation_requests=undo_views(
            uow.undo_requests.of(target_kind=UndoTarget.OVERRIDE.value, target_id=row.id)
        ),
        receipt=receipt,
    )


def _payload(row: OverrideRecord, caller: Caller, request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "override_id": row.id,
        "election_id": row.election_id,
        "kind": row.kind,
        "precinct_id": row.precinct_id,
        "reason_code": row.reason_code,
        "document_ref": row.document_ref,
        "expires_on": row.expires_on.isoformat(),
        "actor": actor_of(caller),
        "request_id": request_id,
        **extra,
    }


def _found(uow: UnitOfWork, override_id: str) -> OverrideRecord:
    row = uow.overrides.get(override_id)
    if row is None:
        raise NotFound(ErrorCode.OVERRIDE_NOT_FOUND)
    return row


def _refuse_unless_allowed(
    uow: UnitOfWork,
    row: OverrideRecord,
    action: OverrideAction,
    *,
    caller: Caller,
    now: dt.datetime,
) -> None:
    status = _view(uow, row, now=now).status
    refusal = refusal_of(action, status=status, created_by=row.created_by, actor=caller.subject)
    if refusal is not None:
        raise OverrideRefused(ErrorCode(refusal.value), current_status=status.value)


def _revoke(uow: UnitOfWork, done: UndoContext[OverrideRecord]) -> OverrideRecord:
    row = done.record
    uow.overrides.release(election_id=row.election_id, subject=row.subject, override_id=row.id)
    uow.overrides.add_action(
        OverrideActionRecord(
            override_id=row.id,
            action=OverrideAction.REVOKE,
            actor=done.caller.subject,
            at=done.at,
            reason=done.request.reason,
            audit_seq=done.receipt.seq,
        )
    )
    return row


# What each step of a revocation says it is, in its audit entry.
_REVOCATION_ACTION = {
    UndoStep.REQUEST: "revoke_request",
    UndoStep.REFUSE: "revoke_refuse",
    UndoStep.APPROVE: "revoke",
}

REVOCATION: TwoOperatorUndo[OverrideRecord, OverrideView] = TwoOperatorUndo(
    target=UndoTarget.OVERRIDE,
    requested_kind=KIND_REVOCATION_REQUESTED,
    refused_kind=KIND_REVOCATION_REFUSED,
    approved_kind=KIND_BY_ACTION[OverrideAction.REVOKE],
    found=_found,
    refuse_unless_undoable=lambda uow, row, caller, now: _refuse_unless_allowed(
        uow, row, OverrideAction.REVOKE, caller=caller, now=now
    ),
    payload=lambda row, step, caller, request_id, said: _payload(
        row, caller, request_id, action=_REVOCATION_ACTION[step], **said
    ),
    undo=_revoke,
    view=lambda uow, row, receipt, now: _view(uow, row, now=now, receipt=receipt),
)


class OverrideService:
    def __init__(
        self,
        *,
        storage: Storage,
        reference: ReferenceSource,
        pseudonymise: Pseudonymise,
        clock: Clock,
        lookups: LookupGuard = UNGUARDED,
    ) -> None:
        self._storage = storage
        self._reference = reference
        self._subject_of = pseudonymise
        self._clock = clock
        self._lookups = lookups

    async def create(self, new: NewOverride, *, caller: Caller, request_id: str) -> OverrideView:
        iin = validated_iin(new.raw_iin)
        reference = await self._reference.current()
        election = reference.elections.get(new.election_id)
        if election is None:
            raise NotFound(ErrorCode.ELECTION_NOT_FOUND)
        if new.kind is OverrideKind.ASSIGN and new.precinct_id is None:
            raise InvalidInput(errors=[{"field": "body.precinct_id", "type": "missing"}])
        if new.kind is OverrideKind.EXCLUDE and new.precinct_id is not None:
            raise InvalidInput(errors=[{"field": "body.precinct_id", "type": "not_allowed"}])
        ensure_voted_by_citizens(election)
        if new.precinct_id is not None:
            precinct = reference.directory.get(new.precinct_id)
            if precinct is None:
                raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
            ensure_held_at(election, precinct)
        now = self._clock.now()
        expires_on = new.expires_on or default_expiry(election)
        if expires_on < kazakhstan_date(now):
            raise InvalidInput(errors=[{"field": "body.expires_on", "type": "in_the_past"}])
        pending = OverrideRecord(
            id=str(uuid.uuid4()),
            election_id=election.id,
            subject=self._subject_of(iin),
            kind=new.kind.value,
            precinct_id=new.precinct_id,
            reason_code=new.reason_code.value,
            reason_text=new.reason_text,
            document_ref=new.document_ref,
            expires_on=expires_on,
            created_by=caller.subject,
            created_at=now,
            audit_seq=0,
        )

        def write(uow: UnitOfWork) -> OverrideView:
            receipt = uow.audit.append(
                kind=KIND_CREATED,
                subject=pending.subject,
                payload=_payload(pending, caller, request_id),
                recorded_at=now,
            )
            created = replace(pending, audit_seq=receipt.seq)
            uow.overrides.add(created)
            return _view(uow, created, now=now, receipt=receipt)

        return await self._storage.transact(write)

    async def act(
        self,
        override_id: str,
        action: OverrideAction,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
    ) -> OverrideView:
        """Approve or refuse a pending override; revoking is ``request_revocation``."""
        if action is OverrideAction.REVOKE:
            raise ValueError("revoking takes a request and a second operator's approval")
        now = self._clock.now()

        def write(uow: UnitOfWork) -> OverrideView:
            row = _found(uow, override_id)
            _refuse_unless_allowed(uow, row, action, caller=caller, now=now)
            if action is OverrideAction.APPROVE:
                # The override takes the voter's one place on a list (SPEC §15): another
                # active override, or any other record placing the voter, refuses it.
                places = uow.list_places.holders(
                    election_id=row.election_id, subjects=[row.subject], now=now
                )
                held = places.get(row.subject)
                if held is not None and held.holder_kind is HolderKind.OVERRIDE:
                    raise OverrideConflict(active_override_id=held.holder_id)
                if held is not None:
                    raise ServiceError(ErrorCode.ALREADY_ON_LIST, holder=holder_payload(held))
            receipt = uow.audit.append(
                kind=KIND_BY_ACTION[action],
                subject=row.subject,
                payload=_payload(row, caller, request_id, action=action.value, reason=reason),
                recorded_at=now,
            )
            if action is OverrideAction.APPROVE:
                # After the audit entry, as every other way onto a list takes its place: one
                # order of locks (the log's head, then the place), so concurrent ways for
                # one voter wait for each other on PostgreSQL instead of deadlocking.
                uow.overrides.hold(
                    election_id=row.election_id, subject=row.subject, override_id=row.id
                )
            uow.overrides.add_action(
                OverrideActionRecord(
                    override_id=row.id,
                    action=action,
                    actor=caller.subject,
                    at=now,
                    reason=reason,
                    audit_seq=receipt.seq,
                )
            )
            return _view(uow, row, now=now, receipt=receipt)

        # Two checkers approving at once collide on the step's UNIQUE (override, action) or
        # the voter's guard row; the loser runs again and is refused as not pending.
        return await once_more_if_overtaken(lambda: self._storage.transact(write))

    async def request_revocation(
        self, override_id: str, *, reason: str, caller: Caller, request_id: str
    ) -> OverrideView:
        """Ask for an active override to be revoked; it stays active until a different
        operator approves the request (``decide_revocation``)."""
        return await REVOCATION.request(
            self._storage,
            override_id,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
        )

    async def decide_revocation(
        self,
        override_id: str,
        step: UndoStep,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
        undo_request_id: str | None = None,
    ) -> OverrideView:
        """Approve the open revocation request (a different operator from its requester:
        the override is then revoked) or refuse it (anyone, the requester withdrawing it
        included: the override stays active)."""
        return await REVOCATION.decide(
            self._storage,
            override_id,
            step,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
            undo_request_id=undo_request_id,
        )

    async def get(self, override_id: str) -> OverrideView:
        now = self._clock.now()

        def read(uow: UnitOfWork) -> OverrideView:
            return _view(uow, _found(uow, override_id), now=now)

        return await self._storage.read(read)

    async def page(
        self,
        query: OverrideQuery,
        *,
        status: OverrideStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[OverrideView]:
        """One page of overrides in the order they were created, oldest first."""
        after = key_of(cursor)
        now = self._clock.now()
        return await self._storage.read(
            lambda uow: self._collect(uow, query, status=status, limit=limit, after=after, now=now)
        )

    async def find(
        self,
        raw_iin: str,
        query: OverrideQuery,
        *,
        status: OverrideStatus | None,
        limit: int,
        cursor: str | None,
        caller: Caller,
        request_id: str,
    ) -> Page[OverrideView]:
        """One voter's overrides, found through the pseudonym; the look-up itself is audited
        (who looked, what they were shown), like every read of a person's records."""
        subject = self._subject_of(validated_iin(raw_iin))
        after = key_of(cursor)
        await self._lookups.admit(caller=caller, voter_subject=subject)
        now = self._clock.now()

        def read_and_record(uow: UnitOfWork) -> Page[OverrideView]:
            voter = replace(query, subject=subject)
            found = self._collect(uow, voter, status=status, limit=limit, after=after, now=now)
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

    @staticmethod
    def _collect(
        uow: UnitOfWork,
        query: OverrideQuery,
        *,
        status: OverrideStatus | None,
        limit: int,
        after: PageKey | None,
        now: dt.datetime,
    ) -> Page[OverrideView]:
        return collect_page(
            lambda start, n: uow.overrides.page(query, after=start, limit=n),
            position=lambda row: PageKey(row.created_at, row.id),
            view=lambda row: _view(uow, row, now=now),
            keep=lambda view: status is None or view.status is status,
            limit=limit,
            after=after,
        )
