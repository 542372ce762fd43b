"""Applications that move a voter to another list (SPEC §15 ways 3 and 6), recorded by an
operator: each a list entry holding the voter's one place, cancelled by two operators as
any list entry (``service.usecases.list_entries``).

- A **place-of-stay application** the akimat accepted (temporarily registered, unregistered,
  studying or working away) moves the voter to the precinct covering the stay address,
  given in the shape registrations use (the address code, or locality KATO code, street and
  house). Accepted inside the election's ``calendar.applications`` (by default from the
  call until 23:59 on E-30) in that precinct's zone, for a precinct the election is held
  at. The stay address is not kept, only the precinct it gave: it is personal data the
  service does not need once the voter is placed.
- A **mission application** of a citizen staying abroad briefly puts them on a mission's
  list: a foreign precinct, for the kinds voted abroad (SPEC §14), inside
  ``calendar.mission_applications`` (by default until 18:00 on E-1) in the mission's zone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from service.clock import Clock
from service.domain.caller import Caller
from service.domain.model import (
    Basis,
    Election,
    ListEntryKind,
    ListPlace,
    Precinct,
    PrecinctKind,
    ReasonCode,
)
from service.domain.window import Window, application_window, mission_window
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from service.usecases.context import actor_of, holder_payload, validated_iin
from service.usecases.eligibility import EligibilityService, decision_payload
from service.usecases.list_entries import (
    KIND_ADDED,
    KIND_REFUSED,
    AuditedRefusal,
    ListEntryView,
    audit_refusal,
    entry_view,
)
from service.usecases.ports import (
    ListEntryRecord,
    ReferenceData,
    ReferenceSource,
    Storage,
    UnitOfWork,
)
from service.usecases.undo import once_more_if_overtaken


@dataclass(frozen=True)
class StayAddress:
    """Where the voter stays, as a registration names an address in Kazakhstan."""

    rca: str | None
    kato: str | None
    street: str | None
    house: str | None


class ApplicationService:
    def __init__(
        self,
        *,
        eligibility: EligibilityService,
        storage: Storage,
        reference: ReferenceSource,
        clock: Clock,
    ) -> None:
        self._eligibility = eligibility
        self._storage = storage
        self._reference = reference
        self._clock = clock

    async def place_of_stay(
        self,
        *,
        election_id: str,
        raw_iin: str,
        stay: StayAddress,
        document_ref: str,
        caller: Caller,
        request_id: str,
    ) -> ListEntryView:
        """Record an accepted place-of-stay application, or refuse.

        Before the voter is looked up (not audited): ``STAY_ADDRESS_NOT_COVERED`` (no
        precinct covers the address), ``PRECINCT_OUTSIDE_TERRITORY`` (the election is not
        held there), ``APPLICATIONS_CLOSED`` (outside the window). After it, as every
        application (``_apply``).
        """
        iin = validated_iin(raw_iin)
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.covering_address(
            rca=stay.rca, kato=stay.kato, street=stay.street, house=stay.house
        )
        if precinct is None:
            raise InvalidInput(ErrorCode.STAY_ADDRESS_NOT_COVERED)
        if not election.holds(precinct):
            raise InvalidInput(ErrorCode.PRECINCT_OUTSIDE_TERRITORY)
        return await self._apply(
            ListEntryKind.PLACE_OF_STAY_APPLICATION,
            iin=iin,
            election=election,
            reference=reference,
            precinct=precinct,
            window=application_window(election, precinct),
            closed=ErrorCode.APPLICATIONS_CLOSED,
            document_ref=document_ref,
            caller=caller,
            request_id=request_id,
        )

    async def at_mission(
        self,
        *,
        election_id: str,
        raw_iin: str,
        precinct_id: str,
        document_ref: str,
        caller: Caller,
        request_id: str,
    ) -> ListEntryView:
        """Record a mission application, or refuse.

        Before the voter is looked up (not audited): ``PRECINCT_NOT_FOUND``,
        ``PRECINCT_NOT_FOREIGN`` (not a mission), ``PRECINCT_OUTSIDE_TERRITORY`` (an
        election not voted abroad), ``MISSION_APPLICATIONS_CLOSED``. After it, as every
        application (``_apply``).
        """
        iin = validated_iin(raw_iin)
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.get(precinct_id)
        if precinct is None:
            raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
        if precinct.kind is not PrecinctKind.FOREIGN:
            raise InvalidInput(ErrorCode.PRECINCT_NOT_FOREIGN)
        if not election.holds(precinct):
            raise InvalidInput(ErrorCode.PRECINCT_OUTSIDE_TERRITORY)
        return await self._apply(
            ListEntryKind.MISSION_APPLICATION,
            iin=iin,
            election=election,
            reference=reference,
            precinct=precinct,
            window=mission_window(election, precinct),
            closed=ErrorCode.MISSION_APPLICATIONS_CLOSED,
            document_ref=document_ref,
            caller=caller,
            request_id=request_id,
        )

    async def _apply(
        self,
        kind: ListEntryKind,
        *,
        iin: str,
        election: Election,
        reference: ReferenceData,
        precinct: Precinct,
        window: Window,
        closed: ErrorCode,
        document_ref: str,
        caller: Caller,
        request_id: str,
    ) -> ListEntryView:
        """The voter's entry at ``precinct``, or a refusal: ``closed`` outside ``window``
        (not audited: nothing about the voter was asked); then, audited as
        ``list_entry.refuse``: ``NOT_ELIGIBLE`` (a bar of SPEC §3; lying outside a local
        election's territory is not one, since the application may bring the voter
        inside), ``OVERRIDE_CONFLICT`` (an override places the voter), ``ALREADY_ON_LIST``
        (another record holds the place)."""
        if not window.contains(self._clock.now()):
            raise ServiceError(
                closed,
                opens_at=window.opens_at.isoformat(),
                closes_at=window.closes_at.isoformat(),
                precinct_id=precinct.id,
            )
        context: dict[str, Any] = {
            "election_id": election.id,
            "precinct_id": precinct.id,
            "entry_kind": kind.value,
            "document_ref": document_ref,
            "actor": actor_of(caller),
            "request_id": request_id,
            "reference": reference.versions.as_payload(),
        }
        assessment = await self._eligibility.assess(
            iin=iin, election=election, audit_kind=KIND_REFUSED, context=context
        )
        decision = assessment.decision
        subject = assessment.subject
        context["decision"] = decision_payload(decision)
        bars = [r.value for r in decision.reasons if r is not ReasonCode.OUTSIDE_TERRITORY]
        refusal: tuple[ErrorCode, dict[str, Any]] | None = None
        if bars:
            refusal = (ErrorCode.NOT_ELIGIBLE, {"reasons": bars})
        elif decision.basis is Basis.OVERRIDE and decision.override_id is not None:
            refusal = (ErrorCode.OVERRIDE_CONFLICT, {"active_override_id": decision.override_id})

        def write(uow: UnitOfWork) -> ListEntryView | AuditedRefusal:
            now = self._clock.now()
            found = refusal
            if found is None:
                places = uow.list_places.holders(
                    election_id=election.id, subjects=[subject], now=now
                )
                holder: ListPlace | None = places.get(subject)
                if holder is not None:
                    found = (ErrorCode.ALREADY_ON_LIST, {"holder": holder_payload(holder)})
            if found is not None:
                code, extensions = found
                return audit_refusal(
                    uow,
                    kind=KIND_REFUSED,
                    subject=subject,
                    context=context,
                    code=code,
                    extensions=extensions,
                    now=now,
                )
            return self._record(uow, kind, subject=subject, context=context, caller=caller, now=now)

        # Another way onto a list for this voter may commit first: run again, refused
        # against it.
        outcome = await once_more_if_overtaken(lambda: self._storage.transact(write))
        if isinstance(outcome, AuditedRefusal):
            raise outcome.error()
        return outcome

    @staticmethod
    def _record(
        uow: UnitOfWork,
        kind: ListEntryKind,
        *,
        subject: str,
        context: dict[str, Any],
        caller: Caller,
        now: dt.datetime,
    ) -> ListEntryView:
        entry_id = str(uuid.uuid4())
        receipt = uow.audit.append(
            kind=KIND_ADDED,
            subject=subject,
            payload={**context, "entry_id": entry_id},
            recorded_at=now,
        )
        entry = ListEntryRecord(
            id=entry_id,
            election_id=context["election_id"],
            subject=subject,
            kind=kind,
            precinct_id=context["precinct_id"],
            document_ref=context["document_ref"],
            created_by=caller.subject,
            created_at=now,
            audit_seq=receipt.seq,
        )
        uow.list_entries.add(entry)
        return entry_view(entry, receipt=receipt)
