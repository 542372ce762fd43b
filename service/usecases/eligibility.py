"""The eligibility check: gather from the upstreams, decide by law, record, answer.

The decision row and its audit entry commit in one transaction before anything is returned,
so a caller never sees a decision the audit log does not hold. An upstream fault is recorded
as an ``undetermined`` decision and reported, never turned into a guess.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from service.clock import Clock
from service.domain.absentee import CertificateAtPrecinct, certificate_at
from service.domain.caller import Caller
from service.domain.decision import decide, precinct_check_reasons
from service.domain.iin import is_legal_entity_number
from service.domain.model import (
    Decision,
    Election,
    ListEntryKind,
    Outcome,
    Person,
    Precinct,
    Registration,
)
from service.domain.precincts import PrecinctDirectory
from service.errors import ErrorCode, InvalidInput, NotFound, ServiceError, UpstreamUnavailable
from service.logs import get_logger
from service.usecases.context import actor_of, validated_iin
from service.usecases.ports import (
    Decided,
    DecisionJob,
    DecisionLog,
    PersonSource,
    Pseudonymise,
    Receipt,
    Recorded,
    ReferenceSource,
    RegistrationSource,
    Standing,
    Storage,
    UnitOfWork,
    already_decided,
)
from service.usecases.undo import once_more_if_overtaken

T = TypeVar("T")

_security_log = get_logger("service.security")

DECISION_KIND = "eligibility.check"
PRECINCT_CHECK_KIND = "precinct.check"
# A voter presented their absentee certificate at a precinct that may take it (SPEC §15).
CERTIFICATE_USE_KIND = "absentee_certificate.use"
# A request refused once the registry had answered: no decision about a person, but an
# answer that depends on the registry, so audited like one (SPEC §15's BIN rule).
REFUSED = "refused"


def _is_fault(call: asyncio.Future[Any]) -> bool:
    return not call.cancelled() and call.exception() is not None


async def _both_or_first_fault(first: asyncio.Future[Any], second: asyncio.Future[Any]) -> None:
    """Wait until both calls are done or one has failed: ``asyncio.wait`` with
    ``FIRST_EXCEPTION``, without the task and the sets it builds each time.
    """
    waiter = first.get_loop().create_future()

    def on_done(call: asyncio.Future[Any]) -> None:
        if not waiter.done() and (_is_fault(call) or (first.done() and second.done())):
            waiter.set_result(None)

    first.add_done_callback(on_done)
    second.add_done_callback(on_done)
    try:
        await waiter
    finally:
        first.remove_done_callback(on_done)
        second.remove_done_callback(on_done)


class ElectionNotByCitizens(ServiceError):
    code = ErrorCode.ELECTION_NOT_BY_CITIZENS


class PrecinctOutsideTerritory(ServiceError):
    code = ErrorCode.PRECINCT_OUTSIDE_TERRITORY


class PrecinctNotServed(ServiceError):
    code = ErrorCode.PRECINCT_NOT_SERVED


def ensure_voted_by_citizens(election: Election) -> None:
    if not election.kind.is_by_citizens:
        raise ElectionNotByCitizens


def ensure_held_at(election: Election, precinct: Precinct) -> None:
    """SPEC §14: local elections are held in their territory, and only some abroad."""
    if not election.holds(precinct):
        raise PrecinctOutsideTerritory


class DecisionCounter(Protocol):
    def count_decision(
        self,
        *,
        kind: str,
        outcome: str,
        reasons: Iterable[str] = (),
        next_steps: Iterable[str] = (),
    ) -> None: ...


class LookupGuard(Protocol):
    """Told which voter (by pseudonym, never IIN) a caller is about to look up, before the
    look-up: it counts, alerts, and refuses a held account (``AccountHeld``)."""

    async def admit(self, *, caller: Caller, voter_subject: str) -> None: ...


class _Unguarded:
    async def admit(self, *, caller: Caller, voter_subject: str) -> None:
        pass


UNGUARDED: LookupGuard = _Unguarded()


class _NotCounted:
    def count_decision(
        self,
        *,
        kind: str,
        outcome: str,
        reasons: Iterable[str] = (),
        next_steps: Iterable[str] = (),
    ) -> None:
        pass


def count_recorded(counter: DecisionCounter, *, kind: str, decision: Decision) -> None:
    """Count a decision once its audit entry has committed: only what really happened."""
    counter.count_decision(
        kind=kind,
        outcome=decision.outcome.value,
        reasons=[r.value for r in decision.reasons],
        next_steps=[step.code.value for step in decision.next_steps],
    )


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    election: Election
    decision: Decision
    decided_at: dt.datetime
    receipt: Receipt


@dataclass(frozen=True)
class Assessment:
    """Everything known about one voter for one election, and what the law makes of it."""

    iin: str
    subject: str
    election: Election
    person: Person | None
    registrations: tuple[Registration, ...]
    decision: Decision
    directory: PrecinctDirectory


@dataclass(frozen=True)
class PrecinctCheck:
    """Service A (SPEC §5): is the voter on this precinct's list?"""

    check_id: str
    election: Election
    precinct_id: str
    included: bool
    decision: Decision
    reasons: tuple[str, ...]
    decided_at: dt.datetime
    receipt: Receipt


def _certificate_here(
    standing: Standing, precinct: Precinct, directory: PrecinctDirectory
) -> CertificateAtPrecinct | None:
    """What the voter's absentee certificate means at ``precinct``; None without one."""
    entry = standing.list_entry
    if entry is None or entry.kind is not ListEntryKind.ABSENTEE_CERTIFICATE:
        return None
    return certificate_at(entry, checked=precinct, home=directory.get(entry.precinct_id))


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
        reference: ReferenceSource,
        storage: Storage,
        decisions: DecisionLog,
        pseudonymise: Pseudonymise,
        clock: Clock,
        counter: DecisionCounter | None = None,
        lookups: LookupGuard | None = None,
    ) -> None:
        self._registry = registry
        self._addresses = addresses
        self._reference = reference
        self._storage = storage
        self._decisions = decisions
        self._subject_of = pseudonymise
        self._clock = clock
        self._counter = counter or _NotCounted()
        self._lookups = lookups or UNGUARDED

    async def _gather(self, iin: str) -> tuple[Person | None, tuple[Registration, ...]]:
        # A future stays as it is; a coroutine gets a task.
        person_call = asyncio.ensure_future(self._registry.lookup(iin))
        registrations_call = asyncio.ensure_future(self._addresses.registrations(iin))
        try:
            # Both in flight at once: the check costs one round trip, not two; the first
            # fault ends the wait, since one missing answer already makes it undetermined.
            if not (person_call.done() and registrations_call.done()):
                await _both_or_first_fault(person_call, registrations_call)
            # The fault first: the other call may still be in flight, with no result yet.
            for call in (person_call, registrations_call):
                if call.done() and (fault := call.exception()) is not None:
                    raise fault
            return person_call.result(), registrations_call.result()
        finally:
            for call in (person_call, registrations_call):
                if not call.done():
                    call.cancel()
                elif not call.cancelled():
                    call.exception()  # mark retrieved; the first fault is re-raised above

    async def election(self, election_id: str) -> Election:
        """An election citizens vote in: unknown is 404, an indirect one (the Senate) is
        ``ELECTION_NOT_BY_CITIZENS``. Neither is a decision about the voter, so neither is
        audited: no upstream was asked and nothing about the person was learnt, as with an
        IIN refused for its format."""
        reference = await self._reference.current()
        election = reference.elections.get(election_id)
        if election is None:
            raise NotFound(ErrorCode.ELECTION_NOT_FOUND)
        ensure_voted_by_citizens(election)
        return election

    async def _standing(self, *, election: Election, subject: str, now: dt.datetime) -> Standing:
        """The operators' and service centres' records that come before registrations."""
        return await self._storage.read(
            lambda uow: uow.standing.of(election_id=election.id, subject=subject, now=now)
        )

    async def _record_undetermined(
        self,
        exc: UpstreamUnavailable,
        *,
        subject: str,
        election: Election,
        audit_kind: str,
        context: dict[str, Any],
    ) -> None:
        """Audit an upstream fault as an ``undetermined`` decision; the caller re-raises."""
        decision_id = context.get("decision_id") or str(uuid.uuid4())
        recorded = await self._decisions.decide_and_record(
            already_decided(
                kind=audit_kind,
                subject=subject,
                decision_id=decision_id,
                election_id=election.id,
                outcome=Outcome.UNDETERMINED.value,
                payload={
                    **context,
                    "outcome": Outcome.UNDETERMINED.value,
                    "upstream": exc.upstream,
                    "failure": str(exc.failure),
                },
            )
        )
        self._counter.count_decision(kind=audit_kind, outcome=Outcome.UNDETERMINED.value)
        receipt = recorded.receipt
        exc.extensions["audit"] = {"seq": receipt.seq, "entry_hash": receipt.entry_hash}
        exc.extensions["decision_id"] = decision_id

    async def _record_refusal(
        self,
        refusal: InvalidInput,
        *,
        subject: str,
        election: Election,
        audit_kind: str,
        context: dict[str, Any],
    ) -> None:
        """Audit a refusal that the registry's answer decided; the caller raises it."""
        decision_id = context.get("decision_id") or str(uuid.uuid4())
        recorded = await self._decisions.decide_and_record(
            already_decided(
                kind=audit_kind,
                subject=subject,
                decision_id=decision_id,
                election_id=election.id,
                outcome=REFUSED,
                payload={**context, "outcome": REFUSED, "refusal": refusal.code.value},
            )
        )
        receipt = recorded.receipt
        refusal.extensions["audit"] = {"seq": receipt.seq, "entry_hash": receipt.entry_hash}
        refusal.extensions["decision_id"] = decision_id

    async def _gathered(
        self,
        iin: str,
        *,
        subject: str,
        election: Election,
        audit_kind: str,
        context: dict[str, Any],
    ) -> tuple[Person | None, tuple[Registration, ...]]:
        """Both upstreams' answers, or an audited refusal: ``undetermined`` on a fault,
        ``NOT_INDIVIDUAL`` for a BIN the registry does not know as a person."""
        try:
            person, registrations = await self._gather(iin)
        except UpstreamUnavailable as exc:
            await self._record_undetermined(
                exc, subject=subject, election=election, audit_kind=audit_kind, context=context
            )
            raise
        if is_legal_entity_number(iin, known_as_person=person is not None):
            refusal = InvalidInput(ErrorCode.NOT_INDIVIDUAL)
            await self._record_refusal(
                refusal, subject=subject, election=election, audit_kind=audit_kind, context=context
            )
            raise refusal
        return person, registrations

    async def assess(
        self,
        *,
        iin: str,
        election: Election,
        audit_kind: str,
        context: dict[str, Any],
        use_day_registration: bool = True,
    ) -> Assessment:
        """Gather, then decide. An upstream fault is audited as undetermined and re-raised.

        For callers that record the outcome in a transaction of their own (day
        registrations); checks take their decision inside the group commit instead.
        """
        subject = self._subject_of(iin)
        reference = await self._reference.current()
        now = self._clock.now()
        (person, registrations), standing = await asyncio.gather(
            self._gathered(
                iin, subject=subject, election=election, audit_kind=audit_kind, context=context
            ),
            self._standing(election=election, subject=subject, now=now),
        )
        decision = decide(
            person,
            registrations,
            election=election,
            directory=reference.directory,
            override=standing.override,
            day_registration=standing.day_registration if use_day_registration else None,
            list_entry=standing.list_entry,
        )
        return Assessment(
            iin, subject, election, person, registrations, decision, reference.directory
        )

    async def _decide_and_record(
        self,
        *,
        iin: str,
        subject: str,
        election: Election,
        audit_kind: str,
        context: dict[str, Any],
        present: Callable[[Decision, Standing], tuple[dict[str, Any], T]],
        gathered: tuple[Person | None, tuple[Registration, ...]] | None = None,
    ) -> Recorded[tuple[Decision, T]]:
        """Gather from the upstreams (unless ``gathered`` already), then decide and record
        in the group commit.

        ``present`` turns the decision (and the standing it was taken on) into the extra
        audit payload and the caller's result.
        """
        reference = await self._reference.current()
        directory = reference.directory
        person, registrations = gathered or await self._gathered(
            iin, subject=subject, election=election, audit_kind=audit_kind, context=context
        )

        def decide_now(standing: Standing, _now: dt.datetime) -> Decided[tuple[Decision, T]]:
            decision = decide(
                person,
                registrations,
                election=election,
                directory=directory,
                override=standing.override,
                day_registration=standing.day_registration,
                list_entry=standing.list_entry,
            )
            extra, result = present(decision, standing)
            payload = {
                **context,
                **decision_payload(decision),
                **extra,
                "reference": reference.versions.as_payload(),
            }
            return Decided(decision.outcome.value, payload, (decision, result))

        recorded = await self._decisions.decide_and_record(
            DecisionJob(
                kind=audit_kind,
                subject=subject,
                election_id=election.id,
                decision_id=context["decision_id"],
                decide=decide_now,
            )
        )
        count_recorded(self._counter, kind=audit_kind, decision=recorded.result[0])
        return recorded

    async def check(
        self, *, raw_iin: str, election_id: str, caller: Caller, request_id: str
    ) -> RecordedDecision:
        iin = validated_iin(raw_iin)
        subject = self._subject_of(iin)
        await self._lookups.admit(caller=caller, voter_subject=subject)
        election = await self.election(election_id)
        decision_id = str(uuid.uuid4())
        context = {
            "decision_id": decision_id,
            "election_id": election.id,
            "actor": actor_of(caller),
            "request_id": request_id,
        }
        recorded = await self._decide_and_record(
            iin=iin,
            subject=subject,
            election=election,
            audit_kind=DECISION_KIND,
            context=context,
            present=lambda _decision, _standing: ({}, None),
        )
        decision, _ = recorded.result
        return RecordedDecision(
            decision_id, election, decision, recorded.decided_at, recorded.receipt
        )

    async def _use_certificate_if_presented(
        self,
        gathered: tuple[Person | None, tuple[Registration, ...]],
        *,
        subject: str,
        election: Election,
        precinct: Precinct,
        directory: PrecinctDirectory,
        caller: Caller,
        context: dict[str, Any],
    ) -> None:
        """Record the use of the voter's absentee certificate at ``precinct`` if this is
        where it may be used (SPEC §15): the voter eligible by the decision with it, the
        certificate unused, the precinct outside the home locality. Its own audit entry, in
        the use's transaction; the database keeps one use per certificate, so of two
        precincts using it at once exactly one wins (the other runs again and finds it
        used). The check that follows then finds the voter on this precinct's list.
        """
        person, registrations = gathered
        now = self._clock.now()
        standing = await self._standing(election=election, subject=subject, now=now)
        if _certificate_here(standing, precinct, directory) is not CertificateAtPrecinct.USABLE:
            return

        def write(uow: UnitOfWork) -> None:
            at = self._clock.now()
            current = uow.standing.of(election_id=election.id, subject=subject, now=at)
            if _certificate_here(current, precinct, directory) is not CertificateAtPrecinct.USABLE:
                return
            certificate = current.list_entry
            assert certificate is not None  # usable: an unused certificate
            decision = decide(
                person,
                registrations,
                election=election,
                directory=directory,
                override=current.override,
                day_registration=current.day_registration,
                list_entry=certificate,
            )
            if decision.outcome is not Outcome.ELIGIBLE:
                return
            receipt = uow.audit.append(
                kind=CERTIFICATE_USE_KIND,
                subject=subject,
                payload={
                    **context,
                    "entry_id": certificate.id,
                    "issued_by_precinct_id": certificate.precinct_id,
                    "precinct_id": precinct.id,
                },
                recorded_at=at,
            )
            uow.absentee_certificates.use(
                certificate.id,
                precinct_id=precinct.id,
                at=at,
                by=caller.subject,
                audit_seq=receipt.seq,
            )

        await once_more_if_overtaken(lambda: self._storage.transact(write))

    async def check_precinct(
        self,
        *,
        raw_iin: str,
        election_id: str,
        precinct_id: str,
        caller: Caller,
        request_id: str,
    ) -> PrecinctCheck:
        """Service A: included only if eligible and this is the voter's own precinct.

        Only for the precincts the member's token names: another precinct's list is not
        theirs to read (SPEC §15), whatever the voter or the election.
        """
        if not caller.serves(precinct_id):
            # Neither the precinct asked for nor anything of the body: it may hold an IIN.
            _security_log.warning("security.precinct.refused", sub=caller.subject)
            raise PrecinctNotServed
        iin = validated_iin(raw_iin)
        subject = self._subject_of(iin)
        await self._lookups.admit(caller=caller, voter_subject=subject)
        election = await self.election(election_id)
        reference = await self._reference.current()
        precinct = reference.directory.get(precinct_id)
        if precinct is None:
            raise NotFound(ErrorCode.PRECINCT_NOT_FOUND)
        ensure_held_at(election, precinct)
        check_id = str(uuid.uuid4())
        context = {
            "decision_id": check_id,
            "election_id": election.id,
            "checked_precinct_id": precinct_id,
            "actor": actor_of(caller),
            "request_id": request_id,
        }

        directory = reference.directory

        def present(
            decision: Decision, standing: Standing
        ) -> tuple[dict[str, Any], tuple[str, ...]]:
            reasons = precinct_check_reasons(
                decision,
                precinct_id=precinct_id,
                certificate=_certificate_here(standing, precinct, directory),
            )
            return {"included": not reasons, "refusal_reasons": list(reasons)}, reasons

        gathered = await self._gathered(
            iin, subject=subject, election=election, audit_kind=PRECINCT_CHECK_KIND, context=context
        )
        await self._use_certificate_if_presented(
            gathered,
            subject=subject,
            election=election,
            precinct=precinct,
            directory=directory,
            caller=caller,
            context=context,
        )
        recorded = await self._decide_and_record(
            iin=iin,
            subject=subject,
            election=election,
            audit_kind=PRECINCT_CHECK_KIND,
            context=context,
            present=present,
            gathered=gathered,
        )
        decision, reasons = recorded.result
        return PrecinctCheck(
            check_id,
            election,
            precinct_id,
            not reasons,
            decision,
            reasons,
            recorded.decided_at,
            recorded.receipt,
        )
