import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.domain.model import Custody, LegalCapacity, Person, ReasonCode
from service.domain.rules import (
    CONSTITUTION_1995,
    CONSTITUTION_2026,
    coming_of_age,
    holds_on,
    is_incapacitated_on,
    is_serving_sentence_on,
    reasons_against,
    ruleset_for,
)
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
    assert ruleset_for(dt.date(2026, 6, 30)).version == "kz-1995.3"
    assert ruleset_for(dt.date(2026, 7, 1)).version == "kz-2026.3"


def test_the_1995_rule_set_cites_the_articles_of_the_constitution_and_the_elections_law() -> None:
    basis = CONSTITUTION_1995.legal_basis
    law = "Constitutional Law On Elections of 28.09.1995 No. 2464"
    assert basis[ReasonCode.NOT_CITIZEN] == f"Constitution 1995 Art. 33 p.2; {law} Art. 4 p.1"
    assert basis[ReasonCode.UNDER_18] == f"{law} Art. 4 p.1"
    for bar in (ReasonCode.INCAPACITATED_BY_COURT, ReasonCode.IMPRISONED_BY_SENTENCE):
        assert basis[bar] == f"Constitution 1995 Art. 33 p.3; {law} Art. 4 p.3"


def test_the_2026_rule_set_says_where_an_article_number_is_not_confirmed() -> None:
    # No invented numbers: each reference of the new Constitution names the provision by
    # what it says and states that its number is not confirmed.
    for text in CONSTITUTION_2026.legal_basis.values():
        assert "article number not confirmed" in text
        assert "Constitution 2026 Art." not in text


def test_both_rule_sets_cover_the_same_bars_of_law() -> None:
    bars = {
        ReasonCode.NOT_CITIZEN,
        ReasonCode.UNDER_18,
        ReasonCode.INCAPACITATED_BY_COURT,
        ReasonCode.IMPRISONED_BY_SENTENCE,
    }
    assert set(CONSTITUTION_1995.legal_basis) == bars
    assert set(CONSTITUTION_2026.legal_basis) == bars


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


# Dated registry facts (SPEC §15): each bar as of voting day.

DAY = dt.timedelta(days=1)


def _sentenced(ends_on: dt.date | None, since: dt.date | None = dt.date(2024, 1, 10)) -> Person:
    return person(custody=Custody.SENTENCED, custody_since=since, sentence_ends_on=ends_on)


def _incapacitated(restored_on: dt.date | None, since: dt.date | None = None) -> Person:
    return person(
        legal_capacity=LegalCapacity.INCAPACITATED,
        incapacitated_since=since,
        capacity_restored_on=restored_on,
    )


@pytest.mark.parametrize(
    ("ends_on", "reasons"),
    [
        (VD - DAY, ()),
        (VD, ()),
        (VD + DAY, (ReasonCode.IMPRISONED_BY_SENTENCE,)),
        (None, (ReasonCode.IMPRISONED_BY_SENTENCE,)),
    ],
    ids=["ends-the-day-before", "ends-on-voting-day", "ends-the-day-after", "no-end-known"],
)
def test_a_sentence_ending_on_or_before_voting_day_is_not_a_bar(
    ends_on: dt.date | None, reasons: tuple[ReasonCode, ...]
) -> None:
    assert reasons_against(_sentenced(ends_on), voting_day=VD) == reasons


def test_a_sentence_that_starts_after_voting_day_did_not_bar_that_day() -> None:
    later = _sentenced(VD + 400 * DAY, since=VD + DAY)
    assert reasons_against(later, voting_day=VD) == ()
    assert reasons_against(later, voting_day=VD + DAY) == (ReasonCode.IMPRISONED_BY_SENTENCE,)


@pytest.mark.parametrize(
    ("restored_on", "reasons"),
    [
        (VD - DAY, ()),
        (VD, ()),
        (VD + DAY, (ReasonCode.INCAPACITATED_BY_COURT,)),
        (None, (ReasonCode.INCAPACITATED_BY_COURT,)),
    ],
    ids=["restored-the-day-before", "restored-on-voting-day", "restored-the-day-after", "not"],
)
def test_capacity_restored_by_voting_day_is_not_a_bar(
    restored_on: dt.date | None, reasons: tuple[ReasonCode, ...]
) -> None:
    assert reasons_against(_incapacitated(restored_on), voting_day=VD) == reasons


def test_incapacity_declared_after_voting_day_did_not_bar_that_day() -> None:
    declared = _incapacitated(None, since=VD + DAY)
    assert reasons_against(declared, voting_day=VD) == ()
    assert reasons_against(declared, voting_day=VD + DAY) == (ReasonCode.INCAPACITATED_BY_COURT,)


def test_a_restored_capacity_still_bars_a_voting_day_inside_the_incapacity() -> None:
    # The registry says "full" now; its dates say the person was incapable from 2020 to 2026.
    restored = person(
        legal_capacity=LegalCapacity.FULL,
        incapacitated_since=dt.date(2020, 5, 1),
        capacity_restored_on=dt.date(2026, 2, 1),
    )
    assert reasons_against(restored, voting_day=dt.date(2024, 3, 10)) == (
        ReasonCode.INCAPACITATED_BY_COURT,
    )
    assert reasons_against(restored, voting_day=VD) == ()


def test_pre_trial_detention_is_never_a_bar_whatever_its_dates() -> None:
    detained = person(custody=Custody.PRETRIAL, custody_since=VD - 30 * DAY)
    assert reasons_against(detained, voting_day=VD) == ()
    stale = person(custody=Custody.PRETRIAL, custody_since=VD - DAY, sentence_ends_on=VD + DAY)
    assert reasons_against(stale, voting_day=VD) == ()


def test_a_fact_holds_from_its_first_day_and_has_ended_on_its_end_day() -> None:
    since, until = dt.date(2027, 1, 1), dt.date(2027, 3, 21)
    assert not holds_on(since - DAY, since=since, until=until)
    assert holds_on(since, since=since, until=until)
    assert holds_on(until - DAY, since=since, until=until)
    assert not holds_on(until, since=since, until=until)
    assert holds_on(dt.date.min, since=None, until=None)


optional_dates = st.none() | dates


@given(day=dates, since=optional_dates, until=optional_dates)
def test_holds_on_exactly_between_its_dates(
    day: dt.date, since: dt.date | None, until: dt.date | None
) -> None:
    after_start = since is None or since <= day
    before_end = until is None or day < until
    assert holds_on(day, since=since, until=until) == (after_start and before_end)


@given(
    day=dates,
    custody=st.sampled_from(list(Custody)),
    since=optional_dates,
    ends=optional_dates,
)
@example(day=VD, custody=Custody.SENTENCED, since=None, ends=VD)
def test_only_a_sentence_running_on_voting_day_bars(
    day: dt.date, custody: Custody, since: dt.date | None, ends: dt.date | None
) -> None:
    p = person(custody=custody, custody_since=since, sentence_ends_on=ends)
    barred = ReasonCode.IMPRISONED_BY_SENTENCE in reasons_against(p, voting_day=day)
    assert barred == is_serving_sentence_on(p, day)
    if custody is Custody.PRETRIAL or (ends is not None and ends <= day):
        assert not barred
    if (
        custody is Custody.SENTENCED
        and (since is None or since <= day)
        and (ends is None or day < ends)
    ):
        assert barred


@given(
    day=dates,
    capacity=st.sampled_from(list(LegalCapacity)),
    since=optional_dates,
    restored=optional_dates,
)
@example(day=VD, capacity=LegalCapacity.INCAPACITATED, since=None, restored=VD)
def test_only_an_incapacity_unrestored_on_voting_day_bars(
    day: dt.date,
    capacity: LegalCapacity,
    since: dt.date | None,
    restored: dt.date | None,
) -> None:
    p = person(legal_capacity=capacity, incapacitated_since=since, capacity_restored_on=restored)
    barred = ReasonCode.INCAPACITATED_BY_COURT in reasons_against(p, voting_day=day)
    assert barred == is_incapacitated_on(p, day)
    if restored is not None and restored <= day:
        assert not barred
    if capacity is LegalCapacity.FULL and restored is None:
        assert not barred
    if (
        capacity is LegalCapacity.INCAPACITATED
        and (since is None or since <= day)
        and (restored is None or day < restored)
    ):
        assert barred


@given(
    day=dates,
    later=st.integers(min_value=0, max_value=20_000),
    custody_since=optional_dates,
    ends=optional_dates,
    incapacitated_since=optional_dates,
    restored=optional_dates,
)
def test_once_a_dated_bar_has_ended_no_later_voting_day_brings_it_back(
    day: dt.date,
    later: int,
    custody_since: dt.date | None,
    ends: dt.date | None,
    incapacitated_since: dt.date | None,
    restored: dt.date | None,
) -> None:
    p = person(
        custody=Custody.SENTENCED,
        custody_since=custody_since,
        sentence_ends_on=ends,
        legal_capacity=LegalCapacity.INCAPACITATED,
        incapacitated_since=incapacitated_since,
        capacity_restored_on=restored,
    )
    after = day + dt.timedelta(days=later)
    dated = {ReasonCode.IMPRISONED_BY_SENTENCE, ReasonCode.INCAPACITATED_BY_COURT}
    before_bars = set(reasons_against(p, voting_day=day)) & dated
    after_bars = set(reasons_against(p, voting_day=after)) & dated
    for bar, end in (
        (ReasonCode.IMPRISONED_BY_SENTENCE, ends),
        (ReasonCode.INCAPACITATED_BY_COURT, restored),
    ):
        if end is not None and end <= day:
            assert bar not in before_bars
            assert bar not in after_bars
