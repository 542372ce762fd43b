"""The eligibility decision: rules of SPEC §3, then precinct assignment of SPEC §4."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.absentee import CertificateAtPrecinct
from service.domain.model import (
    HOME_COUNTRY,
    ActiveDayRegistration,
    ActiveListEntry,
    ActiveOverride,
    Basis,
    Decision,
    Election,
    ListEntryKind,
    NextStep,
    NextStepCode,
    Outcome,
    OverrideKind,
    Person,
    Precinct,
    ReasonCode,
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
    # The registration the precinct was looked up for, if any.
    registration: Registration | None = None


def _latest(registrations: Sequence[Registration]) -> Registration | None:
    # Several valid registrations of one kind are a registry anomaly; the most recent wins,
    # with the address code as a tie-break so the answer never depends on input order.
    if not registrations:
        return None
    return max(registrations, key=lambda r: (r.valid_from, r.rca or "", r.street or ""))


def _in_order_of_precedence(valid: Sequence[Registration]) -> list[Registration]:
    """The voter's registrations, strongest first (SPEC §15, way 7).

    Permanent in Kazakhstan, then temporary, then consular; but a consular registration that
    started after the permanent one comes first: the voter has moved abroad since, and a
    home address nobody deregistered does not call them back.
    """

    def latest(kind: RegistrationKind) -> Registration | None:
        at_home = kind is not RegistrationKind.CONSULAR
        return _latest(
            [r for r in valid if r.kind is kind and (r.country == HOME_COUNTRY) == at_home]
        )

    permanent = latest(RegistrationKind.PERMANENT)
    temporary = latest(RegistrationKind.TEMPORARY)
    consular = latest(RegistrationKind.CONSULAR)
    moved_abroad = (
        consular is not None
        and permanent is not None
        and consular.valid_from > permanent.valid_from
    )
    ordered = [consular, permanent, temporary] if moved_abroad else [permanent, temporary, consular]
    return [r for r in ordered if r is not None]


_BASIS = {
    RegistrationKind.PERMANENT: Basis.PERMANENT_REGISTRATION,
    RegistrationKind.TEMPORARY: Basis.TEMPORARY_REGISTRATION,
    RegistrationKind.CONSULAR: Basis.CONSULAR_REGISTRATION,
}


def assign_precinct(
    registrations: Sequence[Registration], *, election: Election, directory: PrecinctDirectory
) -> Assignment:
    """Step 7 of SPEC §15 for an eligible voter (overrides and day registration come first).

    The strongest registration whose address a precinct covers places the voter: a permanent
    address no precinct covers does not end the search while a temporary or consular one
    places them. Only when none does is the voter unassigned, named by the strongest.
    """
    valid = [r for r in registrations if r.is_valid_on(election.voting_day)]
    ordered = _in_order_of_precedence(valid)
    for registration in ordered:
        precinct = (
            directory.serving_abroad(registration)
            if registration.kind is RegistrationKind.CONSULAR
            else directory.covering(registration)
        )
        if precinct is not None:
            return Assignment(precinct, _BASIS[registration.kind], (), registration)
    if ordered:
        return Assignment(None, None, (NextStep(NextStepCode.NO_PRECINCT_FOR_ADDRESS),), ordered[0])

    return Assignment(
        None,
        None,
        (
            NextStep(
                NextStepCode.DAY_REGISTRATION_AVAILABLE,
                directory.designated_within(election.territory)
                if election.kind.is_local
                else directory.designated_for_day_registration,
            ),
        ),
    )


def outside_territory(
    registrations: Sequence[Registration],
    *,
    election: Election,
    directory: PrecinctDirectory,
    placed_at: str | None,
) -> tuple[ReasonCode, ...]:
    """``OUTSIDE_TERRITORY`` when a local election is not held where the voter is listed
    (SPEC §14); empty otherwise, and always for the kinds that cover the whole country.

    ``placed_at`` is the precinct an operator or a day registration put the voter at, if
    any; otherwise the registrations decide. Without a precinct the registered address
    does (a consular registration is never inside a territory); a voter with no
    registration anywhere may still register on the day inside it.
    """
    if not election.kind.is_local:
        return ()
    registration = None
    if placed_at is None:
        assignment = assign_precinct(registrations, election=election, directory=directory)
        placed_at = assignment.precinct.id if assignment.precinct else None
        registration = assignment.registration
    if placed_at is not None:
        # A precinct the directory does not know cannot be shown to lie inside.
        precinct = directory.get(placed_at)
        inside = precinct is not None and election.holds(precinct)
    elif registration is None:
        inside = True
    elif registration.kind is RegistrationKind.CONSULAR or registration.country != HOME_COUNTRY:
        inside = False
    else:
        inside = election.covers_kato(registration.kato)
    return () if inside else (ReasonCode.OUTSIDE_TERRITORY,)


# Someone the registry does not know may still be a citizen with the right to vote: the
# precinct commission hears them with their identity document (SPEC §15).
_APPLY_TO_COMMISSION = (NextStep(NextStepCode.APPLY_TO_COMMISSION),)


_VOTE_WITH_CERTIFICATE = (NextStep(NextStepCode.VOTE_WITH_ABSENTEE_CERTIFICATE),)
# The entries that place a voter at their own precinct, and the basis they give.
_ENTRY_BASIS = {
    ListEntryKind.SPECIAL_PRESENCE: Basis.SPECIAL_PRESENCE,
    ListEntryKind.PLACE_OF_STAY_APPLICATION: Basis.PLACE_OF_STAY_APPLICATION,
    ListEntryKind.MISSION_APPLICATION: Basis.MISSION_APPLICATION,
}


def remedies_for(reasons: tuple[ReasonCode, ...]) -> tuple[NextStep, ...]:
    """What an ineligible voter can do about these reasons; empty when nothing."""
    return _APPLY_TO_COMMISSION if ReasonCode.NOT_FOUND in reasons else ()


def decide(
    person: Person | None,
    registrations: Sequence[Registration],
    *,
    election: Election,
    directory: PrecinctDirectory,
    override: ActiveOverride | None = None,
    day_registration: ActiveDayRegistration | None = None,
    list_entry: ActiveListEntry | None = None,
) -> Decision:
    """Decide one person's eligibility for one election as of its voting day.

    Precedence follows SPEC §15: an active override, then a list entry (a special precinct's
    presence list, a place-of-stay application, an absentee certificate, a mission
    application), then an active day registration, then the registrations. A voter holds
    one entry or day registration at most (one place), so SPEC's order of the day
    registration before the mission application never has to choose. A decision an override
    changed says ``basis: override`` and carries the override's id; an override that changed
    nothing is not mentioned. A list entry places a voter, it does not cure a bar of §3; for
    a local election its precinct must lie in the territory.
    """
    if not election.kind.is_by_citizens:
        raise ValueError(f"{election.kind.value} elections are not decided for citizens")
    ruleset = ruleset_for(election.voting_day)
    reasons = reasons_against(person, voting_day=election.voting_day)
    data_as_of = person.data_as_of if person else None

    def ineligible(
        codes: tuple[ReasonCode, ...],
        basis: Basis | None = None,
        next_steps: tuple[NextStep, ...] = (),
    ) -> Decision:
        override_id = override.id if basis is Basis.OVERRIDE and override else None
        return Decision(
            Outcome.INELIGIBLE,
            codes,
            None,
            basis,
            next_steps,
            ruleset.version,
            data_as_of,
            override_id,
        )

    def eligible(
        precinct_id: str | None,
        basis: Basis | None,
        next_steps: tuple[NextStep, ...] = (),
        override_id: str | None = None,
    ) -> Decision:
        return Decision(
            Outcome.ELIGIBLE,
            (),
            precinct_id,
            basis,
            next_steps,
            ruleset.version,
            data_as_of,
            override_id,
        )

    kind = override.kind if override else None
    if override is not None and kind is not OverrideKind.EXCLUDE and override.precinct_id:
        placed_at: str | None = override.precinct_id
    elif list_entry is not None:
        # A certificate not used yet: the home precinct that issued it stands for the voter
        # (it lies in the territory, as every precinct where it may be used does).
        placed_at = list_entry.used_at or list_entry.precinct_id
    else:
        placed_at = day_registration.precinct_id if day_registration else None
    # Not curable by an inclusion: a court restores a right to vote, not a place on a list
    # of another territory.
    territory = outside_territory(
        registrations, election=election, directory=directory, placed_at=placed_at
    )
    if override is not None and kind is OverrideKind.EXCLUDE:
        return ineligible(
            tuple(sorted({*reasons, *territory, ReasonCode.EXCLUDED_BY_OVERRIDE})),
            Basis.OVERRIDE,
        )
    if territory or (reasons and kind is not OverrideKind.INCLUDE):
        barred = tuple(sorted({*reasons, *territory}))
        return ineligible(barred, next_steps=remedies_for(barred))
    if override is not None and override.precinct_id is not None:
        return eligible(override.precinct_id, Basis.OVERRIDE, override_id=override.id)
    if list_entry is not None and list_entry.kind is ListEntryKind.ABSENTEE_CERTIFICATE:
        # Off the home list; on the list of the precinct where it was presented, once it was.
        if list_entry.used_at is not None:
            return eligible(list_entry.used_at, Basis.ABSENTEE_CERTIFICATE)
        return eligible(None, Basis.ABSENTEE_CERTIFICATE, _VOTE_WITH_CERTIFICATE)
    if list_entry is not None:
        return eligible(list_entry.precinct_id, _ENTRY_BASIS[list_entry.kind])
    if day_registration is not None:
        return eligible(day_registration.precinct_id, Basis.DAY_REGISTRATION)
    assignment = assign_precinct(registrations, election=election, directory=directory)
    precinct_id = assignment.precinct.id if assignment.precinct else None
    if reasons and override is not None:
        # An inclusion overrode the registry: the outcome is the override's doing.
        return eligible(precinct_id, Basis.OVERRIDE, assignment.next_steps, override.id)
    return eligible(precinct_id, assignment.basis, assignment.next_steps)


# Service A (SPEC §5): why a voter is not on the list of the precinct checked.
NOT_IN_PRECINCT = "NOT_IN_PRECINCT"
NO_PRECINCT = "NO_PRECINCT"


def precinct_check_reasons(
    decision: Decision, *, precinct_id: str, certificate: CertificateAtPrecinct | None = None
) -> tuple[str, ...]:
    """Why a voter is not on this precinct's list; empty when they are.

    ``certificate`` is what the voter's absentee certificate means at this precinct, for a
    certificate holder (``service.domain.absentee.certificate_at``).
    """
    if decision.outcome is not Outcome.ELIGIBLE:
        return tuple(r.value for r in decision.reasons)
    if certificate is not None and decision.basis is Basis.ABSENTEE_CERTIFICATE:
        refusal = certificate.refusal
        if refusal is not None:
            return (refusal,)
    if decision.precinct_id is None:
        return (NO_PRECINCT,)
    if decision.precinct_id != precinct_id:
        return (NOT_IN_PRECINCT,)
    return ()
