"""SPEC §15 way 2: a special precinct's presence list, in the decision and in the calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.decision import decide, precinct_check_reasons
from service.domain.model import (
    ActiveDayRegistration,
    ActiveListEntry,
    ActiveOverride,
    Basis,
    CalendarChanges,
    Custody,
    ElectionKind,
    ListEntryKind,
    LocalWindow,
    Outcome,
    OverrideKind,
    PrecinctKind,
    ReasonCode,
)
from service.domain.precincts import PrecinctDirectory
from service.domain.window import presence_window
from tests.unit.factories import ELECTION, VOTING_DAY, person, precinct, registration, segment

HOME = precinct("75-0001", segments=(segment(),))
HOSPITAL = precinct("75-0900", kind=PrecinctKind.SPECIAL, buildings=("R-HOSPITAL",))
DAY = precinct("75-0002", day_registration=True)
ORAL_SANATORIUM = precinct(
    "27-0900", kato="271010000", kind=PrecinctKind.SPECIAL, timezone="Asia/Oral"
)
DIRECTORY = PrecinctDirectory([HOME, HOSPITAL, DAY, ORAL_SANATORIUM])
REGISTERED = registration(house="13")

PRESENT = ActiveListEntry("entry-1", ListEntryKind.SPECIAL_PRESENCE, "75-0900")


def run(who=None, regs=(REGISTERED,), election=ELECTION, **standing):  # type: ignore[no-untyped-def]
    return decide(who or person(), regs, election=election, directory=DIRECTORY, **standing)


def test_presence_beats_home_registration() -> None:
    assert run().precinct_id == "75-0001"
    d = run(list_entry=PRESENT)
    assert (d.outcome, d.precinct_id, d.basis, d.override_id) == (
        Outcome.ELIGIBLE,
        "75-0900",
        Basis.SPECIAL_PRESENCE,
        None,
    )
    # Service A at the home precinct: not on its list any more.
    assert precinct_check_reasons(d, precinct_id="75-0001") == ("NOT_IN_PRECINCT",)
    assert precinct_check_reasons(d, precinct_id="75-0900") == ()


def test_override_beats_presence() -> None:
    assign = ActiveOverride("ovr-1", OverrideKind.ASSIGN, "75-0002")
    d = run(list_entry=PRESENT, override=assign)
    assert (d.precinct_id, d.basis, d.override_id) == ("75-0002", Basis.OVERRIDE, "ovr-1")
    exclude = ActiveOverride("ovr-2", OverrideKind.EXCLUDE, None)
    d = run(list_entry=PRESENT, override=exclude)
    assert (d.outcome, d.reasons, d.precinct_id) == (
        Outcome.INELIGIBLE,
        (ReasonCode.EXCLUDED_BY_OVERRIDE,),
        None,
    )


def test_presence_beats_day_registration() -> None:
    day = ActiveDayRegistration("reg-1", "75-0002")
    d = run(regs=(), list_entry=PRESENT, day_registration=day)
    assert (d.precinct_id, d.basis) == ("75-0900", Basis.SPECIAL_PRESENCE)


def test_bars_still_apply_to_a_voter_on_a_presence_list() -> None:
    d = run(who=person(custody=Custody.SENTENCED), list_entry=PRESENT)
    assert (d.outcome, d.reasons, d.precinct_id, d.basis) == (
        Outcome.INELIGIBLE,
        (ReasonCode.IMPRISONED_BY_SENTENCE,),
        None,
        None,
    )


def test_a_presence_entry_outside_a_local_elections_territory_is_outside_territory() -> None:
    local = replace(ELECTION, kind=ElectionKind.MASLIKHAT, territory=("75",))
    inside = ActiveListEntry("entry-2", ListEntryKind.SPECIAL_PRESENCE, "75-0900")
    outside = ActiveListEntry("entry-3", ListEntryKind.SPECIAL_PRESENCE, "27-0900")
    assert run(election=local, list_entry=inside).precinct_id == "75-0900"
    d = run(election=local, list_entry=outside)
    assert (d.outcome, d.reasons) == (Outcome.INELIGIBLE, (ReasonCode.OUTSIDE_TERRITORY,))


def test_a_mission_application_places_the_voter_at_the_mission() -> None:
    """SPEC §15 way 6; a local election is not voted abroad: outside its territory."""
    application = ActiveListEntry("entry-4", ListEntryKind.MISSION_APPLICATION, "99-0001")
    d = run(list_entry=application)
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        "99-0001",
        Basis.MISSION_APPLICATION,
    )
    local = replace(ELECTION, kind=ElectionKind.MASLIKHAT, territory=("75",))
    assert run(election=local, list_entry=application).reasons == (ReasonCode.OUTSIDE_TERRITORY,)


@given(
    house=st.integers(min_value=1, max_value=99),
    day=st.booleans(),
    sentenced=st.booleans(),
)
def test_an_eligible_voter_on_a_presence_list_is_always_listed_at_its_precinct(
    house: int, day: bool, sentenced: bool
) -> None:
    d = run(
        who=person(custody=Custody.SENTENCED if sentenced else Custody.NONE),
        regs=(registration(house=str(house)),),
        list_entry=PRESENT,
        day_registration=ActiveDayRegistration("reg-1", "75-0002") if day else None,
    )
    if sentenced:
        assert (d.outcome, d.precinct_id) == (Outcome.INELIGIBLE, None)
    else:
        assert (d.outcome, d.precinct_id, d.basis) == (
            Outcome.ELIGIBLE,
            "75-0900",
            Basis.SPECIAL_PRESENCE,
        )


# The window: until 18:00 on E-1, in the precinct's zone.

E_MINUS_1 = VOTING_DAY - dt.timedelta(days=1)


def local(p, day: dt.date, hour: int, minute: int = 0, second: int = 0, micro: int = 0):  # type: ignore[no-untyped-def]
    at = dt.datetime.combine(day, dt.time(hour, minute, second, micro), tzinfo=ZoneInfo(p.timezone))
    return at.astimezone(dt.UTC)


CALLED = replace(ELECTION, called_on=dt.date(2027, 1, 20))


@pytest.mark.parametrize("where", [HOSPITAL, ORAL_SANATORIUM])
@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        ((dt.date(2027, 1, 19), 23, 59, 59, 999999), False),  # before the call
        ((dt.date(2027, 1, 20), 0, 0, 0, 0), True),  # first instant
        ((E_MINUS_1, 17, 59, 59, 999999), True),  # last instant
        ((E_MINUS_1, 18, 0, 0, 0), False),  # after
    ],
)
def test_presence_window_edges_in_the_precincts_zone(where, instant, open_: bool) -> None:  # type: ignore[no-untyped-def]
    assert presence_window(CALLED, where).contains(local(where, *instant)) is open_


def test_presence_window_without_a_call_date_opens_when_the_lists_are_handed_over() -> None:
    window = ELECTION.calendar.presence_lists
    assert window == LocalWindow(dt.datetime(2027, 3, 1, 0, 0), dt.datetime(2027, 3, 20, 18, 0))


def test_an_election_record_may_move_the_presence_window() -> None:
    moved = LocalWindow(dt.datetime(2027, 3, 10, 9, 0), dt.datetime(2027, 3, 20, 12, 0))
    election = replace(CALLED, calendar_changes=CalendarChanges(presence_lists=moved))
    assert election.calendar.presence_lists == moved
    assert not presence_window(election, HOSPITAL).contains(local(HOSPITAL, E_MINUS_1, 12))


@given(
    voting_day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    days_called_before=st.integers(min_value=21, max_value=200),
)
def test_presence_lists_close_before_voting_day_opens(
    voting_day: dt.date, days_called_before: int
) -> None:
    election = replace(
        ELECTION,
        voting_day=voting_day,
        called_on=voting_day - dt.timedelta(days=days_called_before),
    )
    c = election.calendar
    assert c.presence_lists.opens < c.presence_lists.closes
    assert c.presence_lists.closes < c.day_registration.opens
    assert c.presence_lists.closes == dt.datetime.combine(
        voting_day - dt.timedelta(days=1), dt.time(18, 0)
    )


def test_a_place_of_stay_application_places_the_voter_at_its_precinct() -> None:
    """SPEC §15 way 3: the application moves the voter; a bar of §3 still holds."""
    application = ActiveListEntry("entry-5", ListEntryKind.PLACE_OF_STAY_APPLICATION, "75-0002")
    d = run(list_entry=application)
    assert (d.outcome, d.precinct_id, d.basis) == (
        Outcome.ELIGIBLE,
        "75-0002",
        Basis.PLACE_OF_STAY_APPLICATION,
    )
    assert run(regs=(), list_entry=application).precinct_id == "75-0002"
    barred = run(who=person(custody=Custody.SENTENCED), list_entry=application)
    assert (barred.outcome, barred.precinct_id) == (Outcome.INELIGIBLE, None)
