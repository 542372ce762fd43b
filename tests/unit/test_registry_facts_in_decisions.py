"""SPEC §15 in the decision: dated registry facts, and the remedy of a person the registry
does not know."""

import datetime as dt

import pytest

from service.domain.decision import decide
from service.domain.model import (
    ActiveOverride,
    Basis,
    Custody,
    LegalCapacity,
    NextStepCode,
    Outcome,
    OverrideKind,
    Parity,
    ReasonCode,
)
from service.domain.precincts import PrecinctDirectory
from tests.unit.factories import ELECTION, person, precinct, registration, segment

DIRECTORY = PrecinctDirectory([precinct("75-0001", segments=(segment(parity=Parity.ODD),))])
HOME = registration(house="13")
VOTING_DAY = ELECTION.voting_day
DAY = dt.timedelta(days=1)


def test_a_person_the_registry_does_not_know_is_not_found_and_may_apply_to_the_commission() -> None:
    d = decide(None, (), election=ELECTION, directory=DIRECTORY)

    assert (d.outcome, d.reasons) == (Outcome.INELIGIBLE, (ReasonCode.NOT_FOUND,))
    assert [s.code for s in d.next_steps] == [NextStepCode.APPLY_TO_COMMISSION]
    assert d.next_steps[0].precinct_ids == ()


def test_other_reasons_carry_no_remedy() -> None:
    d = decide(person(citizenship="RUS"), (HOME,), election=ELECTION, directory=DIRECTORY)

    assert d.reasons == (ReasonCode.NOT_CITIZEN,)
    assert d.next_steps == ()


def test_an_exclusion_is_the_operators_doing_and_sends_nobody_to_the_commission() -> None:
    exclusion = ActiveOverride("ovr-1", OverrideKind.EXCLUDE, None)

    d = decide(None, (), election=ELECTION, directory=DIRECTORY, override=exclusion)

    assert d.reasons == (ReasonCode.EXCLUDED_BY_OVERRIDE, ReasonCode.NOT_FOUND)
    assert d.next_steps == ()


def test_an_inclusion_of_a_person_the_registry_does_not_know_needs_no_remedy() -> None:
    inclusion = ActiveOverride("ovr-1", OverrideKind.INCLUDE, "75-0001")

    d = decide(None, (), election=ELECTION, directory=DIRECTORY, override=inclusion)

    assert (d.outcome, d.precinct_id, d.basis) == (Outcome.ELIGIBLE, "75-0001", Basis.OVERRIDE)
    assert d.next_steps == ()


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"custody": Custody.SENTENCED, "sentence_ends_on": VOTING_DAY - DAY}, Outcome.ELIGIBLE),
        ({"custody": Custody.SENTENCED, "sentence_ends_on": VOTING_DAY}, Outcome.ELIGIBLE),
        ({"custody": Custody.SENTENCED, "sentence_ends_on": VOTING_DAY + DAY}, Outcome.INELIGIBLE),
        (
            {"legal_capacity": LegalCapacity.INCAPACITATED, "capacity_restored_on": VOTING_DAY},
            Outcome.ELIGIBLE,
        ),
        (
            {
                "legal_capacity": LegalCapacity.INCAPACITATED,
                "capacity_restored_on": VOTING_DAY + DAY,
            },
            Outcome.INELIGIBLE,
        ),
        ({"custody": Custody.PRETRIAL, "custody_since": VOTING_DAY - 30 * DAY}, Outcome.ELIGIBLE),
    ],
    ids=[
        "sentence-ended-the-day-before",
        "sentence-ends-on-voting-day",
        "sentence-ends-the-day-after",
        "capacity-restored-on-voting-day",
        "capacity-restored-the-day-after",
        "pre-trial-detention",
    ],
)
def test_a_voter_whose_bar_has_ended_by_voting_day_is_placed_at_home(
    changes: dict[str, object], outcome: Outcome
) -> None:
    d = decide(person(**changes), (HOME,), election=ELECTION, directory=DIRECTORY)

    assert d.outcome is outcome
    assert d.precinct_id == ("75-0001" if outcome is Outcome.ELIGIBLE else None)
