"""Deadline arithmetic for day registration (SPEC §6), in the precinct's own time zone.

A voter in Almaty at 06:59 local time is refused even though it is already 07:00 in zones
further east: the window is a pair of local wall-clock times on voting day, turned into
instants with the precinct's IANA zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from service.domain.model import Election, LocalWindow, Precinct


@dataclass(frozen=True, slots=True)
class Window:
    opens_at: dt.datetime
    closes_at: dt.datetime

    def contains(self, instant: dt.datetime) -> bool:
        """Opening instant inclusive, closing instant exclusive."""
        return self.opens_at <= instant < self.closes_at


def _local_instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def at_precinct(window: LocalWindow, precinct: Precinct) -> Window:
    """A calendar step (SPEC §15) as instants, in the precinct's own time zone."""
    zone = ZoneInfo(precinct.timezone)
    return Window(
        opens_at=_local_instant(window.opens.date(), window.opens.time(), zone),
        closes_at=_local_instant(window.closes.date(), window.closes.time(), zone),
    )


def registration_window(election: Election, precinct: Precinct) -> Window:
    return at_precinct(election.calendar.day_registration, precinct)


def presence_window(election: Election, precinct: Precinct) -> Window:
    """When a special precinct's presence list may be imported (SPEC §15): until 18:00 on
    E-1 in the precinct's zone."""
    return at_precinct(election.calendar.presence_lists, precinct)


def application_window(election: Election, precinct: Precinct) -> Window:
    """When a place-of-stay application may be accepted (SPEC §15): from the call of the
    election until 23:59 on E-30, in the zone of the precinct covering the stay address."""
    return at_precinct(election.calendar.applications, precinct)


def mission_window(election: Election, mission: Precinct) -> Window:
    """When a mission records an application of a citizen staying abroad briefly (SPEC
    §15): by default until 18:00 on E-1, mission time."""
    return at_precinct(election.calendar.mission_applications, mission)


def certificate_window(election: Election, precinct: Precinct) -> Window:
    """When the commission of the voter's home precinct may issue an absentee certificate
    (SPEC §15): from 00:00 on E-15 until 18:00 on E-1 in that precinct's zone."""
    return at_precinct(election.calendar.absentee_certificates, precinct)


def lapse_instant(election: Election, precinct: Precinct) -> dt.datetime:
    """00:00 local time on the day after voting day: the registration no longer counts."""
    next_day = election.voting_day + dt.timedelta(days=1)
    return _local_instant(next_day, dt.time(0, 0), ZoneInfo(precinct.timezone))
