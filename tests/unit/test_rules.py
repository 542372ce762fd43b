import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.model import Custody, LegalCapacity, ReasonCode
from service.domain.rules import coming_of_age, reasons_against, ruleset_for
from tests.unit.factories import VOTING_DAY, person

VD = VOTING_DAY


def test_ordinary_adult_citizen_has_no_reasons() -> None:
    assert reasons_against(person(), voting_day=VD) == ()


def test_absent_from_registry_is_not_found() -> None:
    assert reasons_against(None, voting_day=VD) == (ReasonCode.NOT_FOUND,)


def test_eighteenth_birthday_on_voting_day_is_eligible() -> None:
    born = VD.replace(year=VD.year - 18)
    assert reasons_against(person(birth_date=born), voting_day=VD) == ()


def test_eighteenth_birthday_the_day_after_voting_day_is_under_18() -> None:
    born = VD.replace(year=VD.year - 18) + dt.timedelta(days=1)
    assert reasons_against(person(birth_date=born), voting_day=VD) == (ReasonCode.UNDER_18,)


def test_born_29_february_comes_of_age_on_28_february_in_a_common_year() -> None:
    assert coming_of_age(dt.date(2008, 2, 29)) == dt.date(2026, 2, 28)
    born = person(birth_date=dt.date(2008, 2, 29))
    assert reasons_against(born, voting_day=dt.date(2026, 2, 28)) == ()
    assert reasons_against(born, voting_day=dt.date(2026, 2, 27)) == (ReasonCode.UNDER_18,)


def test_eighteenth_year_after_a_leap_day_is_never_a_leap_year() -> None:
    # 18 is not a multiple of 4, so every leap-day birth comes of age on 28 February.
    for year in (1996, 2000, 2004, 2008, 2012):
        assert coming_of_age(dt.date(year, 2, 29)) == dt.date(year + 18, 2, 28)
    assert coming_of_age(dt.date(2010, 2, 28)) == dt.date(2028, 2, 28)


def test_death_on_voting_day_is_deceased_but_the_day_after_is_not() -> None:
    assert reasons_against(person(death_date=VD), voting_day=VD) == (ReasonCode.DECEASED,)
    later = person(death_date=VD + dt.timedelta(days=1))
    assert reasons_against(later, voting_day=VD) == ()


@pytest.mark.parametrize("citizenship", ["RUS", "XXA", "UZB", "kaz"])
def test_anyone_not_a_kazakh_citizen_is_not_citizen(citizenship: str) -> None:
    assert reasons_against(person(citizenship=citizenship), voting_day=VD) == (
        ReasonCode.NOT_CITIZEN,
    )


def test_court_incapacity_bars() -> None:
    p = person(legal_capacity=LegalCapacity.INCAPACITATED)
    assert reasons_against(p, voting_day=VD) == (ReasonCode.INCAPACITATED_BY_COURT,)


def test_sentence_in_custody_bars_but_pretrial_detention_does_not() -> None:
    assert reasons_against(person(custody=Custody.SENTENCED), voting_day=VD) == (
        ReasonCode.IMPRISONED_BY_SENTENCE,
    )
    assert reasons_against(person(custody=Custody.PRETRIAL), voting_day=VD) == ()


def test_every_applicable_reason_is_returned_sorted() -> None:
    p = person(
        citizenship="RUS",
        birth_date=VD,
        death_date=VD,
        legal_capacity=LegalCapacity.INCAPACITATED,
        custody=Custody.SENTENCED,
    )
    assert reasons_against(p, voting_day=VD) == (
        ReasonCode.DECEASED,
        ReasonCode.IMPRISONED_BY_SENTENCE,
        ReasonCode.INCAPACITATED_BY_COURT,
        ReasonCode.NOT_CITIZEN,
        ReasonCode.UNDER_18,
    )


def test_rule_set_follows_the_constitution_in_force_on_voting_day() -> None:
    assert ruleset_for(dt.date(2026, 6, 30)).version == "kz-1995.1"
    assert ruleset_for(dt.date(2026, 7, 1)).version == "kz-2026.1"


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


@given(birth=dates, day=dates)
def test_under_18_exactly_when_fewer_than_18_birthdays_have_passed(
    birth: dt.date, day: dt.date
) -> None:
    reasons = reasons_against(person(birth_date=birth), voting_day=day)
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    if (birth.month, birth.day) == (2, 29) and (day.month, day.day) == (2, 28):
        # Leap-day birthdays are counted on 28 February when the year has no 29th.
        is_leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
        years += 0 if is_leap else 1
    assert (ReasonCode.UNDER_18 in reasons) == (years < 18)


@given(
    birth=dates,
    day=dates,
    death=st.none() | dates,
    citizenship=st.sampled_from(["KAZ", "RUS", "XXA"]),
    capacity=st.sampled_from(list(LegalCapacity)),
    custody=st.sampled_from(list(Custody)),
)
def test_reasons_are_sorted_unique_and_empty_only_for_eligible_people(
    birth: dt.date,
    day: dt.date,
    death: dt.date | None,
    citizenship: str,
    capacity: LegalCapacity,
    custody: Custody,
) -> None:
    p = person(
        birth_date=birth,
        death_date=death,
        citizenship=citizenship,
        legal_capacity=capacity,
        custody=custody,
    )
    reasons = reasons_against(p, voting_day=day)
    assert list(reasons) == sorted(set(reasons))
    eligible = (
        coming_of_age(birth) <= day
        and (death is None or death > day)
        and citizenship == "KAZ"
        and capacity is LegalCapacity.FULL
        and custody is not Custody.SENTENCED
    )
    assert (reasons == ()) == eligible
