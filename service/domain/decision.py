"""The eligibility decision: rules of SPEC §3, then precinct assignment of SPEC §4."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.model import (
    HOME_COUNTRY,
    Basis,
    Decision,
    Election,
    NextStep,
    NextStepCode,
    Outcome,
    Person,
    Precinct,
    Registration,
    RegistrationKind,
)
from service.domain.precincts import PrecinctDirectory
from service.domain.rules import reasons_against, ruleset_for


@dataclass(frozen=True, slots=True)
class Assignment:
    precinct: Precinct | None
    basis: Basis | None
    next_steps: tuple[NextStep, ...] = ()


def _latest(registrations: Sequence[Registration]) -> Registration | None:
    # Several valid registrations of one kind are a registry anomaly; the most recent wins,
    # with the address code as a tie-break so the answer never depends on input order.
    if not registrations:
        return None
    return max(registrations, key=lambda r: (r.valid_from, r.rca or "", r.street or ""))


def assign_precinct(
    registrations: Sequence[Registration], *, election: Election, directory: PrecinctDirectory
) -> Assignment:
    """Steps 3-7 of SPEC §4 for an eligible voter (overrides and day registration come first)."""
    valid = [r for r in registrations if r.is_valid_on(election.voting_day)]

    def of_kind(kind: RegistrationKind) -> Registration | None:
        at_home = kind is not RegistrationKind.CONSULAR
        return _latest(
            [r for r in valid if r.kind is kind and (r.country == HOME_COUNTRY) == at_home]
        )

    uncovered = Assignment(None, None, (NextStep(NextStepCode.NO_PRECINCT_FOR_ADDRESS),))
    for kind, basis in (
        (RegistrationKind.PERMANENT, Basis.PERMANENT_REGISTRATION),
        (RegistrationKind.TEMPORARY, Basis.TEMPORARY_REGISTRATION),
    ):
        registration = of_kind(kind)
        if registration is not None:
            precinct = directory.covering(registration)
            return Assignment(precinct, basis) if precinct else uncovered

    consular = of_kind(RegistrationKind.CONSULAR)
    if consular is not None:
        precinct = directory.serving_abroad(consular)
        return Assignment(precinct, Basis.CONSULAR_REGISTRATION) if precinct else uncovered

    return Assignment(
        None,
        None,
        (
            NextStep(
                NextStepCode.DAY_REGISTRATION_AVAILABLE,
                directory.designated_for_day_registration,
            ),
        ),
    )


def decide(
    person: Person | None,
    registrations: Sequence[Registration],
    *,
    election: Election,
    directory: PrecinctDirectory,
) -> Decision:
    """Decide one person's eligibility for one election as of its voting day."""
    ruleset = ruleset_for(election.voting_day)
    reasons = reasons_against(person, voting_day=election.voting_day)
    data_as_of = person.data_as_of if person else None
    if reasons:
        return Decision(Outcome.INELIGIBLE, reasons, None, None, (), ruleset.version, data_as_of)
    assignment = assign_precinct(registrations, election=election, directory=directory)
    return Decision(
        outcome=Outcome.ELIGIBLE,
        reasons=(),
        precinct_id=assignment.precinct.id if assignment.precinct else None,
        basis=assignment.basis,
        next_steps=assignment.next_steps,
        ruleset=ruleset.version,
        registry_data_as_of=data_as_of,
    )
