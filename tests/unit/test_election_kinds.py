"""Election kinds and territory (SPEC §14) and the calendar (SPEC §15): the pure rules.

One test per row of §14's table: who votes, where, and whether the missions abroad hold it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.domain.day_registration import DayRegistrationRefusal, precinct_refusal
from service.domain.decision import decide
from service.domain.model import (
    CONSTITUTION_2026_FROM,
    ActiveDayRegistration,
    ActiveOverride,
    Basis,
    CalendarChanges,
    Decision,
    Election,
    ElectionKind,
    LegalCapacity,
    LocalWindow,
    NextStepCode,
    Outcome,
    OverrideKind,
    PrecinctKind,
    ReasonCode,
    Registration,
    RegistrationKind,
)
from service.domain.precincts import PrecinctDirectory
from service.domain.window import registration_window
from tests.unit.factories import ELECTION, VOTING_DAY, person, precinct, registration, segment

ALMATY_KATO = "751110000"
ORAL_KATO = "271010000"

ALMATY = precinct("75-0001", segments=(segment("Абай даңғылы", 1, 99),))
ALMATY_DESIGNATED = precinct("75-0002", day_registration=True)
ORAL = precinct(
    "27-0001",
    kato=ORAL_KATO,
    timezone="Asia/Oral",
    day_registration=True,
    segments=(segment("Достық даңғылы", 1, 99),),
)
MISSION = precinct(
    "99-0001",
    kato="000000000",
    kind=PrecinctKind.FOREIGN,
    country="GBR",
    city="London",
    timezone="Europe/London",
)
DIRECTORY = PrecinctDirectory([ALMATY, ALMATY_DESIGNATED, ORAL, MISSION])

AT_HOME = registration(rca=None, kato=ALMATY_KATO, street="Абай даңғылы", house="13")
IN_ORAL = registration(rca=None, kato=ORAL_KATO, street="Достық даңғылы", house="9")
ABROAD = registration(
    kind=RegistrationKind.CONSULAR,
    rca=None,
    kato=None,
    street=None,
    house=None,
    flat=None,
    country="GBR",
    city="London",
)
UNCOVERED_IN_ALMATY = registration(rca=None, kato=ALMATY_KATO, street="Нет такой улицы")
UNCOVERED_IN_ORAL = registration(rca=None, kato=ORAL_KATO, street="Нет такой улицы")


def election(kind: ElectionKind) -> Election:
    return replace(ELECTION, kind=kind, territory=("75",) if kind.is_local else ())


def decided(
    kind: ElectionKind,
    *registrations: Registration,
    override: ActiveOverride | None = None,
    day_registration: ActiveDayRegistration | None = None,
) -> Decision:
    return decide(
        person(),
        registrations,
        election=election(kind),
        directory=DIRECTORY,
        override=override,
        day_registration=day_registration,
    )


def outcome_at_home_and_abroad(
    kind: ElectionKind,
) -> tuple[tuple[Outcome, str | None, tuple[ReasonCode, ...]], ...]:
    return tuple(
        (d.outcome, d.precinct_id, d.reasons)
        for d in (decided(kind, AT_HOME), decided(kind, IN_ORAL), decided(kind, ABROAD))
    )


WHOLE_COUNTRY_AND_ABROAD = (
    (Outcome.ELIGIBLE, "75-0001", ()),
    (Outcome.ELIGIBLE, "27-0001", ()),
    (Outcome.ELIGIBLE, "99-0001", ()),
)


# The table of SPEC §14, row by row.


def test_presidential_election_is_for_all_citizens_in_the_whole_country_and_abroad() -> None:
    assert outcome_at_home_and_abroad(ElectionKind.PRESIDENTIAL) == WHOLE_COUNTRY_AND_ABROAD


def test_kurultai_election_is_for_all_citizens_in_the_whole_country_and_abroad() -> None:
    assert outcome_at_home_and_abroad(ElectionKind.KURULTAI) == WHOLE_COUNTRY_AND_ABROAD


def test_mazhilis_election_is_for_all_citizens_in_the_whole_country_and_abroad() -> None:
    assert outcome_at_home_and_abroad(ElectionKind.MAZHILIS) == WHOLE_COUNTRY_AND_ABROAD


def test_republican_referendum_is_for_all_citizens_in_the_whole_country_and_abroad() -> None:
    assert outcome_at_home_and_abroad(ElectionKind.REFERENDUM) == WHOLE_COUNTRY_AND_ABROAD


def test_senate_election_is_not_decided_for_citizens_at_all() -> None:
    assert not ElectionKind.SENATE.is_by_citizens
    assert not ElectionKind.SENATE.votes_abroad
    with pytest.raises(ValueError, match="not decided for citizens"):
        decided(ElectionKind.SENATE, AT_HOME)


@pytest.mark.parametrize("kind", [ElectionKind.MASLIKHAT, ElectionKind.AKIM])
def test_local_election_lists_voters_of_its_territory_only_and_no_one_abroad(
    kind: ElectionKind,
) -> None:
    assert outcome_at_home_and_abroad(kind) == (
        (Outcome.ELIGIBLE, "75-0001", ()),
        (Outcome.INELIGIBLE, None, (ReasonCode.OUTSIDE_TERRITORY,)),
        (Outcome.INELIGIBLE, None, (ReasonCode.OUTSIDE_TERRITORY,)),
    )


# "parliamentary" and the chambers of each constitution.


def test_parliamentary_means_mazhilis_before_2026_07_01_and_kurultai_from_then_on() -> None:
    day_before = CONSTITUTION_2026_FROM - dt.timedelta(days=1)
    assert ElectionKind.named("parliamentary", voting_day=day_before) is ElectionKind.MAZHILIS
    assert (
        ElectionKind.named("parliamentary", voting_day=CONSTITUTION_2026_FROM)
        is ElectionKind.KURULTAI
    )


@pytest.mark.parametrize(
    ("name", "voting_day", "problem"),
    [
        ("kurultai", dt.date(2026, 6, 30), "kurultai elections are held from 2026-07-01"),
        ("mazhilis", dt.date(2026, 7, 1), "mazhilis elections were held before 2026-07-01"),
        ("senate", dt.date(2026, 8, 30), "senate elections were held before 2026-07-01"),
        ("local", dt.date(2027, 3, 21), "unknown election kind 'local'"),
        ("Presidential", dt.date(2027, 3, 21), "unknown election kind 'Presidential'"),
    ],
)
def test_a_kind_outside_the_closed_list_or_its_constitution_is_refused(
    name: str, voting_day: dt.date, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        ElectionKind.named(name, voting_day=voting_day)


# The territory of a local election.


def test_local_election_refuses_a_voter_whose_only_registration_is_abroad() -> None:
    decision = decided(ElectionKind.MASLIKHAT, ABROAD)
    assert decision.outcome is Outcome.INELIGIBLE
    assert decision.reasons == (ReasonCode.OUTSIDE_TERRITORY,)


def test_local_election_judges_an_uncovered_address_by_its_locality() -> None:
    inside = decided(ElectionKind.MASLIKHAT, UNCOVERED_IN_ALMATY)
    outside = decided(ElectionKind.MASLIKHAT, UNCOVERED_IN_ORAL)
    assert inside.outcome is Outcome.ELIGIBLE
    assert [s.code for s in inside.next_steps] == [NextStepCode.NO_PRECINCT_FOR_ADDRESS]
    assert outside.reasons == (ReasonCode.OUTSIDE_TERRITORY,)


def test_local_election_offers_day_registration_only_at_precincts_of_its_territory() -> None:
    everywhere = decided(ElectionKind.PRESIDENTIAL)
    local = decided(ElectionKind.MASLIKHAT)
    assert local.outcome is Outcome.ELIGIBLE
    assert everywhere.next_steps[0].precinct_ids == ("27-0001", "75-0002")
    assert local.next_steps[0].precinct_ids == ("75-0002",)


def test_local_election_reports_outside_territory_with_the_registry_reasons() -> None:
    minor = decide(
        person(birth_date=VOTING_DAY),
        [IN_ORAL],
        election=election(ElectionKind.AKIM),
        directory=DIRECTORY,
    )
    assert minor.reasons == (ReasonCode.OUTSIDE_TERRITORY, ReasonCode.UNDER_18)


def test_an_override_placing_a_voter_outside_the_territory_does_not_list_them() -> None:
    placed = ActiveOverride("ovr-1", OverrideKind.ASSIGN, "27-0001")
    inside = ActiveOverride("ovr-2", OverrideKind.ASSIGN, "75-0002")
    assert decided(ElectionKind.MASLIKHAT, AT_HOME, override=placed).reasons == (
        ReasonCode.OUTSIDE_TERRITORY,
    )
    moved = decided(ElectionKind.MASLIKHAT, IN_ORAL, override=inside)
    assert (moved.outcome, moved.precinct_id, moved.basis) == (
        Outcome.ELIGIBLE,
        "75-0002",
        Basis.OVERRIDE,
    )


def test_a_court_inclusion_restores_the_right_to_vote_but_not_a_place_in_the_territory() -> None:
    included = ActiveOverride("ovr-1", OverrideKind.INCLUDE, None)
    decision = decide(
        person(legal_capacity=LegalCapacity.INCAPACITATED),
        [IN_ORAL],
        election=election(ElectionKind.MASLIKHAT),
        directory=DIRECTORY,
        override=included,
    )
    assert decision.outcome is Outcome.INELIGIBLE
    assert ReasonCode.OUTSIDE_TERRITORY in decision.reasons


def test_a_day_registration_inside_the_territory_lists_an_unregistered_voter() -> None:
    registered = ActiveDayRegistration("reg-1", "75-0002")
    decision = decided(ElectionKind.MASLIKHAT, day_registration=registered)
    assert (decision.outcome, decision.precinct_id) == (Outcome.ELIGIBLE, "75-0002")


def test_day_registration_is_refused_at_a_designated_precinct_outside_the_territory() -> None:
    on_the_day = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)
    local = election(ElectionKind.MASLIKHAT)
    refusal = precinct_refusal(election=local, precinct=ORAL, now=on_the_day)
    assert refusal is not None
    assert refusal.code is DayRegistrationRefusal.PRECINCT_OUTSIDE_TERRITORY
    assert precinct_refusal(election=local, precinct=ALMATY_DESIGNATED, now=on_the_day) is None


@given(
    kato=st.from_regex(r"[0-9]{9}", fullmatch=True),
    territory=st.lists(st.from_regex(r"[0-9]{1,9}", fullmatch=True), min_size=1, max_size=4),
    kind=st.sampled_from(list(ElectionKind)),
    foreign=st.booleans(),
)
@example(kato="751110000", territory=["7511"], kind=ElectionKind.AKIM, foreign=False)
def test_an_election_is_held_at_a_precinct_exactly_as_its_kind_and_territory_say(
    kato: str, territory: list[str], kind: ElectionKind, foreign: bool
) -> None:
    local = replace(ELECTION, kind=kind, territory=tuple(territory) if kind.is_local else ())
    place = precinct(kind=PrecinctKind.FOREIGN if foreign else PrecinctKind.ORDINARY, kato=kato)
    if foreign:
        expected = kind in {
            ElectionKind.PRESIDENTIAL,
            ElectionKind.KURULTAI,
            ElectionKind.MAZHILIS,
            ElectionKind.REFERENDUM,
        }
    else:
        expected = not kind.is_local or any(kato.startswith(p) for p in territory)
    assert local.holds(place) is expected


# The calendar (SPEC §15).


def test_the_calendar_defaults_count_back_from_voting_day() -> None:
    calendar = replace(ELECTION, called_on=dt.date(2027, 1, 20)).calendar
    assert calendar.applications == LocalWindow(
        dt.datetime(2027, 1, 20, 0, 0), dt.datetime(2027, 2, 20, 0, 0)
    )
    assert calendar.lists_frozen_on == dt.date(2027, 3, 1)
    assert calendar.absentee_certificates == LocalWindow(
        dt.datetime(2027, 3, 6, 0, 0), dt.datetime(2027, 3, 20, 18, 0)
    )
    assert calendar.day_registration == LocalWindow(
        dt.datetime(2027, 3, 21, 7, 0), dt.datetime(2027, 3, 21, 20, 0)
    )


def test_an_election_record_may_move_a_step_of_its_calendar() -> None:
    certificates = LocalWindow(dt.datetime(2027, 3, 1, 9, 0), dt.datetime(2027, 3, 20, 20, 0))
    moved = replace(
        ELECTION,
        called_on=dt.date(2027, 1, 20),
        calendar_changes=CalendarChanges(absentee_certificates=certificates),
    )
    assert moved.calendar.absentee_certificates == certificates
    assert moved.calendar.lists_frozen_on == dt.date(2027, 3, 1)


def test_day_registration_opens_and_closes_as_the_calendar_says_in_the_precincts_zone() -> None:
    window = registration_window(ELECTION, ORAL)
    # Oral keeps UTC+5: 07:00 local is 02:00 UTC.
    assert window.opens_at == dt.datetime(2027, 3, 21, 2, 0, tzinfo=dt.UTC)
    assert window.closes_at == dt.datetime(2027, 3, 21, 15, 0, tzinfo=dt.UTC)


@given(
    voting_day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    days_called_before=st.integers(min_value=31, max_value=200),
)
def test_the_default_steps_come_in_the_order_of_the_law(
    voting_day: dt.date, days_called_before: int
) -> None:
    called = replace(
        ELECTION,
        voting_day=voting_day,
        called_on=voting_day - dt.timedelta(days=days_called_before),
    )
    c = called.calendar
    assert c.applications.opens < c.applications.closes
    assert c.applications.closes.date() <= c.lists_frozen_on
    assert c.lists_frozen_on < c.absentee_certificates.opens.date()
    assert c.absentee_certificates.opens < c.absentee_certificates.closes
    assert c.absentee_certificates.closes < c.day_registration.opens
    assert c.day_registration.opens.date() == voting_day
