"""The tests' monotonic clock: a number of seconds the test moves by hand."""

from __future__ import annotations


class FakeClock:
    """Stands in for ``time.monotonic``: call it for now, ``advance`` it to let time pass."""

    def __init__(self, seconds: float = 1000.0) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
