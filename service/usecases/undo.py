"""Requests to undo a record that put a voter on a list, and the second operator's decision.

The one implementation of the two-operator flow (``TwoOperatorUndo``): one operator asks,
with a reason, and the record stays in force; a different operator approves (the record is
undone) or anyone refuses (the requester withdrawing included). Each step is one
transaction holding its audit entry and the request's record. The use cases of overrides,
day registrations and list entries say, through a ``TwoOperatorUndo``, how their record
is found, when it may still be undone, what its audit entries say and what undoing does;
this module keeps the requests themselves: who asked, who decided, and the rule that these
are two people (``service.domain.undo``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from service.domain.caller import Caller
from service.domain.undo import UndoRefusal, UndoStatus, UndoStep, undo_refusal
from service.errors import ErrorCode, ServiceError
from service.usecases.ports import (
    DuplicateRecord,
    Receipt,
    Storage,
    UndoRequestRecord,
    UnitOfWork,
)

T = TypeVar("T")


class UndoTarget(StrEnum):
    OVERRIDE = "override"
    DAY_REGISTRATION = "day_registration"
    LIST_ENTRY = "list_entry"


class UndoRefused(ServiceError):
    """The undo rule refused the step; ``code`` says why."""

    code = ErrorCode.UNDO_NOT_PENDING


@dataclass(frozen=True)
class UndoView:
    id: str
    status: UndoStatus
    requested_by: str
    requested_at: dt.datetime
    reason: str
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str | None


def undo_views(requests: Sequence[UndoRequestRecord]) -> tuple[UndoView, ...]:
    return tuple(
        UndoView(
            id=r.id,
            status=r.status,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            reason=r.reason,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            decision_reason=r.decision_reason,
        )
        for r in requests
    )


def open_request(
    uow: UnitOfWork,
    target: UndoTarget,
    target_id: str,
    step: UndoStep,
    *,
    actor: str,
    expected_id: str | None = None,
) -> UndoRequestRecord | None:
    """The target's open request, once the undo rule allows ``actor`` to take ``step``.

    ``expected_id`` is the request the second operator reviewed: if another one is open by
    now (the first refused, a new one made), the decision is refused, never applied to a
    request its maker did not see.
    """
    requests = uow.undo_requests.of(target_kind=target.value, target_id=target_id)
    pending = next((r for r in requests if r.status is UndoStatus.PENDING), None)
    refusal = undo_refusal(
        step, requested_by=pending.requested_by if pending else None, actor=actor
    )
    if refusal is None and pending is not None and expected_id not in (None, pending.id):
        refusal = UndoRefusal.UNDO_NOT_PENDING
    if refusal is not None:
        raise UndoRefused(ErrorCode(refusal.value), undo_request_id=pending.id if pending else None)
    return pending


def new_request(
    target: UndoTarget, target_id: str, *, by: str, at: dt.datetime, reason: str
) -> UndoRequestRecord:
    """A request not yet recorded: its ``audit_seq`` is set once its entry is appended."""
    return UndoRequestRecord(
        id=str(uuid.uuid4()),
        target_kind=target.value,
        target_id=target_id,
        requested_by=by,
        requested_at=at,
        reason=reason,
        audit_seq=0,
    )


async def once_more_if_overtaken(run: Callable[[], Awaitable[T]]) -> T:
    """Run a unit of work; if a concurrent one took the same step first (``DuplicateRecord``),
    run it again, so that this one is refused against what the winner committed."""
    try:
        return await run()
    except DuplicateRecord:
        return await run()


class Undoable(Protocol):
    """A record that put a voter on a list: its id, and the voter's pseudonym."""

    @property
    def id(self) -> str: ...

    @property
    def subject(self) -> str: ...


R = TypeVar("R", bound=Undoable)
V = TypeVar("V")
W = TypeVar("W")


@dataclass(frozen=True)
class UndoContext(Generic[R]):
    """What the second step knows when it undoes a record: the request approved (its
    reason is the undoing's reason), the approval's audit receipt, who and when."""

    record: R
    request: UndoRequestRecord
    receipt: Receipt
    caller: Caller
    at: dt.datetime


@dataclass(frozen=True)
class TwoOperatorUndo(Generic[R, V]):
    """How one kind of record is undone by two operators (SPEC §6 cancellation, §7
    revocation, §15 list entries).

    ``found`` reads the record (refusing an unknown id); ``refuse_unless_undoable`` refuses
    a record that may no longer be undone (before a request and before an approval, never
    before a refusal); ``payload`` is the audit payload of each step, given the step's own
    members (reason, request id, requester); ``undo`` undoes the record once the approval
    is recorded; ``view`` is what every step answers.
    """

    target: UndoTarget
    requested_kind: str
    refused_kind: str
    approved_kind: str
    found: Callable[[UnitOfWork, str], R]
    refuse_unless_undoable: Callable[[UnitOfWork, R, Caller, dt.datetime], None]
    payload: Callable[[R, UndoStep, Caller, str, dict[str, Any]], dict[str, Any]]
    undo: Callable[[UnitOfWork, UndoContext[R]], R]
    view: Callable[[UnitOfWork, R, Receipt, dt.datetime], V]

    def answering(
        self,
        *,
        found: Callable[[UnitOfWork, str], R],
        view: Callable[[UnitOfWork, R, Receipt, dt.datetime], W],
    ) -> TwoOperatorUndo[R, W]:
        """The same undoing of the same records, reached and answered another way (an
        absentee certificate is a list entry, shown as a certificate)."""
        return TwoOperatorUndo(
            target=self.target,
            requested_kind=self.requested_kind,
            refused_kind=self.refused_kind,
            approved_kind=self.approved_kind,
            found=found,
            refuse_unless_undoable=self.refuse_unless_undoable,
            payload=self.payload,
            undo=self.undo,
            view=view,
        )

    async def request(
        self,
        storage: Storage,
        target_id: str,
        *,
        reason: str,
        caller: Caller,
        request_id: str,
        now: dt.datetime,
    ) -> V:
        """Ask for the record to be undone; it stays in force until a different operator
        approves the request."""

        def write(uow: UnitOfWork) -> V:
            record = self.found(uow, target_id)
            self.refuse_unless_undoable(uow, record, caller, now)
            open_request(uow, self.target, record.id, UndoStep.REQUEST, actor=caller.subject)
            request = new_request(self.target, record.id, by=caller.subject, at=now, reason=reason)
            receipt = uow.audit.append(
                kind=self.requested_kind,
                subject=record.subject,
                payload=self.payload(
                    record,
                    UndoStep.REQUEST,
                    caller,
                    request_id,
                    {"reason": reason, "undo_request_id": request.id},
                ),
                recorded_at=now,
            )
            uow.undo_requests.add(replace(request, audit_seq=receipt.seq))
            return self.view(uow, record, receipt, now)

        return await once_more_if_overtaken(lambda: storage.transact(write))

    async def decide(
        self,
        storage: Storage,
        target_id: str,
        step: UndoStep,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
        now: dt.datetime,
        undo_request_id: str | None = None,
    ) -> V:
        """Approve the open request (a different operator from its requester: the record
        is undone, for the request's reason) or refuse it (the record stays in force)."""
        if step is UndoStep.REQUEST:
            raise ValueError("a request is made with request(), not decide()")

        def write(uow: UnitOfWork) -> V:
            record = self.found(uow, target_id)
            pending = open_request(
                uow, self.target, record.id, step, actor=caller.subject, expected_id=undo_request_id
            )
            assert pending is not None  # open_request refuses a decision with none open
            asked = {"undo_request_id": pending.id, "requested_by": pending.requested_by}
            if step is UndoStep.REFUSE:
                status, kind, decision_reason = UndoStatus.REFUSED, self.refused_kind, reason
                said = {"reason": reason, **asked}
            else:
                self.refuse_unless_undoable(uow, record, caller, now)
                status, kind, decision_reason = UndoStatus.APPROVED, self.approved_kind, None
                said = {"reason": pending.reason, **asked}
            receipt = uow.audit.append(
                kind=kind,
                subject=record.subject,
                payload=self.payload(record, step, caller, request_id, said),
                recorded_at=now,
            )
            uow.undo_requests.decide(
                pending.id,
                status=status,
                by=caller.subject,
                at=now,
                reason=decision_reason,
                audit_seq=receipt.seq,
            )
            if status is UndoStatus.APPROVED:
                record = self.undo(uow, UndoContext(record, pending, receipt, caller, now))
            return self.view(uow, record, receipt, now)

        return await once_more_if_overtaken(lambda: storage.transact(write))
