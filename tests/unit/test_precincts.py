import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from service.domain.decision import decide
from service.domain.model import (
    Basis,
    NextStepCode,
    Outcome,
    Parity,
    PrecinctKind,
    ReasonCode,
    RegistrationKind,
    Segment,
)
from service.domain.precincts import (
    ConflictKind,
    PrecinctDirectory,
    find_conflicts,
    house_number,
    segment_covers,
    segments_overlap,
)
from tests.unit.factories import ELECTION, VOTING_DAY, person, precinct, registration, segment

ODD = precinct("75-0001", segments=(segment(parity=Parity.ODD),))
EVEN = precinct("75-0002", segments=(segment(parity=Parity.EVEN),), day_registration=True)
HOSPITAL = precinct("75-0900", kind=PrecinctKind.SPECIAL, buildings=("0203000999990001",))
LONDON = precinct(
    "99-0001",
    kind=PrecinctKind.FOREIGN,
    country="GBR",
    city="London",
    timezone="Europe/London",
    kato="000000000",
    day_registration=True,
)
DIRECTORY = PrecinctDirectory([ODD, EVEN, HOSPITAL, LONDON])


def decide_for(*registrations, who=None):  # type: ignore[no-untyped-def]
    return decide(who or person(), registrations, election=ELECTION, directory=DIRECTORY)


def test_house_numbers_match_on_their_leading_integer() -> None:
    assert house_number("12А") == 12
    assert house_number("7/2") == 7
    assert house_number("А12") is None
    assert house_number(None) is None


def test_odd_side_of_the_street_goes_to_the_odd_precinct() -> None:
    d = decide_for(registration(house="13"))
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        "75-0001",
        Basis.PERMANENT_REGISTRATION,
    )


def test_letter_suffix_uses_the_number_before_it() -> None:
    assert decide_for(registration(house="12А")).precinct_id == "75-0002"


def test_explicit_building_wins_over_a_segment() -> None:
    building = precinct("75-0003", buildings=("0203000123450001",))
    directory = PrecinctDirectory([ODD, EVEN, building])
    d = decide(person(), [registration(house="13")], election=ELECTION, directory=directory)
    assert d.precinct_id == "75-0003"


def test_same_street_in_another_locality_is_not_covered() -> None:
    d = decide_for(registration(kato="751120000", rca="x"))
    assert d.precinct_id is None
    assert d.next_steps[0].code is NextStepCode.NO_PRECINCT_FOR_ADDRESS


def test_institution_is_covered_by_its_special_precinct() -> None:
    assert decide_for(registration(rca="0203000999990001", street="x")).precinct_id == "75-0900"


def test_temporary_registration_is_used_only_without_a_valid_permanent_one() -> None:
    temporary = registration(kind=RegistrationKind.TEMPORARY, house="13", rca="t")
    expired = registration(house="14", valid_until=VOTING_DAY - dt.timedelta(days=1))
    d = decide_for(expired, temporary)
    assert (d.precinct_id, d.basis) == ("75-0001", Basis.TEMPORARY_REGISTRATION)
    d = decide_for(registration(house="14"), temporary)
    assert (d.precinct_id, d.basis) == ("75-0002", Basis.PERMANENT_REGISTRATION)


def test_registration_valid_until_voting_day_still_counts() -> None:
    d = decide_for(registration(house="14", valid_until=VOTING_DAY))
    assert d.basis is Basis.PERMANENT_REGISTRATION


def test_registration_starting_after_voting_day_does_not_count() -> None:
    d = decide_for(registration(valid_from=VOTING_DAY + dt.timedelta(days=1)))
    assert d.precinct_id is None
    assert d.next_steps[0].code is NextStepCode.DAY_REGISTRATION_AVAILABLE


def test_consular_registration_goes_to_the_foreign_precinct_of_that_city() -> None:
    abroad = registration(
        kind=RegistrationKind.CONSULAR,
        country="GBR",
        city="London",
        rca=None,
        kato=None,
        street=None,
        house=None,
        flat=None,
    )
    d = decide_for(abroad)
    assert (d.precinct_id, d.basis) == ("99-0001", Basis.CONSULAR_REGISTRATION)


def test_consular_registration_in_a_city_without_a_precinct_is_unassigned() -> None:
    abroad = registration(
        kind=RegistrationKind.CONSULAR,
        country="FRA",
        city="Paris",
        rca=None,
        kato=None,
        street=None,
        house=None,
        flat=None,
    )
    d = decide_for(abroad)
    assert d.outcome is Outcome.ELIGIBLE
    assert d.precinct_id is None
    assert d.next_steps[0].code is NextStepCode.NO_PRECINCT_FOR_ADDRESS


def test_voter_without_registered_address_is_eligible_but_unassigned() -> None:
    d = decide_for()
    assert (d.outcome, d.precinct_id, d.basis) == (Outcome.ELIGIBLE, None, None)
    step = d.next_steps[0]
    assert step.code is NextStepCode.DAY_REGISTRATION_AVAILABLE
    # Foreign precincts are never designated for day registration.
    assert step.precinct_ids == ("75-0002",)


def test_ineligible_decision_has_no_precinct_and_no_basis() -> None:
    d = decide_for(registration(house="13"), who=person(citizenship="RUS"))
    assert (d.outcome, d.reasons, d.precinct_id, d.basis, d.next_steps) == (
        Outcome.INELIGIBLE,
        (ReasonCode.NOT_CITIZEN,),
        None,
        None,
        (),
    )


def test_not_found_decision_has_no_registry_timestamp() -> None:
    d = decide(None, [], election=ELECTION, directory=DIRECTORY)
    assert d.reasons == (ReasonCode.NOT_FOUND,)
    assert d.registry_data_as_of is None


def test_overlapping_segments_of_two_precincts_are_conflicts() -> None:
    a = precinct("75-0001", segments=(segment(first=1, last=51, parity=Parity.ODD),))
    b = precinct("75-0002", segments=(segment(first=51, last=99, parity=Parity.ALL),))
    c = precinct("75-0003", segments=(segment(first=2, last=98, parity=Parity.EVEN),))
    conflicts = find_conflicts([a, b, c])
    assert [(x.kind, x.precinct_ids) for x in conflicts] == [
        (ConflictKind.SEGMENT, ("75-0001", "75-0002")),
        (ConflictKind.SEGMENT, ("75-0002", "75-0003")),
    ]


def test_building_listed_by_two_precincts_is_a_conflict() -> None:
    a = precinct("75-0001", buildings=("R1",))
    b = precinct("75-0002", buildings=("R1",))
    [conflict] = find_conflicts([a, b])
    assert (conflict.kind, conflict.precinct_ids, conflict.building) == (
        ConflictKind.BUILDING,
        ("75-0001", "75-0002"),
        "R1",
    )


def test_same_street_name_in_different_localities_does_not_conflict() -> None:
    a = precinct("75-0001", segments=(segment(),))
    b = precinct("75-0002", kato="751120000", segments=(segment(),))
    assert find_conflicts([a, b]) == []


def test_odd_and_even_sides_of_one_range_do_not_conflict() -> None:
    assert find_conflicts([ODD, EVEN, HOSPITAL, LONDON]) == []


segments = st.builds(
    lambda a, b, p: Segment("s", min(a, b), max(a, b), p),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from(list(Parity)),
)


@given(segments, segments)
def test_segments_overlap_exactly_when_some_house_is_in_both(a: Segment, b: Segment) -> None:
    brute = any(segment_covers(a, n) and segment_covers(b, n) for n in range(0, 62))
    assert segments_overlap(a, b) == brute
    assert segments_overlap(b, a) == brute


# --- SPEC §15, way 7: which registration places the voter ------------------------------------

EDINBURGH = precinct(
    "99-0002",
    kind=PrecinctKind.FOREIGN,
    country="GBR",
    city="Edinburgh",
    timezone="Europe/London",
    kato="000000000",
)
ISTANBUL = precinct(
    "99-0010",
    kind=PrecinctKind.FOREIGN,
    country="TUR",
    city="Istanbul",
    timezone="Europe/Istanbul",
    kato="000000000",
)
ANKARA = precinct(
    "99-0011",
    kind=PrecinctKind.FOREIGN,
    country="TUR",
    city="Ankara",
    timezone="Europe/Istanbul",
    kato="000000000",
)
ABROAD = PrecinctDirectory([ODD, EVEN, LONDON, EDINBURGH, ISTANBUL, ANKARA])


def consular(country: str, city: str, **changes):  # type: ignore[no-untyped-def]
    return registration(
        kind=RegistrationKind.CONSULAR,
        country=country,
        city=city,
        rca=None,
        kato=None,
        street=None,
        house=None,
        flat=None,
        **changes,
    )


def decide_abroad(*registrations):  # type: ignore[no-untyped-def]
    return decide(person(), registrations, election=ELECTION, directory=ABROAD)


def test_a_consular_voter_in_a_city_without_a_mission_votes_at_their_countrys_mission() -> None:
    d = decide_abroad(consular("GBR", "Manchester"))
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        "99-0001",
        Basis.CONSULAR_REGISTRATION,
    )


def test_a_consular_voter_in_a_city_with_a_mission_votes_there() -> None:
    assert decide_abroad(consular("GBR", "Edinburgh")).precinct_id == "99-0002"
    assert decide_abroad(consular("TUR", "Istanbul")).precinct_id == "99-0010"


def test_a_consular_voter_in_a_third_city_goes_to_the_first_mission_of_the_country_by_id() -> None:
    # The data files carry no consular districts: the choice is at least the same every time.
    assert decide_abroad(consular("TUR", "Antalya")).precinct_id == "99-0010"


def test_a_consular_voter_in_a_country_without_a_mission_is_unassigned() -> None:
    d = decide_abroad(consular("FRA", "Paris"))
    assert (d.outcome, d.precinct_id) == (Outcome.ELIGIBLE, None)
    assert [s.code for s in d.next_steps] == [NextStepCode.NO_PRECINCT_FOR_ADDRESS]


def test_a_consular_registration_that_started_after_the_permanent_one_wins() -> None:
    home = registration(house="13", valid_from=dt.date(2015, 3, 1))
    abroad = consular("GBR", "London", valid_from=dt.date(2022, 9, 1))
    d = decide_abroad(home, abroad)
    assert (d.precinct_id, d.basis) == ("99-0001", Basis.CONSULAR_REGISTRATION)


def test_a_permanent_registration_that_started_after_the_consular_one_wins() -> None:
    abroad = consular("GBR", "London", valid_from=dt.date(2015, 3, 1))
    home = registration(house="13", valid_from=dt.date(2022, 9, 1))
    d = decide_abroad(home, abroad)
    assert (d.precinct_id, d.basis) == ("75-0001", Basis.PERMANENT_REGISTRATION)


def test_a_consular_registration_from_the_same_day_as_the_permanent_one_does_not_win() -> None:
    home = registration(house="13", valid_from=dt.date(2022, 9, 1))
    abroad = consular("GBR", "London", valid_from=dt.date(2022, 9, 1))
    assert decide_abroad(home, abroad).precinct_id == "75-0001"


def test_a_permanent_address_no_precinct_covers_falls_through_to_the_temporary_one() -> None:
    uncovered = registration(kato="751120000", rca="x")
    temporary = registration(kind=RegistrationKind.TEMPORARY, house="13", rca="t")
    d = decide_for(uncovered, temporary)
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        "75-0001",
        Basis.TEMPORARY_REGISTRATION,
    )
    assert d.next_steps == ()


def test_home_addresses_no_precinct_covers_fall_through_to_the_consular_one() -> None:
    abroad = consular("GBR", "London", valid_from=dt.date(2010, 1, 1))
    uncovered = registration(kato="751120000", rca="x")
    d = decide_abroad(uncovered, abroad)
    assert (d.precinct_id, d.basis) == ("99-0001", Basis.CONSULAR_REGISTRATION)


def test_a_consular_voter_whose_country_has_no_mission_falls_back_to_the_home_address() -> None:
    home = registration(house="13", valid_from=dt.date(2015, 3, 1))
    abroad = consular("FRA", "Paris", valid_from=dt.date(2022, 9, 1))
    d = decide_abroad(home, abroad)
    assert (d.precinct_id, d.basis) == ("75-0001", Basis.PERMANENT_REGISTRATION)


def test_when_no_registration_is_covered_the_strongest_is_named() -> None:
    uncovered = registration(kato="751120000", rca="x")
    temporary = registration(kind=RegistrationKind.TEMPORARY, kato="751120000", rca="y")
    d = decide_for(uncovered, temporary)
    assert d.precinct_id is None
    assert [s.code for s in d.next_steps] == [NextStepCode.NO_PRECINCT_FOR_ADDRESS]


@given(
    permanent=st.booleans(),
    permanent_covered=st.booleans(),
    temporary=st.booleans(),
    temporary_covered=st.booleans(),
    consular_at=st.sampled_from([None, "London", "Manchester", "Paris"]),
    consular_later=st.booleans(),
)
def test_a_voter_with_any_covered_registration_is_placed_by_one_of_them(
    permanent: bool,
    permanent_covered: bool,
    temporary: bool,
    temporary_covered: bool,
    consular_at: str | None,
    consular_later: bool,
) -> None:
    held = []
    if permanent:
        held.append(
            registration(house="13", rca=None, kato=None if not permanent_covered else ODD.kato)
        )
    if temporary:
        held.append(
            registration(
                kind=RegistrationKind.TEMPORARY,
                house="14",
                rca=None,
                kato=EVEN.kato if temporary_covered else "751120000",
            )
        )
    if consular_at is not None:
        country = "FRA" if consular_at == "Paris" else "GBR"
        since = dt.date(2020, 1, 1) if consular_later else dt.date(2010, 1, 1)
        held.append(consular(country, consular_at, valid_from=since))
    d = decide_abroad(*held)
    covered = (
        (permanent and permanent_covered)
        or (temporary and temporary_covered)
        or consular_at in ("London", "Manchester")
    )
    assert d.outcome is Outcome.ELIGIBLE
    assert (d.precinct_id is not None) == covered
    if d.precinct_id is None:
        expected = (
            NextStepCode.NO_PRECINCT_FOR_ADDRESS
            if held
            else NextStepCode.DAY_REGISTRATION_AVAILABLE
        )
        assert [s.code for s in d.next_steps] == [expected]
