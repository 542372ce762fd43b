"""Undoing what put a voter on a list takes two people (SPEC §6 cancellation, §7 revocation).

One operator asks for the revocation of an override or the cancellation of a day
registration, with a reason; the record stays in force until a different operator approves
the request. Either may refuse it (for the requester, refusing is withdrawing), after which
another request may be made. A record has at most one request open at a time.
"""

from __future__ import annotations

from enum import StrEnum


class UndoStep(StrEnum):
    REQUEST = "request"
    APPROVE = "approve"
    REFUSE = "refuse"


class UndoStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class UndoRefusal(StrEnum):
    UNDO_PENDING = "UNDO_PENDING"
    UNDO_NOT_PENDING = "UNDO_NOT_PENDING"
    SELF_CONFIRMATION_FORBIDDEN = "SELF_CONFIRMATION_FORBIDDEN"


def undo_refusal(step: UndoStep, *, requested_by: str | None, actor: str) -> UndoRefusal | None:
    """Why ``actor`` may not take ``step`` now, or None if they may.

    ``requested_by`` is who asked for the open request, None when none is open. Whether the
    record itself may still be undone (active, not expired) is the record's own rule.
    """
    if step is UndoStep.REQUEST:
        return None if requested_by is None else UndoRefusal.UNDO_PENDING
    if requested_by is None:
        return UndoRefusal.UNDO_NOT_PENDING
    # The requester and the confirmer are two people; who made or approved the record
    # does not matter. Refusing one's own request withdraws it and changes no list.
    if step is UndoStep.APPROVE and actor == requested_by:
        return UndoRefusal.SELF_CONFIRMATION_FORBIDDEN
    return None
