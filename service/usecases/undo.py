"""Requests to undo a record that put a voter on a list, and the second operator's decision.

The override and day-registration use cases say what undoing does to their record and
what the audit entry says; this module keeps the requests themselves: who asked, who
decided, and the rule that these are two people (``service.domain.undo``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from service.domain.undo import UndoRefusal, UndoStatus, UndoStep, undo_refusal
from service.errors import ErrorCode, ServiceError
from service.usecases.ports import DuplicateRecord, UndoRequestRecord, UnitOfWork

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
