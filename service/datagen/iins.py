"""Unique, valid IINs shaped like real ones: birth date, century and sex digit, serial.

`service.domain.iin.complete_iin` costs about 5 µs, a minute of a 12-million-person build,
so the weighted sums of SPEC §2 are split into a part for the first seven digits, computed
once per birth date and sex, and a part for the four-digit serial, tabulated up front.
The tests check every issued IIN against `service.domain.iin.parse_iin`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_HEAD_LENGTH = 7
SERIALS_PER_HEAD = 10_000
_UNUSABLE = 10


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


_SERIAL_TEXT = tuple(f"{serial:04d}" for serial in range(SERIALS_PER_HEAD))
_TAILS = tuple(
    (
        _weighted(f"{serial:04d}", _FIRST_WEIGHTS[_HEAD_LENGTH:]),
        _weighted(f"{serial:04d}", _SECOND_WEIGHTS[_HEAD_LENGTH:]),
    )
    for serial in range(SERIALS_PER_HEAD)
)


def iin_head(birth_date: dt.date, *, female: bool) -> str:
    """YYMMDD and the century/sex digit (3 and 4 for 1900s men and women, 5 and 6 after).

    The fifth digit is a tens-of-days digit, 0-3, so the result never has a BIN's shape.
    """
    if not 1800 <= birth_date.year <= 2099:
        raise ValueError("IINs encode births from 1800 to 2099 only")
    century_digit = 2 * ((birth_date.year - 1800) // 100) + 1 + int(female)
    return f"{birth_date:%y%m%d}{century_digit}"


class _Head(NamedTuple):
    text: str
    first_sum: int
    second_sum: int


@functools.cache
def _head(key: int) -> _Head:
    # Shared by every issuer in the process: about 73,000 birth dates and sexes in all.
    birth_ordinal, female = divmod(key, 2)
    text = iin_head(dt.date.fromordinal(birth_ordinal), female=bool(female))
    return _Head(text, _weighted(text, _FIRST_WEIGHTS), _weighted(text, _SECOND_WEIGHTS))


@dataclass(slots=True)
class _Progress:
    """One issuer's next serial for one head, next to the head's sums for a single lookup."""

    text: str
    first_sum: int
    second_sum: int
    next_serial: int


class IinIssuer:
    """Hands out each IIN once, skipping serials whose prefix is never issued.

    Issuers given disjoint `serials` never hand out the same IIN, so each can work alone.
    """

    def __init__(self, serials: range = range(SERIALS_PER_HEAD)) -> None:
        self._first_serial = serials.start
        self._stop_serial = serials.stop
        self._progress: dict[int, _Progress] = {}

    def issue(self, birth_ordinal: int, female: bool) -> str:
        """The next unused IIN for a birth date (as `date.toordinal()`) and sex."""
        key = 2 * birth_ordinal + female
        progress = self._progress.get(key)
        if progress is None:
            progress = _Progress(*_head(key), next_serial=self._first_serial)
            self._progress[key] = progress
        serial = progress.next_serial
        while serial < self._stop_serial:
            tail_first, tail_second = _TAILS[serial]
            check = (progress.first_sum + tail_first) % 11
            if check == _UNUSABLE:
                check = (progress.second_sum + tail_second) % 11
            serial += 1
            if check != _UNUSABLE:
                progress.next_serial = serial
                return f"{progress.text}{_SERIAL_TEXT[serial - 1]}{check}"
        raise OverflowError("no serials left for one birth date and sex")
