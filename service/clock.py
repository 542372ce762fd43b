"""The service's notion of "now", injectable by configuration (VOTER_CLOCK_FIXED).

Two clocks, two purposes. The service clock is the legal time of decisions: decided_at, the
voting-day windows, the audit entries' recorded_at; a demo or a test may fix it. Real time is
what has to keep moving whatever that clock says: how long ago the audit log was last signed,
and so when the next checkpoint is due. That one is always a ``SystemClock``, read from
``time.time`` unless a test hands it a clock of its own to move.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    """Real time: ``seconds`` since the epoch, ``time.time`` unless a test moves its own."""

    def __init__(self, seconds: Callable[[], float] = time.time) -> None:
        self._seconds = seconds

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._seconds(), dt.UTC)


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
