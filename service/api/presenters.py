"""Domain results to response models: shared by the routes that show the same things."""

from __future__ import annotations

from collections.abc import Sequence

from service.api.schemas import AuditReceipt, PrecinctRef, Reason, UndoRequestOut
from service.domain.model import Precinct
from service.domain.precincts import PrecinctDirectory
from service.messages import Language, message
from service.usecases.ports import Receipt
from service.usecases.undo import UndoView


def precinct_ref(directory: PrecinctDirectory, precinct_id: str | None) -> PrecinctRef | None:
    precinct = directory.get(precinct_id) if precinct_id else None
    if precinct is None:
        return None
    return PrecinctRef(
        id=precinct.id, number=precinct.number, name=precinct.name, address=precinct.address
    )


def named_precinct(precinct_id: str, precinct: Precinct | None) -> PrecinctRef:
    """A record's precinct, as a reference even when no boundary set still holds it."""
    if precinct is None:
        # Every boundary set that held it is gone from the database: say so, never fail an
        # answer (or hide a committed change) because reference data changed.
        return PrecinctRef(id=precinct_id, number=0, name="", address="")
    return PrecinctRef(
        id=precinct.id, number=precinct.number, name=precinct.name, address=precinct.address
    )


def reasons_out(codes: list[str] | tuple[str, ...], language: Language) -> list[Reason]:
    return [Reason(code=code, message=message(code, language)) for code in codes]


def receipt_out(receipt: Receipt) -> AuditReceipt:
    return AuditReceipt(seq=receipt.seq, entry_hash=receipt.entry_hash)


def undo_requests_out(views: Sequence[UndoView]) -> list[UndoRequestOut]:
    return [
        UndoRequestOut(
            id=v.id,
            status=v.status.value,
            requested_by=v.requested_by,
            requested_at=v.requested_at,
            reason=v.reason,
            decided_by=v.decided_by,
            decided_at=v.decided_at,
            decision_reason=v.decision_reason,
        )
        for v in views
    ]
