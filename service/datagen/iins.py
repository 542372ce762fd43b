"""Unique, valid IINs shaped like real ones: birth date, century and sex digit, serial.

The check digit of SPEC §2 is a weighted sum over a seven-digit head (birth date, century
and sex) and a four-digit serial. Which serials are usable after a head, and their check
digits, depend on the head only through its two weighted sums mod 11: 121 classes. An
issuer tabulates its serials' endings (serial and check digit) once per class, so issuing
an IIN is a few list lookups; a 12-million-person build issues one IIN per person.
The tests check every issued IIN against `service.domain.iin.parse_iin`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import operator
from array import array
from collections.abc import Iterable

_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_HEAD_LENGTH = 7
_CHECK_MODULUS = 11
_UNUSABLE = 10
SERIALS_PER_HEAD = 10_000
_FIRST_BIRTH_YEAR = 1900
_LAST_BIRTH_YEAR = 2099
_FIRST_BIRTH = dt.date(_FIRST_BIRTH_YEAR, 1, 1).toordinal()


def _weighted(digits: Iterable[int], weights: Iterable[int]) -> int:
    return sum(map(operator.mul, digits, weights))


def _tail_class(serial: int) -> int:
    digits = tuple(map(int, f"{serial:04d}"))
    first_sum = _weighted(digits, _FIRST_WEIGHTS[_HEAD_LENGTH:]) % _CHECK_MODULUS
    second_sum = _weighted(digits, _SECOND_WEIGHTS[_HEAD_LENGTH:]) % _CHECK_MODULUS
    return first_sum * _CHECK_MODULUS + second_sum


# A serial's share of both sums mod 11, as a class like a head's.
_TAIL_CLASSES = tuple(_tail_class(serial) for serial in range(SERIALS_PER_HEAD))
_SERIAL_TEXT = tuple(b"%04d" % serial for serial in range(SERIALS_PER_HEAD))
_DIGIT_TEXT = tuple(b"%d" % digit for digit in range(_CHECK_MODULUS))


@functools.cache
def _heads() -> tuple[bytes, bytes]:
    """The heads of every birth date and sex, one after another by key, and their classes.

    A head is YYMMDD, then the century/sex digit: 3 and 4 for 1900s men and women, 5 and 6
    after. The fifth digit is a tens-of-days digit, 0-3, so a head never has a BIN's shape.
    """

    # Each sum is a year's, a month's, a day's and the century digit's share: about 80 ms
    # for 200 years, where a date object and digit tuples per day took 300 ms.
    def shares(number: int, position: int) -> tuple[int, int]:
        digits = divmod(number, 10)
        return (
            _weighted(digits, _FIRST_WEIGHTS[position : position + 2]),
            _weighted(digits, _SECOND_WEIGHTS[position : position + 2]),
        )

    years = [shares(year, 0) for year in range(100)]
    months = [shares(month, 2) for month in range(13)]
    days = [shares(day, 4) for day in range(32)]
    heads = bytearray()
    classes = bytearray()
    for year in range(_FIRST_BIRTH_YEAR, _LAST_BIRTH_YEAR + 1):
        year_first, year_second = years[year % 100]
        for month in range(1, 13):
            month_first, month_second = months[month]
            for day in range(1, calendar.monthrange(year, month)[1] + 1):
                day_first, day_second = days[day]
                date_text = b"%02d%02d%02d" % (year % 100, month, day)
                for female in (0, 1):
                    century_digit = 2 * ((year - 1800) // 100) + 1 + female
                    first_sum = (
                        year_first + month_first + day_first + century_digit * _FIRST_WEIGHTS[6]
                    )
                    second_sum = (
                        year_second + month_second + day_second + century_digit * _SECOND_WEIGHTS[6]
                    )
                    heads += date_text + _DIGIT_TEXT[century_digit]
                    classes.append(
                        first_sum % _CHECK_MODULUS * _CHECK_MODULUS + second_sum % _CHECK_MODULUS
                    )
    return bytes(heads), bytes(classes)


@functools.cache
def _prefixed_heads(prefix: bytes) -> bytes:
    heads, _ = _heads()
    return b"".join(
        prefix + heads[start : start + _HEAD_LENGTH] for start in range(0, len(heads), _HEAD_LENGTH)
    )


class IinIssuer:
    """Hands out each IIN once, skipping serials whose prefix is never issued.

    Issuers given disjoint `serials` never hand out the same IIN, so each can work alone.
    Each IIN comes after `prefix`, which saves the writer a concatenation per line.
    What is kept by key (2 × days since 1900-01-01 + female) is kept in contiguous bytes
    and arrays: a population's 73,000 birth dates and sexes come in random order, and
    lists of objects scattered over the heap cost a cache miss each.
    """

    def __init__(self, serials: range = range(SERIALS_PER_HEAD), *, prefix: bytes = b"") -> None:
        self._serials = serials
        self._width = len(prefix) + _HEAD_LENGTH
        self._heads = _prefixed_heads(prefix)
        self._classes = _heads()[1]
        self._keys = len(self._classes)
        # Tabulated on first use: all 121 classes of 10,000 serials take half a second.
        self._endings: list[tuple[bytes, ...]] = [()] * _CHECK_MODULUS**2
        self._issued = array("H", bytes(2 * self._keys))

    def issue(self, birth_ordinal: int, female: bool) -> bytes:
        """`prefix` and the next unused IIN for a birth date (`date.toordinal()`) and sex."""
        key = 2 * (birth_ordinal - _FIRST_BIRTH) + female
        if not 0 <= key < self._keys:
            raise ValueError("IINs are issued for births from 1900 to 2099 only")
        issued = self._issued[key]
        check_class = self._classes[key]
        endings = self._endings[check_class] or self._endings_of(check_class)
        start = key * self._width
        try:
            iin = self._heads[start : start + self._width] + endings[issued]
        except IndexError:
            raise OverflowError("no serials left for one birth date and sex") from None
        self._issued[key] = issued + 1
        return iin

    def _endings_of(self, check_class: int) -> tuple[bytes, ...]:
        """Serial and check digit of each usable serial after a head of this class."""
        checks = _checks(check_class)
        endings = self._endings[check_class] = tuple(
            _SERIAL_TEXT[serial] + _DIGIT_TEXT[check]
            for serial in self._serials
            if (check := checks[_TAIL_CLASSES[serial]]) != _UNUSABLE
        )
        return endings


@functools.cache
def _checks(head_class: int) -> tuple[int, ...]:
    """The check digit after a head of this class, by tail class; 10 where unusable."""
    head_first, head_second = divmod(head_class, _CHECK_MODULUS)
    checks = []
    for tail_class in range(_CHECK_MODULUS**2):
        tail_first, tail_second = divmod(tail_class, _CHECK_MODULUS)
        check = (head_first + tail_first) % _CHECK_MODULUS
        if check == _UNUSABLE:
            check = (head_second + tail_second) % _CHECK_MODULUS
        checks.append(check)
    return tuple(checks)
