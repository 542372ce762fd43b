"""The eligibility check: gather from the upstreams, decide by law, record, answer.

The decision row and its audit entry commit in one transaction before anything is returned,
so a caller never sees a decision the audit log does not hold. An upstream fault is recorded
as an ``undetermined`` decision and reported, never turned into a guess.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from service.clock import Clock
from service.domain.decision import decide
from service.domain.iin import InvalidIin, parse_iin
from service.domain.model import Decision, Election, Outcome, Person, Registration
from service.errors import ErrorCode, InvalidInput, NotFound, UpstreamUnavailable
from service.reference import ReferenceCache
from service.security.tokens import Caller
from service.usecases.recording import Receipt, Recorder

DECISION_KIND = "eligibility.check"


class PersonSource(Protocol):
    async def lookup(self, iin: str) -> Person | None: ...


class RegistrationSource(Protocol):
    async def registrations(self, iin: str) -> tuple[Registration, ...]: ...


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    election: Election
    decision: Decision
    decided_at: dt.datetime
    receipt: Receipt


def validated_iin(raw: str) -> str:
    try:
        return parse_iin(raw)
    except InvalidIin as exc:
        raise InvalidInput(ErrorCode(exc.code.value)) from None


def actor_of(caller: Caller) -> dict[str, Any]:
    return {"sub": caller.subject, "roles": sorted(role.value for role in caller.roles)}


def decision_payload(decision: Decision) -> dict[str, Any]:
    """What the audit log and the decisions table keep of a decision: no personal data."""
    return {
        "outcome": decision.outcome.value,
        "reasons": [r.value for r in decision.reasons],
        "precinct_id": decision.precinct_id,
        "basis": decision.basis.value if decision.basis else None,
        "next_steps": [step.code.value for step in decision.next_steps],
        "ruleset": decision.ruleset,
        "registry_data_as_of": (
            decision.registry_data_as_of.isoformat() if decision.registry_data_as_of else None
        ),
        "override_id": decision.override_id,
    }


class EligibilityService:
    def __init__(
        self,
        *,
        registry: PersonSource,
        addresses: RegistrationSource,
        reference: ReferenceCache,
        recorder: Recorder,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._addresses = addresses
        self._reference = reference
        self._recorder = recorder
        self._clock = clock

    async def _gather(self, iin: str) -> tuple[Person | None, tuple[Registration, ...]]:
        person_call = asyncio.ensure_future(self._registry.lookup(iin))
        registrations_call = asyncio.ensure_future(self._addresses.registrations(iin))
        try:
            # Both in flight at once: the check costs one round trip, not two.
            await asyncio.wait((person_call, registrations_call))
            return person_call.result(), registrations_call.result()
        finally:
            for call in (person_call, registrations_call):
                if not call.done():
                    call.cancel()
                elif not call.cancelled():
                    call.exception()  # mark retrieved; the first fault is re-raised above

    async def check(
        self, *, raw_iin: str, election_id: str, caller: Caller, request_id: str
    ) -> RecordedDecision:
        iin = validated_iin(raw_iin)
        reference = await self._reference.current()
        election = reference.elections.get(election_id)
        if election is None:
            raise NotFound(ErrorCode.ELECTION_NOT_FOUND)
        decision_id = str(uuid.uuid4())
        context = {
            "decision_id": decision_id,
            "election_id": election.id,
            "actor": actor_of(caller),
            "request_id": request_id,
        }
        try:
            person, registrations = await self._gather(iin)
        except UpstreamUnavailable as exc:
            receipt = await self._recorder.record(
                kind=DECISION_KIND,
                iin=iin,
                decision_id=decision_id,
                election_id=election.id,
                outcome=Outcome.UNDETERMINED.value,
                payload={
                    **context,
                    "outcome": Outcome.UNDETERMINED.value,
                    "upstream": exc.upstream,
                    "failure": str(exc.failure),
                },
                decided_at=self._clock.now(),
            )
            exc.extensions["audit"] = {"seq": receipt.seq, "entry_hash": receipt.entry_hash}
            exc.extensions["decision_id"] = decision_id
            raise
        decision = decide(person, registrations, election=election, directory=reference.directory)
        decided_at = self._clock.now()
        receipt = await self._recorder.record(
            kind=DECISION_KIND,
            iin=iin,
            decision_id=decision_id,
            election_id=election.id,
            outcome=decision.outcome.value,
            payload={**context, **decision_payload(decision)},
            decided_at=decided_at,
        )
        return RecordedDecision(decision_id, election, decision, decided_at, receipt)
