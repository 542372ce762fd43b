"""SPEC §4 precedence: an active override, then a day registration, then registrations."""

from service.domain.decision import decide
from service.domain.model import (
    ActiveDayRegistration,
    ActiveOverride,
    Basis,
    Custody,
    LegalCapacity,
    Outcome,
    OverrideKind,
    Parity,
    ReasonCode,
)
from service.domain.precincts import PrecinctDirectory
from tests.unit.factories import ELECTION, person, precinct, registration, segment

ODD = precinct("75-0001", segments=(segment(parity=Parity.ODD),))
SPECIAL = precinct("75-0900", buildings=("R-HOSPITAL",))
DAY = precinct("75-0002", day_registration=True)
DIRECTORY = PrecinctDirectory([ODD, SPECIAL, DAY])
HOME = registration(house="13")


def run(who=None, regs=(HOME,), override=None, day=None):  # type: ignore[no-untyped-def]
    return decide(
        who or person(),
        regs,
        election=ELECTION,
        directory=DIRECTORY,
        override=override,
        day_registration=day,
    )


def test_assign_places_an_eligible_voter_and_names_the_override() -> None:
    d = run(override=ActiveOverride("ovr-1", OverrideKind.ASSIGN, "75-0900"))
    assert (d.outcome, d.precinct_id, d.basis, d.override_id) == (
        Outcome.ELIGIBLE,
        "75-0900",
        Basis.OVERRIDE,
        "ovr-1",
    )


def test_assign_does_not_make_an_ineligible_voter_eligible() -> None:
    d = run(
        who=person(citizenship="RUS"),
        override=ActiveOverride("ovr-1", OverrideKind.ASSIGN, "75-0900"),
    )
    assert (d.outcome, d.reasons, d.precinct_id, d.basis, d.override_id) == (
        Outcome.INELIGIBLE,
        (ReasonCode.NOT_CITIZEN,),
        None,
        None,
        None,
    )


def test_exclude_makes_an_eligible_voter_ineligible_with_basis_override() -> None:
    d = run(override=ActiveOverride("ovr-2", OverrideKind.EXCLUDE, None))
    assert (d.outcome, d.reasons, d.precinct_id, d.basis, d.override_id) == (
        Outcome.INELIGIBLE,
        (ReasonCode.EXCLUDED_BY_OVERRIDE,),
        None,
        Basis.OVERRIDE,
        "ovr-2",
    )


def test_exclude_keeps_the_registry_reasons_too() -> None:
    d = run(
        who=person(custody=Custody.SENTENCED),
        override=ActiveOverride("ovr-2", OverrideKind.EXCLUDE, None),
    )
    assert d.reasons == (ReasonCode.EXCLUDED_BY_OVERRIDE, ReasonCode.IMPRISONED_BY_SENTENCE)


def test_include_makes_an_ineligible_voter_eligible_at_the_registered_precinct() -> None:
    d = run(
        who=person(legal_capacity=LegalCapacity.INCAPACITATED),
        override=ActiveOverride("ovr-3", OverrideKind.INCLUDE, None),
    )
    assert (d.outcome, d.reasons, d.precinct_id, d.basis, d.override_id) == (
        Outcome.ELIGIBLE,
        (),
        "75-0001",
        Basis.OVERRIDE,
        "ovr-3",
    )


def test_include_with_a_precinct_also_places_the_voter() -> None:
    d = run(
        who=person(legal_capacity="incapacitated"),
        regs=(),  # type: ignore[arg-type]
        override=ActiveOverride("ovr-3", OverrideKind.INCLUDE, "75-0900"),
    )
    assert (d.outcome, d.precinct_id, d.basis) == (Outcome.ELIGIBLE, "75-0900", Basis.OVERRIDE)


def test_include_that_changed_nothing_is_not_mentioned() -> None:
    d = run(override=ActiveOverride("ovr-3", OverrideKind.INCLUDE, None))
    assert (d.precinct_id, d.basis, d.override_id) == (
        "75-0001",
        Basis.PERMANENT_REGISTRATION,
        None,
    )


def test_day_registration_places_a_voter_without_registration() -> None:
    d = run(regs=(), day=ActiveDayRegistration("reg-1", "75-0002"))
    assert (d.outcome, d.precinct_id, d.basis, d.next_steps) == (
        Outcome.ELIGIBLE,
        "75-0002",
        Basis.DAY_REGISTRATION,
        (),
    )


def test_override_wins_over_day_registration() -> None:
    d = run(
        regs=(),
        day=ActiveDayRegistration("reg-1", "75-0002"),
        override=ActiveOverride("ovr-1", OverrideKind.ASSIGN, "75-0900"),
    )
    assert (d.precinct_id, d.basis) == ("75-0900", Basis.OVERRIDE)


def test_day_registration_does_not_make_an_ineligible_voter_eligible() -> None:
    d = run(who=person(citizenship="RUS"), regs=(), day=ActiveDayRegistration("reg-1", "75-0002"))
    assert (d.outcome, d.precinct_id, d.basis) == (Outcome.INELIGIBLE, None, None)
