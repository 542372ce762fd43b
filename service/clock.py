"""The service's notion of "now", injectable by configuration (VOTER_CLOCK_FIXED)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """Stands still at one instant: demos and tests stand inside or outside a window."""

    def __init__(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a fixed clock needs an instant with a UTC offset")
        self._instant = instant.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._instant


def clock_from(fixed: dt.datetime | None) -> Clock:
    return SystemClock() if fixed is None else FixedClock(fixed)
