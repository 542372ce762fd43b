import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.model import PrecinctKind
from service.domain.window import lapse_instant, registration_window
from tests.unit.factories import ELECTION, precinct

ALMATY = precinct("75-0002", timezone="Asia/Almaty", day_registration=True)
AQTAU = precinct("47-0001", timezone="Asia/Aqtau", day_registration=True)
LONDON = precinct("99-0001", kind=PrecinctKind.FOREIGN, timezone="Europe/London")
VOTING_DAY = ELECTION.voting_day


def local(p, hour: int, minute: int, day: dt.date = VOTING_DAY) -> dt.datetime:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(p.timezone))


@pytest.mark.parametrize("where", [ALMATY, AQTAU, LONDON])
@pytest.mark.parametrize(
    ("hour", "minute", "open_"),
    [(6, 59, False), (7, 0, True), (19, 59, True), (20, 0, False), (0, 0, False)],
)
def test_window_is_seven_to_twenty_local_time(where, hour: int, minute: int, open_: bool) -> None:  # type: ignore[no-untyped-def]
    assert registration_window(ELECTION, where).contains(local(where, hour, minute)) is open_


def test_the_same_instant_is_open_in_one_zone_and_closed_in_another() -> None:
    # 07:00 in Almaty (UTC+5) is 02:00 in London: open in one precinct, closed in the other.
    instant = local(ALMATY, 7, 0)
    assert registration_window(ELECTION, ALMATY).contains(instant)
    assert not registration_window(ELECTION, LONDON).contains(instant)


def test_day_before_and_day_after_are_closed() -> None:
    for day in (VOTING_DAY - dt.timedelta(days=1), VOTING_DAY + dt.timedelta(days=1)):
        assert not registration_window(ELECTION, ALMATY).contains(local(ALMATY, 12, 0, day))


def test_registration_lapses_at_local_midnight_after_voting_day() -> None:
    lapse = lapse_instant(ELECTION, ALMATY)
    assert lapse == local(ALMATY, 0, 0, VOTING_DAY + dt.timedelta(days=1))
    assert lapse.tzinfo == dt.UTC


def test_custom_window_is_honoured() -> None:
    from service.domain.model import RegistrationWindow

    election = replace(
        ELECTION, day_registration=RegistrationWindow(dt.time(8, 0), dt.time(18, 30))
    )
    window = registration_window(election, ALMATY)
    assert not window.contains(local(ALMATY, 7, 59))
    assert window.contains(local(ALMATY, 18, 29))
    assert not window.contains(local(ALMATY, 18, 30))


@given(st.datetimes(timezones=st.just(dt.UTC)))
def test_open_exactly_when_local_voting_day_between_open_and_close(instant: dt.datetime) -> None:
    from zoneinfo import ZoneInfo

    here = instant.astimezone(ZoneInfo(ALMATY.timezone))
    expected = here.date() == VOTING_DAY and dt.time(7) <= here.time() < dt.time(20)
    assert registration_window(ELECTION, ALMATY).contains(instant) == expected
